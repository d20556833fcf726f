"""The officer's CLI as the officer runs it: `starter.py list`, a whole new process each time, timed from spawn to
exit, beside `python -c pass` (the interpreter's own start) in the same environment."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.servers import ROOT, Servers

RUNS = 3


def _wall(command: list[str], servers: Servers) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=servers.work, env=servers.env, capture_output=True)
    return time.perf_counter() - started, done


def median_wall(command: list[str], servers: Servers) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    """The median of RUNS timed runs, after one untimed (the page cache warm, as for an officer)."""
    _wall(command, servers)
    runs = [_wall(command, servers) for _ in range(RUNS)]
    return statistics.median(seconds for seconds, _ in runs), runs[-1][1]


@dataclass
class Cli:
    seconds: float
    baseline: float
    rows: int
    problem: str | None


def list_command(servers: Servers) -> Cli:
    seconds, done = median_wall([sys.executable, str(ROOT / "starter.py"), "list"], servers)
    baseline, _ = median_wall([sys.executable, "-c", "pass"], servers)
    problem = None
    if done.returncode != 0:
        problem = f"exit {done.returncode}: {' '.join(done.stderr.decode(errors='replace').split())[:200]}"
    return Cli(seconds, baseline, len(done.stdout.splitlines()), problem)
