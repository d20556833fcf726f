"""Pathology error compensation as a durable workflow: thin over `domain.pathology`."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.workflow import ChildWorkflowHandle

with workflow.unsafe.imports_passed_through():
    from domain.contacts import Organisation
    from domain.escalation import Effect
    from domain.incident import StartChild
    from domain.pathology import PathologyCase, PathologyDetails
    from workflows.compensation_claim import CompensationClaimWorkflow, StartCompensationClaim
    from workflows.escalation_workflow import CaseView
    from workflows.incident_workflow import CarriedIncident, IncidentStart, IncidentWorkflow, stored_list


CarriedPathology = CarriedIncident[PathologyCase]


class StartPathology(IncidentStart):
    request: PathologyDetails
    trust: Organisation
    icb: Organisation
    carried: CarriedPathology | None = None


@workflow.defn(name="PathologyErrorCompensation")
class PathologyWorkflow(IncidentWorkflow):
    carried_model = CarriedPathology

    @workflow.init
    def __init__(self, start: StartPathology) -> None:
        self.init_children(start)

        def open_case() -> tuple[PathologyCase, list[Effect]]:
            return PathologyCase.open(
                start.escalation_id,
                start.request,
                start.practices,
                start.lmc,
                start.officer,
                start.trust,
                start.icb,
                start.policy,
                workflow.now(),
                start.rules,
                calendar=start.calendar,
                stored=stored_list(start.practices, start.practice_count, start.practice_parties),
            )

        self.begin_or_resume(start, open_case)

    @workflow.run
    async def run(self, start: StartPathology) -> CaseView:
        return await self.run_until_closed()

    async def start_claim_child(self, command: StartChild) -> ChildWorkflowHandle[Any, CaseView]:
        case = self.case
        assert isinstance(case, PathologyCase)
        policy, report = self.child_options()
        return await workflow.start_child_workflow(
            CompensationClaimWorkflow.run,
            StartCompensationClaim(
                escalation_id=command.child_id,
                title=case.title,
                claimed_pence=command.claimed_pence or 0,
                claim_facts=command.claim_facts,
                schedule_items=command.schedule_items,
                schedule=command.schedule,
                lmc=case.lmc,
                officer=case.officer,
                trust=case.payer,
                icb=case.icb,
                policy=case.policy,
                parties=command.parties,
                rules=case.rules,
                calendar=case.calendar,
                report_to_parent=report,
            ),
            id=command.child_id,
            parent_close_policy=policy,
        )
