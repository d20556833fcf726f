"""The baseline for the fan-out benchmark: N no-op child workflows from one parent, in the
same cohort shape the incident uses, on the same server and worker."""

from __future__ import annotations

import asyncio

from temporalio import workflow


@workflow.defn(name="BenchNoopChild")
class NoopChild:
    @workflow.run
    async def run(self, index: int) -> int:
        return index


@workflow.defn(name="BenchNoopCohort")
class NoopCohort:
    @workflow.run
    async def run(self, indices: list[int]) -> int:
        handles = await asyncio.gather(
            *(workflow.start_child_workflow(NoopChild.run, i, id=f"{workflow.info().workflow_id}-{i}") for i in indices)
        )
        await asyncio.gather(*handles)
        return len(indices)


@workflow.defn(name="BenchNoopFanout")
class NoopFanout:
    @workflow.run
    async def run(self, count: int, cohort_size: int) -> int:
        chunks = [list(range(i, min(i + cohort_size, count))) for i in range(0, count, cohort_size)]
        handles = await asyncio.gather(
            *(
                workflow.start_child_workflow(NoopCohort.run, chunk, id=f"{workflow.info().workflow_id}-C{n}")
                for n, chunk in enumerate(chunks)
            )
        )
        return sum(await asyncio.gather(*handles))


@workflow.defn(name="BenchNoopAnswer")
class NoopAnswer:
    """The baseline for the return POSTs: a run waiting, as a practice waits for its return, until an update
    answers it; the update returns at once and the run ends, with nothing else to do."""

    def __init__(self) -> None:
        self.answered = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.answered)

    @workflow.update
    def answer(self, value: str) -> str:
        self.answered = True
        return value
