"""The web app's liveness and readiness, for the orchestrator (`docker-compose.yml`): alive means the
process answers; ready means Temporal, the database and the mail server each answer within
`service.health.CHECK_TIMEOUT` (the same checks as the worker's), and a 503 names the part that does not."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.health import readiness
from settings import Settings
from web.refusal_pages import RETRY_AFTER_SECONDS

PART_NAMES = {"temporal": "Temporal", "database": "the database", "mail": "the mail server"}


def health_routes(settings: Settings, engine: Engine) -> list[Route]:
    async def livez(_: Request) -> Response:
        return JSONResponse({"alive": True})

    async def readyz(request: Request) -> Response:
        found = await readiness(
            getattr(request.app.state, "client", None), engine, settings.smtp_host, settings.smtp_port
        )
        body = found.as_json()
        if found.ready:
            return JSONResponse({**body, "message": "Ready: Temporal, the database and the mail server answer."})
        down = [f"{PART_NAMES.get(part, part)} {state}" for part, state in found.parts.items() if state != "ok"]
        body["message"] = "Not ready: " + "; ".join(down) + "."
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    return [Route("/livez", livez), Route("/readyz", readyz)]
