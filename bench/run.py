"""`make bench`: the engine's figures against their targets (issue #16), in one table.

    make bench                    # 1,000 practices, 50 concurrent POSTs, 300 escalations, 20 users
    make bench ARGS=--england     # the incident at 6,300 practices (all of England): slow
    make bench ARGS=--small       # 50 practices, 10 POSTs, 30 escalations, 5 users (CI's run)
    .venv/bin/python -m bench.run --practices 2000 --posts 100 ...

Starts its own engine (`bench/servers.py`: Temporal dev server, SMTP sink, worker and web app, each a process of
its own), then measures in turn: the no-op baseline and the incident's fan-out (`fanout`), its histories
(`histories`), returns POSTed through link pages (`posts`), the console's dashboard (`console`) and the CLI
(`cli`), sampling the worker's memory and every process's CPU time as it goes (`procstat`). Prints one row per
figure: what, now, target, ratio to its baseline from this run, OK/over; then the details behind the rows.
A benchmark never fails: it exits 0 whatever the figures, and non-zero only if the harness itself breaks.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench import cli, console, fanout, histories, posts, procstat
from bench.servers import Servers, running
from bench.table import Row, kilobytes, megabytes, ms, percentile, ratio, render
from persistence.database import make_engine
from persistence.practice_returns import PracticeReturns

ENGLAND = 6300
STARTED = time.monotonic()


def progress(message: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Sizes:
    practices: int
    posts: int
    escalations: int
    users: int
    england: bool
    keep: bool
    workers: int = 1
    worker_options: tuple[str, ...] = ()


def parse(argv: list[str] | None = None) -> Sizes:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--practices", type=int, help="practices in the incident (default 1,000; --small 50)")
    parser.add_argument("--posts", type=int, help="return POSTs at once (default 50; --small 10)")
    parser.add_argument("--escalations", type=int, help="claims behind the dashboard (default 300; --small 30)")
    parser.add_argument("--users", type=int, help="signed-in users fetching the dashboard at once (default 20)")
    size.add_argument("--england", action="store_true", help=f"the incident at {ENGLAND:,} practices")
    parser.add_argument("--small", action="store_true", help="small sizes, so CI keeps the bench running")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, database)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on the task queue, baseline and incident alike (default 1; production runs "
        "replicas; on 2 cores a second worker contends with the Temporal server for CPU)",
    )
    parser.add_argument(
        "--workflow-tasks", type=int, help="workflow tasks each worker runs at once (default: worker.py's)"
    )
    parser.add_argument("--cached-workflows", type=int, help="runs each worker keeps in memory (default: worker.py's)")
    parser.add_argument("--core-log", help="the SDK core's log filter, into logs/worker.log (with --keep to read it)")
    args = parser.parse_args(argv)
    small = args.small
    sizes = Sizes(
        practices=args.practices or (ENGLAND if args.england else 50 if small else 1000),
        posts=args.posts or (10 if small else 50),
        escalations=args.escalations or (30 if small else 300),
        users=args.users or (5 if small else 20),
        england=args.england,
        keep=args.keep,
        workers=max(args.workers, 1),
        worker_options=tuple(
            option
            for flag, value in (
                ("--workflow-tasks", args.workflow_tasks),
                ("--cached-workflows", args.cached_workflows),
                ("--core-log", args.core_log),
            )
            if value
            for option in (flag, str(value))
        ),
    )
    if sizes.practices < sizes.posts + posts.SINGLES:
        parser.error(f"--practices must be at least --posts + {posts.SINGLES} (each POST is a different practice)")
    return sizes


@dataclass
class Figures:
    """Everything one run measured, for the table and the details."""

    sizes: Sizes
    baseline: float
    incident: fanout.Incident
    noop_events: histories.PerLeaf
    at_notice: histories.Tree
    at_end: histories.Tree
    noop_posts: posts.Posts  # before `posts`, which names the module below it
    posts: posts.Posts
    stored: int
    idle_rss: int
    rss: procstat.RssSampler
    peak_rss: int
    cpu_baseline: procstat.CpuMeter
    cpu_notify: procstat.CpuMeter
    cpu_noop_posts: procstat.CpuMeter
    cpu_posts: procstat.CpuMeter
    cpu_dashboard: procstat.CpuMeter
    claims_ready: bool
    dashboard: console.Dashboard
    cli: cli.Cli
    work: Path
    load_before: str


async def measure(sizes: Sizes, work: Path) -> Figures:
    load_before = _load()
    async with running(work, sizes.workers, sizes.worker_options) as servers:
        worker = servers.pid("worker")
        workers = servers.workers
        progress(f"engine up in {work}")
        await fanout.noop_fanout(servers, 2)  # warm up: the server's queues, the worker's imports
        idle_rss = procstat.rss(worker)

        progress(f"baseline: {sizes.practices:,} no-op child workflows")
        cpu_baseline = procstat.CpuMeter(servers.pids).start()
        noop_id, baseline = await fanout.noop_fanout(servers, sizes.practices)
        cpu_baseline.stop()
        await procstat.wait_idle(workers)

        progress(
            f"incident: {sizes.practices:,} practices, until each one's email is in the sink and its workflow runs"
        )
        rss = procstat.RssSampler(workers).start()
        cpu_notify = procstat.CpuMeter(servers.pids).start()
        incident = await fanout.incident(servers, sizes.practices)
        cpu_notify.stop()
        await procstat.wait_idle(workers)

        progress("histories at notification")
        at_notice = await histories.Tree.read(servers.client, incident.incident_id)
        noop_events = (await histories.Tree.read(servers.client, noop_id)).per_leaf(
            "BenchNoopChild", ("BenchNoopCohort",)
        )

        progress(f"returns baseline: {posts.SINGLES} no-op updates, then {sizes.posts} at once")
        answers = await posts.start_noop_answers(servers.client, servers.settings.task_queue, sizes.posts)
        await procstat.wait_idle(workers)
        cpu_noop_posts = procstat.CpuMeter(servers.pids).start()
        noop_posts = await posts.noop_updates(answers)
        cpu_noop_posts.stop()
        await procstat.wait_idle(workers)

        progress(f"returns: {posts.SINGLES} single POSTs, then {sizes.posts} at once")
        cpu_posts = procstat.CpuMeter(servers.pids)
        posted = await posts.post_returns(
            servers.settings.base_url, incident.links(servers), posts.return_form(incident.data), sizes.posts, cpu_posts
        )
        cpu_posts.stop()
        stored = await _stored(servers, incident.incident_id, posted.ok)
        await procstat.wait_idle(workers)
        await rss.stop()
        peak_rss = max(procstat.peak_rss(pid) for pid in workers)

        progress("histories after the returns")
        at_end = await histories.Tree.read(servers.client, incident.incident_id)

        progress(f"console: {sizes.escalations} claims, then the dashboard for 1 and {sizes.users} users")
        _, claims_ready = await console.start_claims(servers, sizes.escalations)
        await procstat.wait_idle(workers)
        cpu_dashboard = procstat.CpuMeter(servers.pids).start()
        dashboard = await console.dashboard(servers, sizes.users)
        cpu_dashboard.stop()

        progress("CLI: starter.py list")
        listed = await asyncio.to_thread(cli.list_command, servers)
    return Figures(
        sizes,
        baseline,
        incident,
        noop_events,
        at_notice,
        at_end,
        noop_posts,
        posted,
        stored,
        idle_rss,
        rss,
        peak_rss,
        cpu_baseline,
        cpu_notify,
        cpu_noop_posts,
        cpu_posts,
        cpu_dashboard,
        claims_ready,
        dashboard,
        listed,
        work,
        load_before,
    )


async def _stored(servers: Servers, incident_id: str, expected: int) -> int:
    """How many returns the database holds once the POSTed ones have arrived (or 30 s have passed)."""
    returns = PracticeReturns(make_engine(servers.settings.database))

    def count() -> int:
        return len(returns.for_incident(incident_id))

    await servers.until(lambda: count() >= expected, timeout=30)
    return count()


def rows(f: Figures) -> list[Row]:
    n = f.sizes.practices
    inc = f.incident
    short = "" if inc.complete else f", only {min(inc.notified, inc.running_count):,} of {n:,} in time"
    emails = f"emails all in by {inc.emailed:.1f} s, " if inc.emailed < inc.running else ""
    if f.sizes.england:
        notified = Row(
            f"{n:,} practices notified (all of England), on this machine",
            f"{inc.seconds:.0f} s ({int(inc.seconds) // 60}:{int(inc.seconds) % 60:02d}; {emails}"
            f"no-op {f.baseline:.0f} s){short}",
            "<= 5 min",
            ratio(inc.seconds, f.baseline),
            inc.complete and inc.seconds <= 300,
        )
    else:
        notified = Row(
            f"{n:,}-practice incident, all notified / {n:,} no-op children",
            f"{inc.seconds:.1f} s ({emails}no-op {f.baseline:.1f} s){short}",
            "<= 1.5x",
            ratio(inc.seconds, f.baseline),
            inc.complete and inc.seconds <= 1.5 * f.baseline,
        )
    events = f.at_notice.per_leaf("PracticeReturn", ("PracticeCohort",))
    p = f.posts
    single = statistics.median(p.single) if p.single else math.nan
    p50, p99 = percentile(p.burst, 50), percentile(p.burst, 99)
    noop_p99 = percentile(f.noop_posts.burst, 99)
    failed = f", {len(p.failures)} failed" if p.failures else ""
    d = f.dashboard
    alone, together = percentile(d.alone, 50), percentile(d.together, 50)
    h_alone, h_together = percentile(d.health_alone, 50), percentile(d.health_together, 50)
    dash_note = f" ({d.problem})" if d.problem else ""
    c = f.cli
    incident_run = f.at_notice.root
    cohort_runs = f.at_notice.of_type("PracticeCohort")
    incident_payload = incident_run.largest_payload()[0]
    cohort_payload = min(cohort_runs, key=lambda r: r.workflow_id).largest_payload()[0] if cohort_runs else 0
    tasks = f.at_end.task_seconds(local_activities=False)  # a task running one waits for its I/O (cohorts' batches)
    local = f.at_end.task_seconds(local_activities=True)
    slow, slow_local = sum(1 for s in tasks if s > 1.0), sum(1 for s in local if s > 1.0)
    timeouts = f.at_end.count(histories.E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)
    longest = max(f.at_end.runs.values(), key=lambda r: len(r.events))
    longest_bytes = sum(e.ByteSize() for e in longest.events)
    cohorts = max(len(f.at_end.of_type("PracticeCohort")), 1)
    return [
        notified,
        Row(
            "history events per practice (own + share of cohort/incident), at notification",
            f"{events.total:.1f} (no-op child {f.noop_events.total:.1f})",
            "<= 10",
            ratio(events.total, f.noop_events.total),
            events.total <= 10,
        ),
        Row(
            f"{f.sizes.posts} concurrent return POSTs through link pages: p99 (p50; alone; no-op updates p99)",
            f"{ms(p99)} (p50 {ms(p50)}; alone {ms(single)}; no-op {ms(noop_p99)}){failed}",
            "< 250 ms",
            ratio(p99, noop_p99),
            None if not p.burst else p99 < 0.25 and not p.failures,
        ),
        Row(
            f"console dashboard, {f.sizes.escalations} escalations: p50 alone",
            f"{ms(alone)} (healthz {ms(h_alone)}){dash_note}",
            "< 100 ms",
            ratio(alone, h_alone),
            None if not d.alone else alone < 0.1,
        ),
        Row(
            f"console dashboard, {f.sizes.escalations} escalations: p50, {d.users} users at once",
            f"{ms(together)} (healthz {ms(h_together)}){dash_note}",
            "< 300 ms",
            ratio(together, h_together),
            None if not d.together else together < 0.3,
        ),
        Row(
            "CLI `starter.py list`, whole process (median of 3)",
            f"{c.seconds:.2f} s (python -c pass {c.baseline:.2f} s)" + (f" ({c.problem})" if c.problem else ""),
            "< 0.4 s",
            ratio(c.seconds, c.baseline),
            c.problem is None and c.seconds < 0.4,
        ),
        Row(
            "worker RSS during the incident (peak VmRSS sampled, per process)",
            f"{megabytes(f.rss.peak)} (idle {megabytes(f.idle_rss)})"
            + (f"; {f.sizes.workers} together {megabytes(f.rss.peak_total)}" if f.sizes.workers > 1 else ""),
            "< 300 MB",
            "-",
            f.rss.peak < 300 * 2**20,
        ),
        Row(
            "largest payload: incident history / its first cohort's",
            f"{kilobytes(incident_payload)} / {kilobytes(cohort_payload)}",
            "< 256 KB",
            "-",
            max(incident_payload, cohort_payload) < 256 * 1024,
        ),
        Row(
            "longest history after the returns (events, bytes; Temporal warns at 10,000 / 10 MB)",
            f"{longest.workflow_type}: {len(longest.events):,} events, {kilobytes(longest_bytes)} "
            f"(incident {len(f.at_end.root.events) / cohorts:.1f} events a cohort)",
            "< 10,000",
            "-",
            len(longest.events) < 10_000 and longest_bytes < 10 * 2**20,
        ),
        Row(
            "workflow tasks over 1 s (incident and all under it), besides those running a local activity",
            f"{slow} of {len(tasks):,} (longest {max(tasks, default=0):.2f} s); with one: {slow_local} of "
            f"{len(local):,} (longest {max(local, default=0):.2f} s)",
            "0",
            "-",
            slow == 0,
        ),
        Row(
            "workflow-task timeouts (same)",
            str(timeouts),
            "0",
            "-",
            timeouts == 0,
        ),
    ]


def details(f: Figures) -> list[str]:
    n = f.sizes.practices
    events = f.at_notice.per_leaf("PracticeReturn", ("PracticeCohort",))
    lines = [
        f"machine: {os.cpu_count()} cores, {_memory()}, Python {platform.python_version()}, {platform.platform()}; "
        f"load average at the start {f.load_before}, at the end {_load()}",
        f"sizes: {n:,} practices (cohorts of 100), {f.sizes.posts} POSTs at once, "
        f"{f.sizes.escalations} escalations, {f.sizes.users} users; {f.sizes.workers} worker process"
        f"{'es' if f.sizes.workers > 1 else ''} (baseline and incident alike)"
        + (f", given {' '.join(f.sizes.worker_options)}" if f.sizes.worker_options else ""),
        *_interference(f),
        f"baseline {f.cpu_baseline.describe()}",
        f"notification {f.cpu_notify.describe()}",
        f"returns baseline (no-op updates) {f.cpu_noop_posts.describe()}",
        f"returns {f.cpu_posts.describe()}",
        f"dashboard {f.cpu_dashboard.describe()}",
        f"events per practice at notification: {events.describe()}",
        "activities per practice at notification: "
        + ", ".join(f"{name} {n:.2f}" for name, n in f.at_notice.activities_per("PracticeReturn").items()),
        f"events per no-op child: {f.noop_events.describe()}",
    ]
    lines += _returns(f)
    runs = f.at_notice.runs.values()
    for label, chosen in (
        ("incident", [f.at_notice.root]),
        ("first cohort", sorted(f.at_notice.of_type("PracticeCohort"), key=lambda r: r.workflow_id)[:1]),
        ("any workflow", list(runs)),
    ):
        size, event, where = max(((*r.largest_payload(), r.workflow_id) for r in chosen), default=(0, "-", "-"))
        lines.append(f"largest payload, {label}: {kilobytes(size)} in {event} of {where}")
    tasks = f.at_end.task_seconds()

    def by_type(found: Counter[str]) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in found.most_common()) or "none"

    lines.append(
        f"workflow tasks: {len(tasks):,} in {len(f.at_end.runs):,} workflows, p50 {ms(percentile(tasks, 50))}, "
        f"p99 {ms(percentile(tasks, 99))}, longest {ms(max(tasks, default=math.nan))}; "
        f"over 1 s: {by_type(f.at_end.slow_tasks(1.0))}; "
        f"timed out: {by_type(f.at_end.task_timeouts())}; "
        f"failed: {by_type(f.at_end.count_by_type(histories.E.EVENT_TYPE_WORKFLOW_TASK_FAILED))}"
    )
    lines += [f"  timed-out task in {context}" for context in f.at_end.timeout_contexts()]
    lines.append(f"worker RSS: {f.rss.samples} samples; VmHWM (whole run so far) {megabytes(f.peak_rss)}")
    lines.append(f"returns stored: {f.stored} of {f.posts.ok} POSTed successfully")
    for failure in sorted(set(f.posts.failures))[:5]:
        lines.append(f"POST failed: {failure}")
    if not f.claims_ready:
        lines.append("claims: not every claim's email arrived, or the list did not show them all, in time")
    for failure in sorted(set(f.dashboard.failures))[:5]:
        lines.append(f"dashboard GET failed: {failure}")
    lines.append(f"CLI: `starter.py list` printed {f.cli.rows} lines")
    lines.append(f"work directory: {f.work}" + ("" if f.sizes.keep else " (removed; --keep keeps it)"))
    return lines


def _returns(f: Figures) -> list[str]:
    """What the returns added to their practices' histories, and where a POST's time went."""
    lines = [
        f"link page GETs before the POSTs, one at a time: p50 {ms(percentile(f.posts.pages, 50))}, "
        f"longest {ms(max(f.posts.pages, default=math.nan))}",
        f"baseline, no-op updates to waiting no-op runs straight from a client: one alone p50 "
        f"{ms(percentile(f.noop_posts.single, 50))}; {len(f.noop_posts.burst)} at once p50 "
        f"{ms(percentile(f.noop_posts.burst, 50))}, p99 {ms(percentile(f.noop_posts.burst, 99))}"
        + (f"; {len(f.noop_posts.failures)} failed: {f.noop_posts.failures[0]}" if f.noop_posts.failures else ""),
    ]
    new = [
        run.since(f.at_notice.runs[run.workflow_id])
        for run in f.at_end.of_type("PracticeReturn")
        if run.workflow_id in f.at_notice.runs and len(run.events) > len(f.at_notice.runs[run.workflow_id].events)
    ]
    if not new:
        return lines
    added: Counter[str] = Counter()
    for run in new:
        added.update(run.by_type)
    top = ", ".join(f"{name} {k / len(new):.1f}" for name, k in added.most_common())
    lines.append(f"a return added {added.total() / len(new):.1f} events to each of {len(new)} practices ({top})")
    updates = [s for run in new for s in run.update_task_seconds()]
    tasks = [s for run in new for s in run.task_seconds()]
    lines.append(
        f"in those histories: the update's workflow task, scheduled to completed, p50 {ms(percentile(updates, 50))}, "
        f"p99 {ms(percentile(updates, 99))}; workflow tasks p50 {ms(percentile(tasks, 50))}, "
        f"p99 {ms(percentile(tasks, 99))}"
    )
    by_type: dict[str, list[tuple[float, float]]] = {}
    for run in new:
        for name, waited, running_for in run.activity_seconds():
            by_type.setdefault(name, []).append((waited, running_for))
    for name, times in sorted(by_type.items()):
        queued, ran = [q for q, _ in times], [r for _, r in times]
        lines.append(
            f"  activity {name} x{len(times)}: queued p50 {ms(percentile(queued, 50))} p99 "
            f"{ms(percentile(queued, 99))}; ran p50 {ms(percentile(ran, 50))} p99 {ms(percentile(ran, 99))}"
        )
    return lines


def _interference(f: Figures) -> list[str]:
    """A warning for each timed phase in which other processes took more than a tenth of the machine."""
    cores = os.cpu_count() or 1
    return [
        f"WARNING: other processes used {meter.others:.0f} CPU s during the {phase} "
        f"({meter.others / (meter.wall * cores):.0%} of the machine): its figures are skewed; run again when idle"
        for phase, meter in (
            ("baseline", f.cpu_baseline),
            ("notification", f.cpu_notify),
            ("returns", f.cpu_posts),
            ("dashboard", f.cpu_dashboard),
        )
        if meter.wall and meter.others / (meter.wall * cores) > 0.1
    ]


def _load() -> str:
    """The 1-minute load average: other work on the machine skews every figure."""
    return Path("/proc/loadavg").read_text().split()[0]


def _memory() -> str:
    try:
        total = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        return f"{int(total.split()[1]) / 2**20:.1f} GiB memory"
    except (OSError, StopIteration):
        return "memory unknown"


def main(argv: list[str] | None = None) -> int:
    sizes = parse(argv)
    # Stopped by SIGTERM (a CI timeout, `kill`), unwind as for Ctrl-C so the servers it started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="lmc-bench-"))
    try:
        figures = asyncio.run(measure(sizes, work))
    except BaseException:
        print(f"bench: the harness broke; its logs are in {work}/logs", file=sys.stderr)
        raise
    if not sizes.keep:
        shutil.rmtree(work, ignore_errors=True)
    progress("done")
    print(render(rows(figures)))
    print()
    print("\n".join(details(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
