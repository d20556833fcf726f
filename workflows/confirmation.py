"""A request for one confirmation from a payer, as a child of a larger escalation."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import Field

    from domain.confirmation import ConfirmationCase, ConfirmationRequest
    from domain.contacts import Organisation
    from domain.escalation import Effect
    from workflows.escalation_workflow import Carried, CaseView, EscalationStart, EscalationWorkflow


CarriedConfirmation = Carried[ConfirmationCase]


class StartConfirmation(EscalationStart):
    request: ConfirmationRequest
    payer: Organisation
    parties: list[str] = Field(default_factory=list)
    report_to_parent: bool = False  # tell the parent it closed, by signal (`IncidentWorkflow`, detached)
    carried: CarriedConfirmation | None = None


@workflow.defn(name="Confirmation")
class ConfirmationWorkflow(EscalationWorkflow):
    carried_model = CarriedConfirmation

    @workflow.init
    def __init__(self, start: StartConfirmation) -> None:
        def open_case() -> tuple[ConfirmationCase, list[Effect]]:
            case, effects = ConfirmationCase.open(
                start.escalation_id,
                start.request,
                start.lmc,
                start.officer,
                start.payer,
                start.policy,
                workflow.now(),
                start.rules,
                calendar=start.calendar,
            )
            case.related_parties = start.parties
            return case, effects

        self.begin_or_resume(start, open_case)

    @workflow.run
    async def run(self, start: StartConfirmation) -> CaseView:
        return await self.run_until_closed()
