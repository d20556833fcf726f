"""What a sign-in form may carry back (`web.signing_in_again`): only a path of the console's own forms, so the
page shown after signing in again can send what was typed nowhere else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from web.signing_in_again import carried, is_console_form


@given(path=st.one_of(st.text(max_size=80), st.text(max_size=60).map(lambda t: "/console/" + t)))
def test_only_a_plain_console_path_is_carried(path: str) -> None:
    if is_console_form(path):
        assert path.startswith("/console/") and "/../" not in path + "/" and "//" not in path
        assert path.isascii() and not any(c in path for c in "?#%\\ ")


def test_what_a_sign_in_form_carries_back() -> None:
    form = {"next": "/console/e/UWC-2026-ABCDEF/act", "carry:reasons": "typed", "email": "x", "password": "y"}
    path, typed = carried(form) or ("", {})
    assert path == "/console/e/UWC-2026-ABCDEF/act" and typed["reasons"] == "typed" and "password" not in typed
    smuggled = {**form, "carry:csrf": "EVIL", "carry:password": "p", "carry:carry:x": "1", "carry:": "", "carry:next": "/x"}
    assert set(carried(smuggled)[1]) <= {"reasons", "submission"}  # type: ignore[index]
    for elsewhere in ("https://evil.example/console/", "/console/../r/token", "//evil.example/console/x"):
        assert carried({**form, "next": elsewhere}) is None
