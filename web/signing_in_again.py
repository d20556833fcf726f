"""What a console form said when its session had ended, carried through signing in again rather than lost.

The form comes back inside the sign-in page as hidden fields (never stored: it is the sender's own, and a
cross-site POST never gets this far, `SecurityHeaders`); once signed in, the person sees what they typed,
with the new session's token, and sends it from there: nothing is recorded without that second look, and its
one-time submission id still makes sending it twice record it once."""

from __future__ import annotations

from web.forms import typed_again

CARRIED = "carry:"
NEXT = "next"
NOT_CARRIED = ("csrf", "email", "password")
"""A form's token is the ended session's (the new one's replaces it); sign-in fields are never carried."""


def carry(path: str, form: dict[str, str]) -> list[tuple[str, str]]:
    """The hidden fields the sign-in page holds: the form's own path and fields."""
    if not is_console_form(path):
        return []
    return [(NEXT, path), *((CARRIED + k, v) for k, v in form.items() if k not in NOT_CARRIED)]


def carried(form: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    """The path and fields a sign-in form carried, or None."""
    path = form.get(NEXT, "")
    fields = {
        name: v
        for k, v in form.items()
        if k.startswith(CARRIED)
        and (name := k.removeprefix(CARRIED))
        and name.isprintable()
        and name not in (*NOT_CARRIED, NEXT)
        and not name.startswith(CARRIED)
    }
    if not fields or not is_console_form(path):
        return None
    return path, typed_again(fields)


def is_console_form(path: str) -> bool:
    """A path of this console's own (never another site's, nor a link page's): one line, under /console/."""
    parts = path.split("/")
    return (
        path.startswith("/console/")
        and path.isascii()
        and path.isprintable()
        and len(path) <= 300
        and not any(p in ("", ".", "..") for p in parts[1:])  # no '//', '/./' or '/../' leading elsewhere
        and not any(c in path for c in "\\?#% ")
    )
