"""Link signing with key rotation, and settings read from the environment."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.contacts import Role
from links.signing import LinkGrant, LinkKeys, LinkRefused, sign_link, verify_link
from settings import Settings

GRANT = LinkGrant(
    "UWC-2026-ABCDEF",
    "primarycare.contracts@kmicb.example",
    Role.PAYER,
    (datetime.now(UTC) + timedelta(days=9)).replace(microsecond=0),
)


def test_links_survive_key_rotation_until_the_old_key_is_dropped() -> None:
    before = LinkKeys(current="2025", keys={"2025": b"old-secret-0123456789"})
    during = LinkKeys(current="2026", keys={"2026": b"new-secret-0123456789", "2025": b"old-secret-0123456789"})
    after = LinkKeys(current="2026", keys={"2026": b"new-secret-0123456789"})
    old_link, new_link = sign_link(before, GRANT), sign_link(during, GRANT)
    assert verify_link(during, old_link) == GRANT and verify_link(after, new_link) == GRANT
    with pytest.raises(LinkRefused):
        verify_link(after, old_link)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "TEMPORAL_ADDRESS": "temporal.example:7233",
        "TEMPORAL_NAMESPACE": "lmc-prod",
        "DATABASE_URL": "postgresql://db/lmc",
        "SMTP_HOST": "smtp.example",
        "SMTP_PORT": "587",
        "SMTP_STARTTLS": "true",
        "LINK_KEYS": "a:0123456789abcdef,b:fedcba9876543210",
        "LINK_KEY_ID": "b",
        "BASE_URL": "https://lmc.example",
        "TEMPORAL_TLS_CERT": "/certs/client.pem",
        "VAR_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.temporal_address, settings.temporal_namespace, settings.database) == (
        "temporal.example:7233",
        "lmc-prod",
        "postgresql://db/lmc",
    )
    assert settings.smtp_port == 587 and settings.smtp_starttls and settings.base_url == "https://lmc.example"
    assert settings.link_keys.current == "b" and set(settings.link_keys.keys) == {"a", "b"}
    assert settings.temporal_tls_cert == Path("/certs/client.pem")
    monkeypatch.setenv("LINK_KEY_ID", "zzz")
    with pytest.raises(ValueError, match="LINK_KEY_ID"):
        _ = Settings(_env_file=None).link_keys  # type: ignore[call-arg]


def test_the_embedded_default_needs_no_environment(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert settings.database == f"sqlite:///{tmp_path / 'escalations.db'}"
    first = settings.link_keys
    assert Settings(var_dir=tmp_path, _env_file=None).link_keys == first  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "mail_from",
    [
        "LMC <escalations@lmc.example>\nBcc: everyone@example.org",
        "no address at all",
        "LMC <escalatiöns@lmc.example>",
        "escalations@lmc.example, someone@else.example",
        "LMC <escalations@lmc.example>, Other <other@else.example>",
        "group: escalations@lmc.example, other@else.example;",
        "LMC <escalations@lmc.example> and more",
    ],
)
def test_a_mail_from_no_email_could_carry_is_refused_at_start_naming_it(tmp_path: Path, mail_from: str) -> None:
    """Refused when the engine starts, where it had made every email unsendable (or, a line break, written a header
    of its own)."""
    with pytest.raises(ValueError) as refused:
        Settings(_env_file=None, var_dir=tmp_path, mail_from=mail_from)  # type: ignore[call-arg]
    assert "mail_from" in str(refused.value) and "one address on one line" in str(refused.value)


@pytest.mark.parametrize(
    "mail_from",
    ["Comité LMC <escalations@lmc.example>", '"LMC, Kent" <escalations@lmc.example>', "escalations@lmc.example"],
)
def test_one_mail_from_address_however_it_is_named_is_taken(tmp_path: Path, mail_from: str) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, mail_from=mail_from)  # type: ignore[call-arg]
    assert settings.mail_from == mail_from


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("MAIL_FROM", "LMC Escalations", "MAIL_FROM: must be one address on one line"),
        ("SMTP_PORT", "abc", "SMTP_PORT: Input should be a valid integer"),
    ],
)
def test_a_refused_setting_is_said_on_one_line_naming_its_variable_and_the_cli_exits_2(
    tmp_path: Path, variable: str, value: str, said: str
) -> None:
    import subprocess
    import sys

    from settings import ROOT

    env = {**os.environ, "VAR_DIR": str(tmp_path), variable: value}
    done = subprocess.run(
        [sys.executable, str(ROOT / "starter.py"), "list"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line, no traceback
    assert done.stderr.startswith(f"Refused: the settings: {said}")
