"""`make run`: the whole engine on its embedded defaults, in one terminal.

Starts the Temporal dev server (state in var/temporal.db, Web UI on :8233), an SMTP sink
that stores each message as var/mail/*.eml, the worker, and the web app behind the email
links (http://127.0.0.1:8000). Ctrl-C stops everything; the next start resumes every
escalation where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from pathlib import Path

import structlog
import uvicorn

from kinds import KINDS
from logging_setup import configure_logging
from mail.sink import start_sink
from settings import Settings, load_settings
from temporal_client import connect, ensure_search_attributes
from web.app import MAX_REQUEST_HEAD, create_app
from worker import build_worker
from workflows.search_attributes import server_flags

log = structlog.get_logger("run_local")


def start_temporal(settings: Settings) -> subprocess.Popen[bytes]:
    binary = Path(sys.executable).parent / "temporal"
    host, _, port = settings.temporal_address.partition(":")
    ui_port = settings.temporal_ui_url.rsplit(":", 1)[-1]
    command = [
        str(binary),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        port,
        "--ui-port",
        ui_port,
        "--db-filename",
        str(settings.var_dir / "temporal.db"),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
        *server_flags(),
    ]
    log_file = (settings.var_dir / "temporal.log").open("ab")
    return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)


async def connect_when_ready(settings: Settings, server: subprocess.Popen[bytes]):  # type: ignore[no-untyped-def]
    for _ in range(120):
        if server.poll() is not None:
            raise SystemExit(f"Temporal dev server exited; see {settings.var_dir / 'temporal.log'}")
        try:
            return await connect(settings)
        except RuntimeError:
            await asyncio.sleep(0.5)
    raise SystemExit("Temporal dev server did not start within 60 s")


async def main() -> None:
    configure_logging()
    settings = load_settings(dev_mail_browser=True)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    server = start_temporal(settings)
    sink = None
    try:
        client = await connect_when_ready(settings, server)
        await ensure_search_attributes(client)
        sink = start_sink(settings.mail_dir, host=settings.smtp_host, port=settings.smtp_port)
        web = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, client),
                host="127.0.0.1",
                port=int(settings.base_url.rsplit(":", 1)[-1]),
                log_config=None,
                h11_max_incomplete_event_size=MAX_REQUEST_HEAD,
            )
        )
        worker = build_worker(client, settings)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        log.info(
            "engine_running",
            web=settings.base_url,
            temporal_ui=settings.temporal_ui_url,
            mail_dir=str(settings.mail_dir),
            database=settings.database,
        )
        officer = settings.escalation_config().lmc.officers[0].email
        starts = "\n                   ".join(
            f".venv/bin/python starter.py {spec.cli_command} {spec.example}" for spec in KINDS
        )
        print(
            f"\n  Engine running.\n  Links and pages: {settings.base_url}\n"
            f"  Temporal Web UI: {settings.temporal_ui_url}\n"
            f"  Emails land in:  {settings.mail_dir}/  (read them at {settings.base_url}/dev/mail)\n"
            f"  Start one:       {starts}\n"
            f"  Console:         {settings.base_url}/console (first: .venv/bin/python starter.py add-user "
            f"{officer} --role officer: an officer config/escalations.toml names)\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        worker_task = asyncio.create_task(worker.run())
        web_task = asyncio.create_task(web.serve())
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({worker_task, web_task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in done - {stopped}:
            task.result()  # surface a crash of the worker or the web app
        log.info("engine_stopping")
        web.should_exit = True
        await worker.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await web_task
    finally:
        if sink is not None:
            sink.stop()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.info("engine_stopped")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
