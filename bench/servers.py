"""The engine the bench measures, each part in a process of its own so none shares the measuring process's CPU:
the Temporal dev server (in memory, headless), the SMTP sink (`bench.sink`), the worker (`bench.worker_process`)
and the web app (uvicorn serving `web.main:app`, as in production). All on free local ports, with their state,
logs and SQLite database in one work directory, configured by environment variables alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from temporalio.client import Client

from bench.sink import MailLog
from settings import Settings
from temporal_client import connect, ensure_search_attributes
from workflows.search_attributes import server_flags

ROOT = Path(__file__).resolve().parent.parent
TEMPORAL = Path(sys.executable).parent / "temporal"
ONE_PARTITION = ("matching.numTaskqueueReadPartitions=1", "matching.numTaskqueueWritePartitions=1")
"""The bench's dev server keeps each task queue in one partition (its default is four). Partitions spread a queue
over matching hosts; in one process they only forward tasks and polls between themselves, and at 6,300 practices
on 2 cores four lost a few practices' first workflow tasks between the server and the worker (each sent again at
its task timeout); one did not, in three runs. Not for `make run`: its server keeps its state in var/temporal.db,
and tasks waiting in partitions a restart no longer reads would be stranded (Temporal lowers write partitions
first and read partitions once those drain)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(work: Path) -> dict[str, str]:
    """The environment every process of the run shares: this process's, less any setting of the engine's
    (so a developer's .env or shell cannot leak in), plus the bench's own."""
    ours = {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "TEMPORAL_NAMESPACE": "default",
        "TASK_QUEUE": "bench",
        "VAR_DIR": str(work),
        "DATABASE_URL": f"sqlite:///{work / 'escalations.db'}",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(free_port()),
        "BASE_URL": f"http://127.0.0.1:{free_port()}",
        "LINK_SECRET": "bench-link-secret-not-for-production",
        "SESSION_SECRET": "bench-session-secret-not-for-production",
        "PYTHONPATH": str(ROOT),
    }
    engine_keys = {(f.alias or name).upper() for name, f in Settings.model_fields.items()} | {
        name.upper() for name in Settings.model_fields
    }
    kept = {k: v for k, v in os.environ.items() if k.upper() not in engine_keys and k != "PYTHONPATH"}
    return kept | ours


@dataclass
class Servers:
    work: Path
    settings: Settings
    env: dict[str, str]
    client: Client
    mail: MailLog
    processes: dict[str, subprocess.Popen[bytes]]

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    @property
    def workers(self) -> list[int]:
        """Every worker process's pid."""
        return [p.pid for name, p in self.processes.items() if name.startswith("worker")]

    @property
    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items()} | {"bench": os.getpid()}

    def check(self) -> None:
        """Raise if a part of the engine has died (its log says why)."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.work / 'logs' / name}.log")

    async def until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait until `done()`, checking the engine is alive; False if `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while not done():
            self.check()
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True


def _spawn(name: str, command: list[str], work: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (work / "logs" / f"{name}.log").open("ab")
    return subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def _connect(settings: Settings, server: subprocess.Popen[bytes]) -> Client:
    for _ in range(240):
        if server.poll() is not None:
            raise RuntimeError("the Temporal dev server exited; see logs/temporal.log")
        try:
            return await connect(settings)
        except RuntimeError:
            await asyncio.sleep(0.25)
    raise RuntimeError("the Temporal dev server did not answer within 60 s")


async def _listening(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    for _ in range(240):
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited; see logs/{name}.log")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"{name} did not listen on {port} within 60 s")


async def _file_appears(path: Path, process: subprocess.Popen[bytes], name: str) -> None:
    for _ in range(480):
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited; see logs/{name}.log")
        if path.exists():
            return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"{name} was not ready within 120 s")


async def _healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        for _ in range(240):
            if process.poll() is not None:
                raise RuntimeError("web exited; see logs/web.log")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.25)
    raise RuntimeError("the web app did not answer /healthz within 60 s")


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """Stop the processes this bench started, newest first, each by its own id."""
    for process in reversed(list(processes.values())):
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in reversed(list(processes.values())):
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.asynccontextmanager
async def running(work: Path, workers: int = 1, worker_options: Sequence[str] = ()) -> AsyncIterator[Servers]:
    """The whole engine, started in `work` and stopped on the way out, whatever happens; `workers` worker
    processes on one task queue (`worker`, `worker2`, ...), as production runs replicas, each given
    `worker_options` (`bench.worker_process`)."""
    (work / "logs").mkdir(parents=True, exist_ok=True)
    env = environment(work)
    os.environ.clear()
    os.environ.update(env)  # this process reads the same settings as the ones it starts
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    python = sys.executable
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        host, _, port = settings.temporal_address.partition(":")
        processes["temporal"] = _spawn(
            "temporal",
            [
                str(TEMPORAL),
                *("server", "start-dev", "--headless", "--ip", host, "--port", port),
                *("--namespace", settings.temporal_namespace, "--log-level", "warn"),
                *("--dynamic-config-value", "frontend.enableServerVersionCheck=false"),
                *server_flags(),
                *(arg for value in ONE_PARTITION for arg in ("--dynamic-config-value", value)),
            ],
            work,
            env,
        )
        client = await _connect(settings, processes["temporal"])
        await ensure_search_attributes(client)
        mail_log = work / "mail.log"
        processes["sink"] = _spawn(
            "sink", [python, "-m", "bench.sink", str(settings.smtp_port), str(mail_log)], work, env
        )
        await _listening(settings.smtp_port, processes["sink"], "sink")
        for n in range(1, workers + 1):
            name = "worker" if n == 1 else f"worker{n}"
            ready = work / f"{name}.ready"
            processes[name] = _spawn(
                name, [python, "-m", "bench.worker_process", str(ready), *worker_options], work, env
            )
            await _file_appears(ready, processes[name], name)
        web_port = settings.base_url.rsplit(":", 1)[-1]
        processes["web"] = _spawn(
            "web",
            [
                python,
                "-m",
                "uvicorn",
                "web.main:app",
                *("--host", "127.0.0.1", "--port", web_port, "--log-level", "warning"),
            ],
            work,
            env,
        )
        await _healthy(settings.base_url, processes["web"])
        yield Servers(work, settings, env, client, MailLog(mail_log), processes)
    finally:
        _stop(processes)
