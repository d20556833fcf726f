"""Interface alerts, as the practice, the provider's digest and the officer meet them: a practice reports an
alert through its standing link (the kind's own builder and gate, then its escalation, its index row and its
place in the day's digest to the provider); the practice sees its alerts and the answers; the officer sees
the pattern by provider, category and month and turns a selection of alerts into an unfunded work claim."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from limits import parse
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.alert_analysis import AlertFigures
from domain.configuration import TariffRate
from domain.contacts import Role
from domain.formatting import counted
from domain.identifiers import comparable
from domain.interface_alert import (
    CATEGORY_LABELS,
    KIND,
    SUPPLY_INFO,
    AlertCase,
    AlertRequest,
    IndexAlert,
)
from domain.money import format_pence
from domain.responses import ResponseInput
from domain.unfunded_claim import Category
from domain.working_days import describe_date, london_date
from kinds import BY_NAME
from persistence.practices import AlertRow, Alerts, PracticeRow
from persistence.rate_limits import DatabaseStorage
from service import acting, reading, starting
from service.gate import admit, refuse_field
from service.refusals import Refused, Why
from settings import Settings
from workflows.escalation_workflow import CaseView
from workflows.interface_alert import AlertClaimed, InterfaceAlertWorkflow

_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
DEFAULT_PATTERN_MIN = 10
ALERTS_PER_PRACTICE = parse("60 per hour")
"""A ceiling on one practice's link: a busy practice stays far below it; a leaked link cannot flood the engine."""


def reference_for(ods: str, submission: str, today: date) -> str:
    """The alert's reference from its form's one-time submission id: the same form sent twice is one alert.
    Letters first, so it never reads as ten digits."""
    digest = hashlib.sha256(f"{ods}:{submission}".encode()).digest()
    suffix = _ALPHABET[digest[0] % 22] + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[1:6])
    return f"{BY_NAME[KIND].id_prefix}-{today.year}-{suffix}"


async def report(
    client: Client, settings: Settings, engine: Engine, practice: PracticeRow, form: dict[str, str], submission: str
) -> str:
    """Report one alert for `practice`; its reference. Sending the same form again reports nothing new."""
    spec = BY_NAME[KIND]
    config = settings.escalation_config()
    now = datetime.now(UTC)
    data = spec.form.to_data(
        {
            **form,
            "title": f"Interface alert from {practice.name}",
            "practice_ods": practice.ods,
            "practice_name": practice.name,
            "practice_email": practice.email,
        },
        config.lmc.officers[0].email,
    )
    reference = reference_for(practice.ods, submission, london_date(now))
    prepared = starting.prepare(spec, config, data, reference)
    alert: AlertRequest = prepared.request  # type: ignore[attr-defined]
    if (twin := reported_before(engine, practice.ods, alert, reference)) is not None:
        raise Refused.invalid(
            {
                "document_ref": f"{alert.document_ref} was reported already, for the same kind of work, on "
                f"{describe_date(london_date(twin.reported_at))} ({twin.reference}); reporting it again would count it "
                "twice. To add to it, reply to that alert's emails"
            }
        )
    limiter = FixedWindowRateLimiter(DatabaseStorage(engine))
    if not limiter.hit(ALERTS_PER_PRACTICE, "practice-alerts", practice.ods):
        raise Refused(
            Why.NOT_PERMITTED,
            f"{practice.name} has reported more than {ALERTS_PER_PRACTICE.amount} alerts in the last hour; nothing "
            "more was recorded. If that is right, please send the rest later or tell the LMC office.",
        )
    try:
        await starting.start(client, settings, spec, prepared)
    except Refused as refused:
        if not isinstance(refused.__cause__, WorkflowAlreadyStartedError):
            raise
    Alerts(engine).index(IndexAlert.of(reference, alert, alert.provider_code, now))
    return reference


def reported_before(engine: Engine, ods: str, alert: AlertRequest, reference: str) -> AlertRow | None:
    """An alert this practice reported already about the same letter (its reference, as typed but for case and
    spaces, and its date) from the same provider, for the same kind of work: the same work counted twice. The same
    form sent again (the same `reference`) is not one."""
    return next(
        (
            row
            for row in Alerts(engine).for_practice(ods)
            if row.reference != reference
            and comparable(row.document_ref) == comparable(alert.document_ref)
            and row.provider.upper() == alert.provider_code.upper()
            and row.category == alert.category.value
            and row.occurred_on == alert.occurred_on
        ),
        None,
    )


@dataclass
class PracticeAlert:
    row: AlertRow
    view: CaseView | None  # None when the engine did not answer in time


async def for_practice(client: Client, engine: Engine, ods: str) -> list[PracticeAlert]:
    """The practice's alerts, newest first, each with its state and the answers (read concurrently)."""
    rows = Alerts(engine).for_practice(ods)

    async def read(row: AlertRow) -> PracticeAlert:
        try:
            return PracticeAlert(row, await reading.summary(client, row.reference, timeout=timedelta(seconds=3)))
        except (Refused, RPCError):
            return PracticeAlert(row, None)

    return list(await asyncio.gather(*(read(row) for row in rows)))


async def practice_answers(
    client: Client, engine: Engine, practice: PracticeRow, reference: str, text: str, submission: str
) -> str:
    """The practice answers the provider's question about one of its own alerts, from its own page."""
    rows = [row for row in Alerts(engine).get_many([reference]) if row.ods == practice.ods]
    if not rows:
        raise Refused(Why.NOT_FOUND, f"{practice.name} has no alert {reference[:40]}.")
    response = admit(
        ResponseInput,
        {"action": SUPPLY_INFO, "actor_email": practice.email, "actor_role": Role.PRACTICE, "text": text},
    )
    outcome = await acting.respond(client, reference, response, submission)
    return outcome.message


