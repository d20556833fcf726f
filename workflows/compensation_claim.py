"""A compensation claim to a trust, as a child of a pathology incident."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import Field

    from domain.compensation_claim import CompensationClaimCase
    from domain.contacts import Organisation
    from domain.escalation import Effect
    from domain.tables import ScheduleLine
    from workflows.escalation_workflow import Carried, CaseView, EscalationStart, EscalationWorkflow


CarriedCompensationClaim = Carried[CompensationClaimCase]


class StartCompensationClaim(EscalationStart):
    title: str
    claimed_pence: int = Field(ge=0)
    claim_facts: list[tuple[str, str]] = Field(default_factory=list)
    schedule_items: list[str] = Field(default_factory=list)
    schedule: list[ScheduleLine] = Field(default_factory=list)
    trust: Organisation
    icb: Organisation
    parties: list[str] = Field(default_factory=list)
    report_to_parent: bool = False  # tell the parent it closed, by signal (`IncidentWorkflow`, detached)
    carried: CarriedCompensationClaim | None = None


@workflow.defn(name="CompensationClaim")
class CompensationClaimWorkflow(EscalationWorkflow):
    carried_model = CarriedCompensationClaim

    @workflow.init
    def __init__(self, start: StartCompensationClaim) -> None:
        def open_case() -> tuple[CompensationClaimCase, list[Effect]]:
            case, effects = CompensationClaimCase.open(
                start.escalation_id,
                start.title,
                start.claimed_pence,
                start.claim_facts,
                start.lmc,
                start.officer,
                start.trust,
                start.icb,
                start.policy,
                workflow.now(),
                start.rules,
                calendar=start.calendar,
            )
            case.related_parties = start.parties
            case.schedule_items, case.schedule = start.schedule_items, start.schedule
            return case, effects

        self.begin_or_resume(start, open_case)

    @workflow.run
    async def run(self, start: StartCompensationClaim) -> CaseView:
        return await self.run_until_closed()
