"""The LMC officer's command line: start escalations, inspect them, take the officer's actions.

python starter.py start-claim examples/unfunded_claim_kent.json
python starter.py start-deregistration examples/deregistration_nwl_pathfinder.json
python starter.py show ID [--json] | list [--kind K] [--status S] [--overdue] [--stalled] | history ID
python starter.py supply-info ID --text "..." | accept-offer ID | dispute ID --reasons "..."
python starter.py confirm-payment ID [--amount-pence N] | withdraw ID --reasons "..."
python starter.py extend-returns ID --date YYYY-MM-DD | close-returns ID | close-incident ID --reasons "..."
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from temporalio.service import RPCError

from domain.contacts import Role
from domain.money import format_pence
from domain.responses import ResponseInput
from domain.validation import describe
from domain.working_days import describe_deadline, working_days_left
from escalations import (
    InputRefused,
    build_start_claim,
    build_start_deregistration,
    build_start_pathology,
    list_escalations,
    list_query,
    respond,
    start_claim,
    start_deregistration,
    start_pathology,
    summary,
)
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.users import ROLES, Users
from settings import Settings
from temporal_client import connect
from workflows.escalation_workflow import CaseView


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
    p = sub.add_parser("start-pathology", help="start a pathology error compensation incident from a JSON file")
    p.add_argument("file", type=Path)
    p = sub.add_parser("start-deregistration", help="start a Pathfinder deregistration redistribution from a JSON file")
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
    p = sub.add_parser("add-user", help="create or reset a console account (officer, ops or admin)")
    p.add_argument("email")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for name, needs in OFFICER_COMMANDS.items():
        p = sub.add_parser(name, help=f"officer action: {name.replace('-', ' ')}")
        p.add_argument("id")
        p.add_argument("--officer", help="your email (default: the escalation's officer)")
        if "text" in needs:
            p.add_argument("--text", required=True)
        if "reasons" in needs:
            p.add_argument("--reasons", required=True)
        if "amount" in needs:
            p.add_argument("--amount-pence", type=int)
        if "date" in needs:
            p.add_argument("--date", dest="on_date", required=True, help="YYYY-MM-DD")
        if "party" in needs:
            p.add_argument("--party", dest="text", required=True, help="ODS code, or ICB or trust code")
            p.add_argument("--nature", dest="reasons", default="", help="the nature of the interest")
    return parser


# Officer commands and what each needs; the action is the command with underscores.
OFFICER_COMMANDS: dict[str, tuple[str, ...]] = {
    "supply-info": ("text",),
    "accept-offer": (),
    "dispute": ("reasons",),
    "confirm-payment": ("amount",),
    "withdraw": ("reasons",),
    "extend-returns": ("date",),
    "close-returns": (),
    "close-incident": ("reasons",),
    "declare-interest": ("party",),
}


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "add-user":
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
        try:
            Users(make_engine(settings.database)).add(args.email, args.role, password)
        except ValueError as err:
            raise InputRefused(str(err)) from err
        print(f"{args.email} can sign in as {args.role}.")
        return 0
    if args.command == "history":
        return 0 if print_history(AuditLog(make_engine(settings.database)), args.id) else 1
    if args.command == "start-claim":
        start = build_start_claim(settings.escalation_config(), json.loads(args.file.read_text()))
        client = await connect(settings)
        print(f"Claim of {format_pence(start.claim.total_pence)} sent to {start.payer.name}.")
        print(await start_claim(client, settings, start))
        return 0
    if args.command == "start-pathology":
        incident = build_start_pathology(settings.escalation_config(), json.loads(args.file.read_text()))
        client = await connect(settings)
        print(
            f"Returns requested from {len(incident.practices)} practices; {incident.icb.name} asked about "
            f"year-end recognition and {incident.trust.name} for its incident report."
        )
        print(await start_pathology(client, settings, incident))
        return 0
    if args.command == "start-deregistration":
        dereg = build_start_deregistration(settings.escalation_config(), json.loads(args.file.read_text()))
        client = await connect(settings)
        print(
            f"Returns requested from {len(dereg.practices)} practices; {dereg.icb.name} asked to confirm its message."
        )
        print(await start_deregistration(client, settings, dereg))
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
            action=args.command.replace("-", "_"),
            actor_email=officer,
            actor_role=Role.OFFICER,
            text=getattr(args, "text", None),
            reasons=getattr(args, "reasons", None),
            amount_pence=getattr(args, "amount_pence", None),
            on_date=getattr(args, "on_date", None),
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
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalisation: the Temporal client's native runtime thread can abort the
    # process while Python tears down, turning a finished command into a crash.
    os._exit(status)
