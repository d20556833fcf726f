"""What a process the bench started costs, read from /proc: resident memory and CPU time."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _status(pid: int, key: str) -> int:
    """A kB figure from /proc/<pid>/status, in bytes (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def rss(pid: int) -> int:
    """Resident memory now (VmRSS), in bytes."""
    return _status(pid, "VmRSS")


def peak_rss(pid: int) -> int:
    """The most resident memory the process has had (VmHWM), in bytes."""
    return _status(pid, "VmHWM")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def machine_busy_seconds() -> float:
    """CPU time every process on the machine has used (all cores, /proc/stat), in seconds."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / _TICKS


@dataclass
class CpuMeter:
    """CPU seconds each named process used between `start()` and `stop()`, beside the wall time."""

    pids: dict[str, int]
    used: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    others: float = 0.0  # CPU seconds every other process on the machine used meanwhile
    _at: dict[str, float] = field(default_factory=dict)
    _machine: float = 0.0
    _started: float = 0.0

    def start(self) -> CpuMeter:
        self._at = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._machine = machine_busy_seconds()
        self._started = time.monotonic()
        return self

    def stop(self) -> CpuMeter:
        self.used = {name: cpu_seconds(pid) - self._at[name] for name, pid in self.pids.items()}
        self.others = max(machine_busy_seconds() - self._machine - sum(self.used.values()), 0.0)
        self.wall = time.monotonic() - self._started
        return self

    def describe(self) -> str:
        parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in sorted(self.used.items(), key=lambda i: -i[1]))
        cores = os.cpu_count() or 1
        busy = sum(self.used.values()) / (self.wall * cores) if self.wall else 0.0
        return (
            f"CPU s: {parts}; other processes on the machine {self.others:.1f} "
            f"(wall {self.wall:.1f} s on {cores} cores, the bench's share {busy:.0%} of them)"
        )


class RssSampler:
    """Samples the VmRSS of each of `pids` every `interval` seconds while running: `peak` is the largest any
    one process reached, `peak_total` the largest they held together."""

    def __init__(self, pids: list[int], interval: float = 0.25) -> None:
        self.pids, self.interval = pids, interval
        self.peak = 0
        self.peak_total = 0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> RssSampler:
        self._task = asyncio.create_task(self._sample())
        return self

    async def stop(self) -> RssSampler:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._take()
        return self

    def _take(self) -> None:
        each = [rss(pid) for pid in self.pids]
        self.peak = max(self.peak, *each)
        self.peak_total = max(self.peak_total, sum(each))
        self.samples += 1

    async def _sample(self) -> None:
        while True:
            self._take()
            await asyncio.sleep(self.interval)


async def wait_idle(pids: list[int], below: float = 0.05, window: float = 1.0, timeout: float = 120.0) -> float:
    """Wait until each process has used less than `below` of a core for two windows running (their work
    in flight is done); returns the seconds waited, or gives up after `timeout`."""
    started = time.monotonic()
    quiet = 0
    while quiet < 2 and time.monotonic() - started < timeout:
        before = [cpu_seconds(pid) for pid in pids]
        await asyncio.sleep(window)
        busy = any(cpu_seconds(pid) - b >= below * window for pid, b in zip(pids, before, strict=True))
        quiet = 0 if busy else quiet + 1
    return time.monotonic() - started
