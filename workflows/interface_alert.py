"""Interface alerts: one escalation per alert (the shared loop: deadline, reminders, the ladder), and one
digest per provider per working day that carries the day's routine alerts to the provider's primary care
liaison in a single email, each alert with its own link."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.alert_digest import DIGEST_WORKFLOW, DigestActivities, DigestRequest, DigestResult, DigestStart
    from domain.contacts import Organisation
    from domain.escalation import Command, Effect
    from domain.interface_alert import AlertCase, AlertRequest, DigestEntry, IndexAlert, JoinDigest
    from workflows.escalation_workflow import (
        ACTIVITY_RETRY,
        Carried,
        CaseView,
        EscalationStart,
        EscalationWorkflow,
    )

CarriedAlert = Carried[AlertCase]


class StartAlert(EscalationStart):
    request: AlertRequest
    provider: Organisation
    carried: CarriedAlert | None = None


class DigestSent(BaseModel):
    message_id: str
    to: str
    held: bool = False


class AlertClaimed(BaseModel):
    claim_ref: str
    by: str


@workflow.defn(name="InterfaceAlert")
class InterfaceAlertWorkflow(EscalationWorkflow):
    carried_model = CarriedAlert

    @workflow.init
    def __init__(self, start: StartAlert) -> None:
        def open_case() -> tuple[AlertCase, list[Effect]]:
            return AlertCase.open(
                start.escalation_id,
                start.request,
                start.lmc,
                start.officer,
                start.provider,
                start.policy,
                workflow.now(),
                start.rules,
                calendar=start.calendar,
            )

        self.begin_or_resume(start, open_case)

    @workflow.run
    async def run(self, start: StartAlert) -> CaseView:
        return await self.run_until_closed()

    async def carry_out_command(self, command: Command) -> None:
        if isinstance(command, IndexAlert):
            await workflow.execute_activity_method(
                DigestActivities.index_alert,
                command,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=ACTIVITY_RETRY,
            )
            return
        if not isinstance(command, JoinDigest):
            raise NotImplementedError(type(command).__name__)
        await workflow.execute_activity_method(
            DigestActivities.join_alert_digest,
            command,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=ACTIVITY_RETRY,
        )

    @workflow.signal
    def digest_sent(self, sent: DigestSent) -> None:
        assert isinstance(self.case, AlertCase)
        self.outbox.extend(self.case.digest_sent(sent.message_id, sent.to, workflow.now(), sent.held))

    @workflow.signal
    def claimed(self, claim: AlertClaimed) -> None:
        assert isinstance(self.case, AlertCase)
        self.outbox.extend(self.case.claimed(claim.claim_ref, claim.by))


@workflow.defn(name=DIGEST_WORKFLOW)
class AlertDigestWorkflow:
    """Collects the day's routine alerts for one provider (signal `add`, sent with start), sends them at
    the close of the working day as one email, then tells each alert it went. An alert added after the
    send (a race of seconds) goes in a second batch rather than being lost."""

    def __init__(self) -> None:
        self.pending: list[DigestEntry] = []
        self.seen: set[str] = set()

    @workflow.signal
    def add(self, item: DigestEntry) -> None:
        if item.reference not in self.seen:  # the same alert signalled twice joins once
            self.seen.add(item.reference)
            self.pending.append(item)

    @workflow.query
    def waiting(self) -> list[str]:
        return [item.reference for item in self.pending]

    @workflow.run
    async def run(self, start: DigestStart) -> DigestResult:
        result = DigestResult()
        remaining = start.send_at - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining)
        batch = 0
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self.pending:
                break
            items, self.pending = self.pending, []
            batch += 1
            delivered = await workflow.execute_activity_method(
                DigestActivities.send_alert_digest,
                DigestRequest(
                    digest_id=start.digest_id,
                    batch=batch,
                    provider=start.provider,
                    day=start.day,
                    sent_at=workflow.now(),
                    items=items,
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=ACTIVITY_RETRY,
            )
            result.sent.append(delivered.message_id)
            to = start.provider.contact_at(1).email
            for item in items:
                result.alerts.append(item.reference)
                handle = workflow.get_external_workflow_handle(item.reference)
                try:
                    await handle.signal(
                        InterfaceAlertWorkflow.digest_sent,
                        DigestSent(message_id=delivered.message_id, to=to, held=delivered.held),
                    )
                except ApplicationError:  # the alert is gone (withdrawn and closed): nothing to tell it
                    workflow.logger.info("alert not running", extra={"reference": item.reference})
        return result
