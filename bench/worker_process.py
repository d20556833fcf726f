"""The bench's worker, in a process of its own (`python -m bench.worker_process READY_FILE`): the engine's worker
exactly as `worker.py` builds it, plus the no-op baseline's workflows, configured from the environment. It writes
READY_FILE once it polls, and stops on SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bench.noop import NoopChild, NoopCohort, NoopFanout
from logging_setup import configure_logging
from settings import Settings
from temporal_client import connect
from worker import WORKFLOWS, build_worker, sandbox_runner


async def main(ready: Path) -> None:
    configure_logging()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    client = await connect(settings)
    # The no-op baseline's module passes through the sandbox as the engine's workflow modules do, so the
    # baseline pays no per-run import the incident does not.
    worker = build_worker(
        client,
        settings,
        workflows=[*WORKFLOWS, NoopChild, NoopCohort, NoopFanout],
        workflow_runner=sandbox_runner("bench"),
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run())
    ready.write_text(str(os.getpid()))
    await asyncio.wait({running, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        running.result()  # the worker failed: say why (the bench sees this process end)
    await worker.shutdown()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
