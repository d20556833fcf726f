"""Pathfinder deregistration redistribution as a durable workflow: thin over `domain.deregistration`."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contacts import Organisation
    from domain.deregistration import CapitationRate, DeregistrationCase, DeregistrationDetails
    from domain.escalation import Effect
    from workflows.escalation_workflow import CaseView
    from workflows.incident_workflow import CarriedIncident, IncidentStart, IncidentWorkflow, stored_list


CarriedDeregistration = CarriedIncident[DeregistrationCase]


class StartDeregistration(IncidentStart):
    request: DeregistrationDetails
    rate: CapitationRate
    icb: Organisation
    carried: CarriedDeregistration | None = None


@workflow.defn(name="DeregistrationRedistribution")
class DeregistrationWorkflow(IncidentWorkflow):
    carried_model = CarriedDeregistration

    @workflow.init
    def __init__(self, start: StartDeregistration) -> None:
        self.init_children(start)

        def open_case() -> tuple[DeregistrationCase, list[Effect]]:
            return DeregistrationCase.open(
                start.escalation_id,
                start.request,
                start.practices,
                start.rate,
                start.lmc,
                start.officer,
                start.icb,
                start.policy,
                workflow.now(),
                start.rules,
                calendar=start.calendar,
                stored=stored_list(start.practices, start.practice_count, start.practice_parties),
            )

        self.begin_or_resume(start, open_case)

    @workflow.run
    async def run(self, start: StartDeregistration) -> CaseView:
        return await self.run_until_closed()
