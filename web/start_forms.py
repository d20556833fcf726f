"""Officers start escalations from forms. A form becomes the same data as the JSON files
`starter.py` reads and goes through the same builders, so validation and field-named errors
are the same; on an error the form comes back with everything typed still in it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

import escalations
from domain.money import parse_pounds
from domain.unfunded_claim import Category
from settings import Settings
from web.auth import SessionSigner

ROWS = 8


def _number(raw: str) -> Any:
    """Digits become a whole number; anything else is passed on so validation names the field."""
    raw = raw.strip()
    return int(raw) if raw.isdigit() else (raw or None)


def _practices(text: str, with_weighting: bool) -> list[dict[str, Any]]:
    practices = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        parts = [p.strip() for p in line.split(",")]
        entry: dict[str, Any] = dict(zip(["ods", "name", "contact_name", "contact_email"], parts[:4], strict=False))
        if with_weighting and len(parts) > 4 and parts[4]:
            entry["weighting"] = parts[4]
        practices.append(entry)
    return practices


def form_to_data(kind: str, form: dict[str, str], officer_email: str) -> dict[str, Any]:
    base: dict[str, Any] = {"title": form.get("title", ""), "officer_email": officer_email}
    if kind == "unfunded_claim":
        lines = []
        for row in range(ROWS):
            category = form.get(f"lines.{row}.category", "")
            count = form.get(f"lines.{row}.count", "")
            if not (category and count):
                continue
            refs = [r.strip() for r in form.get(f"lines.{row}.evidence_refs", "").split(",") if r.strip()]
            lines.append(
                {
                    "category": category,
                    "count": _number(count),
                    "description": form.get(f"lines.{row}.description", ""),
                    "evidence_refs": refs,
                }
            )
        return {
            **base,
            "payer_code": form.get("payer_code", ""),
            "provider": form.get("provider", ""),
            "practices": form.get("practices", "").replace(",", " ").split(),
            "period_start": form.get("period_start") or None,
            "period_end": form.get("period_end") or None,
            "summary": form.get("summary", ""),
            "lines": lines,
        }
    if kind == "pathology_error":
        tariff = []
        for row in range(ROWS):
            key, label, rate = (form.get(f"tariff.{row}.{f}", "").strip() for f in ("key", "label", "rate"))
            if not (key or label or rate):
                continue
            try:
                pence: Any = parse_pounds(rate)
            except ValueError:
                pence = rate
            tariff.append({"key": key, "label": label, "rate_pence": pence})
        return {
            **base,
            "trust_code": form.get("trust_code", ""),
            "icb_code": form.get("icb_code", ""),
            "service": form.get("service", ""),
            "test": form.get("test", ""),
            "error_start": form.get("error_start") or None,
            "error_end": form.get("error_end") or None,
            "description": form.get("description", ""),
            "tariff": tariff,
            "practices": _practices(form.get("practices", ""), with_weighting=False),
            "return_deadline": form.get("return_deadline") or None,
            "year_end_reconciliation_date": form.get("year_end_reconciliation_date") or None,
        }
    return {
        **base,
        "icb_code": form.get("icb_code", ""),
        "summary": form.get("summary", ""),
        "rate_year": form.get("rate_year", ""),
        "still_off_until": form.get("still_off_until") or None,
        "practices": _practices(form.get("practices", ""), with_weighting=True),
    }


def start_routes(settings: Settings, signer: SessionSigner, templates: Jinja2Templates) -> list[Route]:
    builders = {
        "unfunded_claim": (escalations.build_start_claim, escalations.start_claim),
        "pathology_error": (escalations.build_start_pathology, escalations.start_pathology),
        "deregistration": (escalations.build_start_deregistration, escalations.start_deregistration),
    }

    def page(request: Request, kind: str, form: dict[str, str], error: str | None, status: int = 200) -> Response:
        config = settings.escalation_config()
        token = signer.csrf_for(request)
        context = {
            "kind": kind,
            "form": form,
            "error": error,
            "csrf": token,
            "rows": range(ROWS),
            "categories": [c.value for c in Category],
            "organisations": config.organisations,
            "rate_years": list(config.capitation_rates),
        }
        response = templates.TemplateResponse(request, "start.html", context, status_code=status)
        signer.set_csrf(response, token)
        return response

    async def start(request: Request) -> Response:
        who = signer.read(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        kind = request.path_params["kind"]
        if kind not in builders:
            return Response("no such kind", status_code=404)
        if request.method == "GET":
            return page(request, kind, {}, None)
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not signer.csrf_ok(request, form.get("csrf", "")):
            return page(request, kind, form, "The form expired; please submit it again.", 403)
        if who.role not in ("officer", "admin"):
            return page(
                request, kind, form, f"{who.email} is signed in as {who.role}; officers start escalations.", 403
            )
        build, launch = builders[kind]
        try:
            prepared = build(settings.escalation_config(), form_to_data(kind, form, who.email))
        except escalations.InputRefused as refused:
            return page(request, kind, form, str(refused), 422)
        escalation_id = await launch(request.app.state.client, settings, prepared)  # type: ignore[operator]
        return RedirectResponse(f"/console/e/{escalation_id}", status_code=303)

    return [Route("/console/start/{kind}", start, methods=["GET", "POST"])]
