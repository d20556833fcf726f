"""The unfunded work claim as a durable workflow: thin over `domain.unfunded_claim`."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contacts import Organisation
    from domain.unfunded_claim import ClaimCase, ClaimRequest
    from workflows.escalation_workflow import Carried, CaseView, EscalationStart, EscalationWorkflow


CarriedClaim = Carried[ClaimCase]


class StartClaim(EscalationStart):
    """Everything the claim needs, resolved from configuration when it starts, so a later
    change of configuration never alters a running escalation."""

    claim: ClaimRequest
    payer: Organisation
    carried: CarriedClaim | None = None


@workflow.defn(name="UnfundedClaim")
class UnfundedClaimWorkflow(EscalationWorkflow):
    carried_model = CarriedClaim

    @workflow.init
    def __init__(self, start: StartClaim) -> None:
        self.begin_or_resume(
            start,
            lambda: ClaimCase.open(
                start.escalation_id,
                start.claim,
                start.lmc,
                start.officer,
                start.payer,
                start.policy,
                workflow.now(),
                start.rules,
                calendar=start.calendar,
            ),
        )

    @workflow.run
    async def run(self, start: StartClaim) -> CaseView:
        workflow.logger.info("claim running", extra={"escalation_id": start.escalation_id})
        return await self.run_until_closed()
