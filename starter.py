"""The LMC officer's command line: start escalations, inspect them, take the officer's actions.

python starter.py start-claim examples/unfunded_claim_kent.json
python starter.py show UWC-2026-ABC123 [--json]
python starter.py list [--kind unfunded_claim] [--status submitted] [--overdue]
python starter.py supply-info ID --text "..."     | accept-offer ID | dispute ID --reasons "..."
python starter.py confirm-payment ID [--amount-pence N] | withdraw ID --reasons "..."
python starter.py history ID
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from domain.configuration import EscalationConfig
from domain.contacts import Role
from domain.money import format_pence
from domain.responses import ResponseInput, ResponseOutcome
from domain.unfunded_claim import KIND as CLAIM_KIND
from domain.unfunded_claim import priced_claim
from domain.validation import describe
from domain.working_days import describe_deadline, working_days_left
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from settings import Settings
from temporal_client import connect
from workflows import search_attributes as sa
from workflows.escalation_workflow import CaseView
from workflows.unfunded_claim import StartClaim, UnfundedClaimWorkflow

ID_PREFIX = {CLAIM_KIND: "UWC"}
_ID_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"


class InputRefused(Exception):
    """Bad input, with the field named; nothing was started or changed."""


def new_escalation_id(kind: str, today: date | None = None) -> str:
    """A case reference that says nothing about patients or practices: kind, year, random."""
    year = (today or datetime.now(UTC).date()).year
    suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))
    return f"{ID_PREFIX[kind]}-{year}-{suffix}"


def build_start_claim(config: EscalationConfig, data: dict[str, Any], escalation_id: str | None = None) -> StartClaim:
    try:
        claim = priced_claim(data, config.tariff)
    except ValidationError as err:
        raise InputRefused(describe(err)) from err
    officer = config.lmc.officer(claim.officer_email)
    if officer is None:
        raise InputRefused(f"officer_email: {claim.officer_email} is not an officer of {config.lmc.name}")
    unpriced = [str(i) for i, line in enumerate(claim.lines) if line.unit_rate_pence == 0]
    if unpriced:
        raise InputRefused(f"lines.{unpriced[0]}.unit_rate_pence: no rate given and none in the tariff")
    try:
        payer = config.organisation(claim.payer_code)
    except ValueError as err:
        raise InputRefused(str(err)) from err
    return StartClaim(
        escalation_id=escalation_id or new_escalation_id(CLAIM_KIND),
        claim=claim,
        lmc=config.lmc,
        officer=officer,
        payer=payer,
        policy=config.policy(CLAIM_KIND),
    )


async def start_claim(client: Client, settings: Settings, start: StartClaim) -> str:
    await client.start_workflow(
        UnfundedClaimWorkflow.run,
        start,
        id=start.escalation_id,
        task_queue=settings.task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.KIND, CLAIM_KIND),
                SearchAttributePair(sa.STATUS, "submitted"),
                SearchAttributePair(sa.PAYER, start.payer.code),
            ]
        ),
    )
    return start.escalation_id


async def summary(client: Client, escalation_id: str) -> CaseView:
    return await client.get_workflow_handle(escalation_id).query(UnfundedClaimWorkflow.summary)


async def respond(client: Client, escalation_id: str, response: ResponseInput) -> ResponseOutcome:
    """Send a response as a Temporal update; refused responses raise InputRefused with the reason."""
    handle = client.get_workflow_handle(escalation_id)
    try:
        return await handle.execute_update(UnfundedClaimWorkflow.respond, response)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        raise InputRefused(getattr(cause, "message", None) or str(cause)) from err


def list_query(kind: str | None, status: str | None, overdue: bool, stalled: bool = False) -> str:
    clauses = [f"{sa.KIND.name} IS NOT NULL"]
    for key, value in ((sa.KIND, kind), (sa.STATUS, status)):
        if value:
            if not value.replace("_", "").isalnum():
                raise InputRefused(f"{key.name}: '{value}' is not a valid value")
            clauses.append(f"{key.name} = '{value}'")
    if overdue:
        clauses.append(f"{sa.OVERDUE.name} = true")
    if stalled:
        clauses.append(f"{sa.STALLED.name} = true")
    return " AND ".join(clauses)


async def list_escalations(client: Client, query: str) -> list[dict[str, Any]]:
    rows = []
    async for wf in client.list_workflows(query):
        attrs = wf.typed_search_attributes
        deadline = attrs.get(sa.NEXT_DEADLINE)
        rows.append(
            {
                "id": wf.id,
                "kind": attrs.get(sa.KIND),
                "status": attrs.get(sa.STATUS),
                "payer": attrs.get(sa.PAYER),
                "level": attrs.get(sa.LADDER_LEVEL),
                "overdue": attrs.get(sa.OVERDUE),
                "stalled": attrs.get(sa.STALLED),
                "holder": attrs.get(sa.BALL_HOLDER),
                "next_deadline": deadline.isoformat() if deadline else None,
                "started": wf.start_time.isoformat(),
            }
        )
    return rows


def print_case(view: CaseView) -> None:
    for label, value in view.facts:
        print(f"{label:>24}: {value}")
    print(
        f"{'Ladder level':>24}: {view.ladder_level}{' (stalled)' if view.stalled else ''}"
        f"{' - on liaison agenda' if view.on_liaison_agenda else ''}"
    )
    if view.wait:
        if view.wait.deadline:
            due = datetime.fromisoformat(view.wait.deadline)
            deadline = f"{describe_deadline(due)} ({working_days_left(datetime.now(UTC), due)} working days left)"
        elif view.wait.paused_days_left:
            deadline = f"paused with {view.wait.paused_days_left} working days left"
        else:
            deadline = "none: overdue, waiting for a response or your decision"
        print(f"{'Waiting for':>24}: {view.wait.purpose.replace('_', ' ')} from {view.wait.holder}")
        print(f"{'Deadline':>24}: {deadline}{'  MISSED x' + str(view.wait.misses) if view.wait.misses else ''}")
    if view.outcome:
        print(f"{'Outcome':>24}: {view.outcome}")
    if view.payer_actions:
        print(f"{'Payer may':>24}: {', '.join(view.payer_actions)}")
    if view.officer_actions:
        print(f"{'Officer may':>24}: {', '.join(view.officer_actions)}")


def print_history(audit: AuditLog, escalation_id: str) -> bool:
    rows = audit.timeline(escalation_id)
    if not rows:
        print(f"No audit entries for {escalation_id}.")
        return False
    for row in rows:
        detail = {k: v for k, v in row.detail.items() if k not in ("cc",)}
        if "claimed_pence" in detail:
            detail["claimed"] = format_pence(int(detail.pop("claimed_pence")))
        print(
            f"{row.seq:>4}  {row.occurred_at:%Y-%m-%d %H:%M}  {row.event:<28} {row.actor:<36} "
            f"{json.dumps(detail, ensure_ascii=False)}"
        )
    check = audit.verify(escalation_id)
    print(
        f"Hash chain: {'verified' if check.ok else 'BROKEN'} ({check.rows} entries)"
        + (f": {check.problem}" if check.problem else "")
    )
    return check.ok


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="LMC escalation engine: the officer's commands")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start-claim", help="start an unfunded work claim from a JSON file")
    p.add_argument("file", type=Path)
    p = sub.add_parser("show", help="state, amounts, deadlines and who holds the ball")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("list", help="list escalations")
    p.add_argument("--kind")
    p.add_argument("--status")
    p.add_argument("--overdue", action="store_true")
    p.add_argument("--stalled", action="store_true")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("history", help="the audit timeline, with its hash chain verified")
    p.add_argument("id")
    for name, needs in [
        ("supply-info", "text"),
        ("accept-offer", None),
        ("dispute", "reasons"),
        ("confirm-payment", None),
        ("withdraw", "reasons"),
    ]:
        p = sub.add_parser(name, help=f"officer action: {name.replace('-', ' ')}")
        p.add_argument("id")
        p.add_argument("--officer", help="your email (default: the escalation's officer)")
        if needs == "text":
            p.add_argument("--text", required=True)
        if needs == "reasons":
            p.add_argument("--reasons", required=True)
        if name == "confirm-payment":
            p.add_argument("--amount-pence", type=int)
    return parser


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "history":
        return 0 if print_history(AuditLog(make_engine(settings.database)), args.id) else 1
    if args.command == "start-claim":
        start = build_start_claim(settings.escalation_config(), json.loads(args.file.read_text()))
        client = await connect(settings)
        print(f"Claim of {format_pence(start.claim.total_pence)} sent to {start.payer.name}.")
        print(await start_claim(client, settings, start))
        return 0
    client = await connect(settings)
    if args.command == "show":
        view = await summary(client, args.id)
        if args.json:
            print(view.model_dump_json(indent=2))
        else:
            print_case(view)
        return 0
    if args.command == "list":
        rows = await list_escalations(client, list_query(args.kind, args.status, args.overdue, args.stalled))
        if args.json:
            print(json.dumps(rows, indent=2))
        for row in [] if args.json else rows:
            print(
                f"{row['id']:<18} {row['kind'] or '':<16} {row['status'] or '':<22} L{row['level'] or 1} "
                f"{'OVERDUE ' if row['overdue'] else ''}{'STALLED ' if row['stalled'] else ''}"
                f"next: {row['next_deadline'] or '-'}"
            )
        return 0
    view = await summary(client, args.id)
    officer = args.officer or view.case["officer"]["email"]
    try:
        response = ResponseInput(
            action=args.command.replace("-", "_").replace("confirm_payment", "confirm_payment"),
            actor_email=officer,
            actor_role=Role.OFFICER,
            text=getattr(args, "text", None),
            reasons=getattr(args, "reasons", None),
            amount_pence=getattr(args, "amount_pence", None),
        )
    except ValidationError as err:
        raise InputRefused(describe(err)) from err
    outcome = await respond(client, args.id, response)
    print(f"{outcome.message} (status: {outcome.status})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args, Settings()))
    except InputRefused as err:
        print(f"Refused: {err}", file=sys.stderr)
        return 2
    except (OSError, json.JSONDecodeError) as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    except RPCError as err:
        print(f"Temporal said: {err.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
