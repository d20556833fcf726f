"""Pathfinder deregistration redistribution as a durable workflow: thin over `domain.deregistration`."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from domain.contacts import Contact, Lmc, Organisation
    from domain.deregistration import CapitationRate, DeregistrationCase, DeregistrationRequest
    from domain.escalation import DeadlinePolicy
    from domain.practice_return import Practice
    from workflows.escalation_workflow import CaseView, Progress
    from workflows.incident_workflow import IncidentWorkflow


class CarriedDeregistration(BaseModel):
    case: DeregistrationCase
    progress: Progress


class StartDeregistration(BaseModel):
    escalation_id: str
    request: DeregistrationRequest
    practices: list[Practice]
    rate: CapitationRate
    lmc: Lmc
    officer: Contact
    icb: Organisation
    policy: DeadlinePolicy
    carried: CarriedDeregistration | None = None


@workflow.defn(name="DeregistrationRedistribution")
class DeregistrationWorkflow(IncidentWorkflow):
    carried_model = CarriedDeregistration

    @workflow.init
    def __init__(self, start: StartDeregistration) -> None:
        self.init_children()
        case, effects = DeregistrationCase.open(
            start.escalation_id,
            start.request,
            start.practices,
            start.rate,
            start.lmc,
            start.officer,
            start.icb,
            start.policy,
            workflow.now(),
        )
        self.begin(start, case, None, effects)

    @workflow.run
    async def run(self, start: StartDeregistration) -> CaseView:
        return await self.run_until_closed()
