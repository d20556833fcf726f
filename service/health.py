"""Liveness and readiness for the orchestrator: alive means the process answers; ready means each
part it depends on answers in time (Temporal, the database, the mail server). Each check is bounded,
so a health probe never hangs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, text
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

CHECK_TIMEOUT = 3.0  # seconds, each


@dataclass(frozen=True)
class Readiness:
    parts: dict[str, str]  # part -> "ok" or what is wrong

    @property
    def ready(self) -> bool:
        return all(state == "ok" for state in self.parts.values())

    def as_json(self) -> dict[str, object]:
        return {"ready": self.ready, "parts": self.parts}


async def _temporal(client: Client) -> str:
    await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=timedelta(seconds=CHECK_TIMEOUT))
    return "ok"


async def _database(engine: Engine) -> str:
    def select_one() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    await asyncio.to_thread(select_one)
    return "ok"


async def _mail(host: str, port: int) -> str:
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    await writer.wait_closed()
    return "ok"


async def readiness(client: Client | None, engine: Engine, smtp_host: str, smtp_port: int) -> Readiness:
    """Every part checked at once, each within `CHECK_TIMEOUT`; a part that fails says how."""
    checks = {
        "temporal": _temporal(client) if client is not None else None,
        "database": _database(engine),
        "mail": _mail(smtp_host, smtp_port),
    }
    parts: dict[str, str] = {}

    async def run(name: str, check: object) -> None:
        if check is None:
            parts[name] = "not connected"
            return
        try:
            parts[name] = await asyncio.wait_for(check, CHECK_TIMEOUT)  # type: ignore[arg-type]
        except TimeoutError:
            parts[name] = f"no answer within {CHECK_TIMEOUT:g} s"
        except Exception as err:  # noqa: BLE001 - any failure is "not ready", said plainly
            parts[name] = f"unreachable ({type(err).__name__})"

    await asyncio.gather(*(run(name, check) for name, check in checks.items()))
    return Readiness(parts=dict(sorted(parts.items())))
