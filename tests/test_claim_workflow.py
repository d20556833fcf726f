"""The unfunded claim workflow on the time-skipping server, with real SMTP and audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

import starter
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from settings import Settings
from tests.conftest import Inbox
from tests.helpers import ICB_L1, example_start, officer, payer, running_worker
from workflows.unfunded_claim import UnfundedClaimWorkflow


async def test_claim_paid_end_to_end(time_env: WorkflowEnvironment, settings: Settings, inbox: Inbox) -> None:
    client = time_env.client
    start = example_start(settings)
    async with running_worker(client, settings):
        eid = await starter.start_claim(client, settings, start)
        [first] = await inbox.wait_for(eid, 1)
        assert first["To"].addresses[0].addr_spec == ICB_L1
        assert "/r/" in first.get_body(("plain",)).get_content()

        outcome = await starter.respond(client, eid, payer("acknowledge"))
        assert outcome.status == "acknowledged"
        outcome = await starter.respond(client, eid, payer("accept"))
        assert outcome.status == "payment_expected"
        with pytest.raises(starter.InputRefused, match="not open"):
            await starter.respond(client, eid, payer("reject", reasons="too late"))
        outcome = await starter.respond(client, eid, officer("confirm_payment"))
        assert outcome.status == "closed"
        view = await client.get_workflow_handle_for(UnfundedClaimWorkflow.run, eid).result()
        assert view.outcome == "paid"

    emails = inbox.for_case(eid)
    roots = {m["In-Reply-To"] for m in emails[1:]}
    assert roots == {first["Message-ID"]}
    audit = AuditLog(make_engine(settings.database))
    events = [r.event for r in audit.timeline(eid)]
    assert events[0] == "submitted"
    assert "response:acknowledge" in events and events[-1] in ("closed", "email_sent")
    assert audit.verify(eid).ok