def answers(view: CaseView) -> list[tuple[str, str, str]]:
    """(when, who, what) for each step of the exchange, as the practice reads it."""
    case = view.case_as(AlertCase)
    return [
        (f"{a.at:%-d %B %Y}", a.by, f"{view.action_labels.get(a.action, a.action)}: {a.text}") for a in case.answers
    ]


# --- the officer's pattern view and the analysis ---------------------------------------------------------
def pattern_threshold(settings: Settings) -> int:
    """`[alert_patterns] min_alerts` in the LMC's configuration: alerts of one category from one provider in
    one month that make a pattern worth claiming for."""
    with settings.config_file.open("rb") as handle:
        found = tomllib.load(handle).get("alert_patterns", {}).get("min_alerts", DEFAULT_PATTERN_MIN)
    return int(found) if isinstance(found, int) and found >= 1 else DEFAULT_PATTERN_MIN


def figures(engine: Engine, start: date, end: date, provider: str | None = None) -> list[AlertFigures]:
    return as_figures(Alerts(engine).between(start, end, provider))


def for_icb(engine: Engine, icb: str, start: date, end: date) -> list[AlertFigures]:
    """The alerts of one ICB's practices between the dates: what the liaison meeting pack reports."""
    return as_figures(Alerts(engine).for_icb(icb, start, end))


def as_figures(rows: list[AlertRow]) -> list[AlertFigures]:
    return [
        AlertFigures(
            reference=r.reference,
            ods=r.ods,
            provider=r.provider,
            category=r.category,
            occurred_on=r.occurred_on,
            items=r.items,
            staff_minutes=r.staff_minutes,
            claim_ref=r.claim_ref,
        )
        for r in rows
    ]


# --- from alerts to a claim ---------------------------------------------------------------------------------
def claim_data(settings: Settings, rows: list[AlertRow], officer_email: str, payer_code: str) -> dict[str, Any]:
    """An unfunded work claim's JSON shape from alerts of one provider: a line per category, its count the items
    the alerts report (priced from the tariff by the claim's own builder), each line citing its alerts."""
    config = settings.escalation_config()
    if not rows:
        raise refuse_field("alerts", "choose at least one alert")
    providers = {row.provider for row in rows}
    if len(providers) > 1:
        raise refuse_field(
            "alerts", f"choose alerts about one provider (these are about {', '.join(sorted(providers))})"
        )
    claimed = sorted({row.claim_ref for row in rows if row.claim_ref})
    if claimed:
        raise refuse_field("alerts", f"some of these alerts are claimed already, in {', '.join(claimed)}")
    provider = config.organisation(rows[0].provider)
    by_category: dict[str, list[AlertRow]] = defaultdict(list)
    for row in rows:
        by_category[row.category].append(row)
    start, end = min(r.occurred_on for r in rows), max(r.occurred_on for r in rows)
    lines = [
        {
            "category": category,
            "count": sum(r.items for r in found),
            "description": f"{counted(len(found), 'interface alert')}: {CATEGORY_LABELS[Category(category)]}",
            "evidence_refs": [f"{r.reference} ({r.document_ref})" for r in found],
        }
        for category, found in sorted(by_category.items())
    ]
    return {
        "summary": claim_summary(config.tariff, rows, lines),
        "title": f"Unfunded work by {provider.name}, {start.day} {start:%B %Y} to {end.day} {end:%B %Y}",
        "officer_email": officer_email,
        "payer_code": payer_code,
        "provider": provider.name,
        "practices": sorted({r.ods for r in rows}),
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "lines": lines,
    }


SUMMARY_LIMIT = 3900


def claim_summary(tariff: dict[str, TariffRate], rows: list[AlertRow], lines: list[dict[str, Any]]) -> str:
    """The claim's lines in words, each citing its alerts, for the payer's email (the claim's own lines carry
    every reference in full as their evidence)."""
    parts = [f"From {len(rows)} interface alerts reported by practices through the LMC."]
    for line in lines:
        rate = tariff.get(line["category"])
        priced = (
            f" at {format_pence(rate.unit_rate_pence)} = {format_pence(rate.unit_rate_pence * line['count'])}"
            if rate is not None
            else ""
        )
        parts.append(
            f"{CATEGORY_LABELS[Category(line['category'])]}: {line['count']} items{priced}; "
            f"alerts {', '.join(line['evidence_refs'])}."
        )
    text = "\n".join(parts)
    return (
        text
        if len(text) <= SUMMARY_LIMIT
        else text[: SUMMARY_LIMIT - 60] + "… (every alert is cited in the claim's lines)"
    )


async def start_claim(
    client: Client, settings: Settings, engine: Engine, references: list[str], officer_email: str, payer_code: str
) -> str:
    """Start an unfunded work claim from the chosen alerts; the alerts then name the claim, and it cites them."""
    alerts = Alerts(engine)
    rows = alerts.get_many(references)
    missing = sorted(set(references) - {r.reference for r in rows})
    if missing:
        raise Refused(Why.NOT_FOUND, f"No alert {missing[0]}.")
    spec = BY_NAME["unfunded_claim"]
    prepared = starting.prepare(
        spec, settings.escalation_config(), claim_data(settings, rows, officer_email, payer_code)
    )
    claim_ref = await starting.start(client, settings, spec, prepared)
    alerts.mark_claimed([r.reference for r in rows], claim_ref)
    for row in rows:
        with contextlib.suppress(RPCError):  # finished (answered): the index row names the claim
            await client.get_workflow_handle(row.reference).signal(
                InterfaceAlertWorkflow.claimed, AlertClaimed(claim_ref=claim_ref, by=officer_email)
            )
    return claim_ref
