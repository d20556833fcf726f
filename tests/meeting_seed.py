"""Seeding the liaison meeting tests: a claim already stalled (its ladder climbed months ago), run
as a real workflow on the dev server from that state, with its audit trail written as it happened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from domain.escalation import AuditEffect
from domain.unfunded_claim import ClaimCase
from persistence.audit_log import AuditLog
from service import starting
from settings import Settings
from tests.helpers import CLAIM, example_start
from workflows.escalation_workflow import Progress
from workflows.unfunded_claim import CarriedClaim


async def start_stalled_claim(client: Client, settings: Settings, audit: AuditLog, payer_code: str, title: str) -> str:
    """A claim to `payer_code` opened 90 days ago whose every contact missed every deadline since: the
    domain's own timers run over that time here, then the workflow resumes from the stalled case (as
    after continue-as-new), its audit rows already written."""
    start = example_start(settings, payer_code=payer_code, title=title)
    now = datetime.now(UTC) - timedelta(days=90)
    case, effects = ClaimCase.open(
        start.escalation_id, start.claim, start.lmc, start.officer, start.payer, start.policy, now, start.rules
    )
    steps = [(now, e) for e in effects if isinstance(e, AuditEffect)]
    for _ in range(20):
        if case.ladder.stalled:
            break
        due = case.next_timer()
        assert due is not None
        now = due + timedelta(minutes=1)
        steps += [(now, e) for e in case.on_timer(now) if isinstance(e, AuditEffect)]
    assert case.ladder.stalled and case.ladder.on_liaison_agenda
    for seq, (when, effect) in enumerate(steps, start=1):
        audit.append(start.escalation_id, seq, when, effect.event, effect.actor, effect.detail)
    carried = CarriedClaim(case=case, progress=Progress(audit_seq=len(steps)))
    return await starting.start(client, settings, CLAIM, start.model_copy(update={"carried": carried}))
