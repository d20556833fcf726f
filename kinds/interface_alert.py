"""Interface alerts, declared for every layer (domain: `domain/interface_alert.py`). Practices report them
through their standing link (`web/alerts.py`); an officer can report one for a practice from the console
or a JSON file like any kind."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from activities.alert_digest import DigestActivities
from domain.configuration import EscalationConfig
from domain.contacts import Role
from domain.escalation import CURRENT_RULES, DeadlinePolicy
from domain.interface_alert import (
    ACKNOWLEDGE,
    ACTION_LABELS,
    CATEGORY_LABELS,
    DISPUTE,
    KIND,
    REQUEST_INFO,
    SUPPLY_INFO,
    WITHDRAW,
    AlertCase,
    AlertRequest,
    Risk,
    category_text,
)
from domain.working_days import after_today, beyond_calendar, london_date
from kinds import resolve
from kinds.spec import KindSpec, StartForm
from service import kind_names
from service.gate import admit, refuse_field
from workflows.interface_alert import AlertDigestWorkflow, InterfaceAlertWorkflow, StartAlert

DEFAULT_POLICY = DeadlinePolicy(response_days=5, acknowledgement_days=1)
"""Answer due in 5 working days (routine, `response_days`), 1 (urgent, `acknowledgement_days`)."""

FIELDS = (
    "provider_code", "service", "category", "occurred_on", "document_ref", "items", "what_happened",
    "staff_minutes", "risk",
)  # fmt: skip


def policy(config: EscalationConfig) -> DeadlinePolicy:
    return config.deadlines.get(KIND, DEFAULT_POLICY)


def build(config: EscalationConfig, data: dict[str, Any], escalation_id: str) -> StartAlert:
    alert = admit(AlertRequest, data)
    today = london_date(datetime.now(UTC))
    if (problem := after_today(alert.occurred_on, today, "an alert is about something that has happened")) is not None:
        raise refuse_field("occurred_on", problem)
    if (problem := beyond_calendar(config.calendar, alert.occurred_on)) is not None:  # refused, not charted
        raise refuse_field("occurred_on", problem)
    officer = resolve.officer(config, alert.officer_email)
    provider = resolve.organisation(config, "provider_code", alert.provider_code, "trust")
    return StartAlert(
        escalation_id=escalation_id,
        request=alert,
        lmc=config.lmc,
        officer=officer,
        provider=provider,
        policy=policy(config),
        rules=CURRENT_RULES,
    )


def form_to_data(form: Mapping[str, str], officer_email: str) -> dict[str, Any]:
    """The alert form's fields (the practice's page and the console's) as the JSON file's shape."""
    data: dict[str, Any] = {name: form.get(name, "").strip() or None for name in FIELDS}
    for number in ("items", "staff_minutes"):
        data[number] = resolve.number(form.get(number, ""))
    data["risk"] = data["risk"] or Risk.ROUTINE.value
    return {
        "title": form.get("title", ""),
        "officer_email": officer_email,
        "practice_ods": form.get("practice_ods", ""),
        "practice_name": form.get("practice_name", ""),
        "practice_email": form.get("practice_email", ""),
        **data,
    }


def form_context(config: EscalationConfig) -> dict[str, Any]:
    return {
        "trusts": [o for o in config.organisations if o.kind == "trust"],
        "categories": [(c.value, category_text(c)) for c in CATEGORY_LABELS],
        "risks": [r.value for r in Risk],
    }


def announce(start: StartAlert) -> str:
    alert = start.request
    when = "at once (urgent)" if alert.risk is Risk.URGENT else "in today's digest"
    return f"Alert from {alert.practice_name} sent to {start.provider.name} {when}."


def _activities(digests: DigestActivities) -> tuple[Any, ...]:
    return (digests.index_alert, digests.join_alert_digest, digests.send_alert_digest)


SPEC = KindSpec(
    name=KIND,
    label=kind_names.LABELS[KIND],
    id_prefix="IFA",
    cli_command="start-alert",
    example="examples/interface_alert.json",
    request_model=AlertRequest,
    case_model=AlertCase,
    build=build,
    run=InterfaceAlertWorkflow.run,
    workflows=(InterfaceAlertWorkflow, AlertDigestWorkflow),
    payer_code=lambda start: start.provider.code,
    first_status="awaiting_digest",
    announce=announce,
    form=StartForm(template="start/interface_alert.html", to_data=form_to_data, context=form_context),
    parties={
        Role.PAYER: (ACKNOWLEDGE, DISPUTE, REQUEST_INFO),
        Role.OFFICER: (WITHDRAW,),
        Role.PRACTICE: (SUPPLY_INFO,),
    },
    labels=ACTION_LABELS,
    activities=lambda settings, engine: _activities(DigestActivities(settings, engine)),
)
