"""Runtime settings from the environment (all optional: the embedded defaults run as is),
and the LMC's escalation configuration from `config/escalations.toml`."""

from __future__ import annotations

import re
import secrets
import sys
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from domain.configuration import EscalationConfig


ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class LinkKeys:
    """The key that signs new links, and every key still accepted (rotation: add the new key,
    make it current, drop the old one once its links have expired)."""

    current: str
    keys: dict[str, bytes]

    @classmethod
    def single(cls, key: bytes, key_id: str = "default") -> LinkKeys:
        return cls(current=key_id, keys={key_id: key})


_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\\\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
"""An address as a From: line carries one (the full rules are email-validator's, which `starter.py list` does not
import: a process starts in a fraction of a second)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    var_dir: Path = ROOT / "var"
    config_file: Path = ROOT / "config" / "escalations.toml"

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "escalations"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    health_bind: str = ""  # e.g. "0.0.0.0:8081": the worker answers /livez and /readyz there
    metrics_bind: str = ""  # e.g. "0.0.0.0:9464": the worker serves Prometheus metrics there

    database_url: str = ""  # empty: SQLite at var/escalations.db

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "LMC Escalations <escalations@lmc.example>"
    message_id_domain: str = "escalations.lmc.example"

    payload_keys: str = ""  # "id:base64,…": encrypt Temporal payloads (see payload_codec.py)
    payload_key_id: str = ""

    base_url: str = "http://127.0.0.1:8000"
    dev_mail_browser: bool = False  # `make run` turns it on: /dev/mail shows var/mail/ in the browser
    link_secret: str = ""  # empty: generated once into var/link-secret
    link_keys_spec: str = Field(default="", alias="link_keys")  # "id:secret,…" for rotation
    link_key_id: str = ""  # which of LINK_KEYS signs new links
    link_valid_days: int = 120
    session_idle_minutes: int = Field(default=30, ge=1)  # a console session unused this long ends
    session_lifetime_hours: int = Field(default=8, ge=1)  # and none lasts longer than this
    session_secret: str = ""  # signs console sessions; empty: generated once into var/session-secret

    temporal_tls_cert: Path | None = None  # client certificate and key for a managed Temporal service
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'escalations.db'}"

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    @cached_property
    def link_keys(self) -> LinkKeys:
        """LINK_KEYS and LINK_KEY_ID when rotating; else LINK_SECRET; else a generated secret."""
        if self.link_keys_spec:
            keys = {}
            for part in filter(None, (p.strip() for p in self.link_keys_spec.split(","))):
                key_id, _, secret = part.partition(":")
                if not key_id or len(secret) < 16:
                    raise ValueError(f"LINK_KEYS: entry '{key_id}' must be id:secret of 16 characters or more")
                keys[key_id] = secret.encode()
            current = self.link_key_id or next(iter(keys))
            if current not in keys:
                raise ValueError(f"LINK_KEY_ID: '{current}' is not among LINK_KEYS")
            return LinkKeys(current=current, keys=keys)
        return LinkKeys.single(self._default_link_secret())

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_lifetime_hours)

    @cached_property
    def session_key(self) -> bytes:
        return self.session_secret.encode() if self.session_secret else self._generated("session-secret")

    @field_validator("mail_from")
    @classmethod
    def _mail_from_is_one_address(cls, value: str) -> str:
        """Every email's From: refused at start, in words, rather than making every email unsendable later, or
        (a comma, a line break) naming more senders than one."""
        _, address = parseaddr(value)
        written = value.strip()
        named = written[: -len(address) - 2].strip() if written.endswith(f"<{address}>") else None
        one = written == address or (
            named is not None
            and "<" not in named
            and ("," not in named or (named.startswith('"') and named.endswith('"')))  # a comma only in quotes
        )
        one = one and _ADDRESS.fullmatch(address) is not None and address.isascii()
        from domain.identifiers import check_header_text  # the one rule for what a header can carry

        try:
            check_header_text(value)
        except ValueError:
            one = False
        if not one:
            raise ValueError(
                "must be one address on one line, its address in plain ASCII, "
                "e.g. 'LMC Escalations <escalations@lmc.example>'"
            )
        return value

    def _generated(self, name: str) -> bytes:
        path = self.var_dir / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()

    def _default_link_secret(self) -> bytes:
        return self.link_secret.encode() if self.link_secret else self._generated("link-secret")

    def escalation_config(self) -> EscalationConfig:
        import tomllib  # here too: `starter.py list` (a timed target, issue #16) reads no TOML

        from domain.configuration import EscalationConfig  # here: commands that never read it skip the import

        with self.config_file.open("rb") as handle:
            return EscalationConfig.model_validate(tomllib.load(handle))


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment, for an entry point: a value refused is said in words, naming its variable,
    on one line starting "Refused:" (as the CLI's refusals are), and the process exits 2, rather than with pydantic's
    traceback."""
    try:
        return Settings(**overrides)
    except ValidationError as refused:
        said = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']).upper() or 'settings'}: "
            f"{str(error['msg']).removeprefix('Value error, ')}"
            for error in refused.errors()
        )
        print(f"Refused: the settings: {said}", file=sys.stderr)
        raise SystemExit(2) from None
