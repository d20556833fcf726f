"""The bench's worker, in a process of its own (`python -m bench.worker_process READY_FILE [options]`): the engine's
worker exactly as `worker.py` builds it, plus the no-op baseline's workflows, configured from the environment. It
writes READY_FILE once it polls, and stops on SIGINT or SIGTERM. Its options try other worker settings than
`worker.py`'s (`--workflow-tasks`, `--cached-workflows`) or log what the SDK's core does (`--core-log`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig

from bench.noop import NoopAnswer, NoopChild, NoopCohort, NoopFanout
from logging_setup import configure_logging
from settings import Settings
from temporal_client import connect
from worker import WORKFLOWS, build_worker


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_process")
    parser.add_argument("ready", type=Path)
    parser.add_argument("--workflow-tasks", type=int, help="workflow tasks at once (worker.py: WORKFLOW_TASKS_AT_ONCE)")
    parser.add_argument("--cached-workflows", type=int, help="runs kept in memory (worker.py: CACHED_WORKFLOWS)")
    parser.add_argument("--core-log", help="the SDK core's log filter, e.g. 'warn,temporalio_sdk_core=debug'")
    return parser.parse_args(argv)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """What the options change in the worker `worker.build_worker` makes."""
    changed: dict[str, Any] = {}
    if args.workflow_tasks:
        changed |= {"max_concurrent_workflow_tasks": args.workflow_tasks}
        changed |= {"max_concurrent_local_activities": 2 * args.workflow_tasks}  # as worker.py keeps them
    if args.cached_workflows:
        changed["max_cached_workflows"] = args.cached_workflows
    return changed


async def main(args: argparse.Namespace) -> None:
    configure_logging()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    runtime = None
    if args.core_log:  # to this process's stderr, so to the worker's log
        runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=args.core_log, forwarding=None)))
    client = await connect(settings, runtime)
    # The no-op baseline runs in the same worker as the engine's workflows, with the same runner (`worker.py`).
    worker = build_worker(
        client, settings, workflows=[*WORKFLOWS, NoopChild, NoopCohort, NoopFanout, NoopAnswer], **overrides(args)
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run())
    args.ready.write_text(str(os.getpid()))
    await asyncio.wait({running, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        running.result()  # the worker failed: say why (the bench sees this process end)
    await worker.shutdown()


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
