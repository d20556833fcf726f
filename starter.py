"""The LMC officer's command line: start escalations, inspect them, take the officer's actions.

python starter.py start-claim examples/unfunded_claim_kent.json   (one start-* command per kind in `kinds/`)
python starter.py show ID [--json] | list [--kind K] [--status S] [--overdue] [--stalled] [--underpaid] [--held] [--search WORDS] [--parts] | history ID
python starter.py supply-info ID --text "..." | accept-offer ID | dispute ID --reasons "..."
python starter.py confirm-payment ID [--amount-pence N] | withdraw ID --reasons "..."
python starter.py extend-returns ID --date YYYY-MM-DD | close-returns ID | close-incident ID --reasons "..."
python starter.py calendar show | calendar load bank-holidays.json | calendar add YYYY-MM-DD --title "..."   (ops)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only the standard library up here: `show`, `list` and `history` must start fast, so each command imports
# what it uses (the kind registry, the workflows, the database) when it runs, and the parser asks the
# registry for choices only when they are checked or shown.
if TYPE_CHECKING:
    from datetime import datetime

    from persistence.audit_log import AuditLog
    from settings import Settings
    from temporal_client import ServiceVisibility
    from workflows.escalation_workflow import CaseView


OPTION_NAMES = {
    "amount_pence": "--amount-pence",
    "amount": "--amount-pence",
    "on_date": "--date",
    "actor_email": "--officer",
}
"""The fields of a response as the officer's command line names them, for its refusals."""


def case_rows(view: CaseView) -> list[tuple[str, str]]:
    """What `show` says of a case, label by label, as LMC staff read it (whose return it is, not "your")."""
    from domain import wording
    from domain.contacts import Role

    rows = list(view.read_by(Role.OFFICER).facts)
    rows.append(
        (
            "Ladder level",
            f"{view.ladder_level}{' (stalled)' if view.stalled else ''}"
            f"{' - on liaison agenda' if view.on_liaison_agenda else ''}",
        )
    )
    if view.wait:
        if view.wait.deadline:
            from datetime import UTC, datetime

            from domain.calendar import calendar_of_case
            from domain.working_days import describe_deadline, working_days_left

            due = datetime.fromisoformat(view.wait.deadline)
            calendar = calendar_of_case(view.case)
            deadline = (
                f"{describe_deadline(due)} ({working_days_left(calendar, datetime.now(UTC), due)} working days left)"
            )
        elif view.wait.paused_days_left:
            deadline = f"paused with {view.wait.paused_days_left} working days left"
        else:
            deadline = "none: overdue, waiting for a response or your decision"
        rows.append(("Waiting for", wording.waiting(view.wait.purpose, view.wait.holder)))
        rows.append(("Deadline", f"{deadline}{'  MISSED x' + str(view.wait.misses) if view.wait.misses else ''}"))
    if view.outcome:
        rows.append(("Outcome", wording.outcome(view.outcome)))
    if view.payer_actions:  # in words: the payer answers through their link
        rows.append(("Payer may", "; ".join(view.action_labels.get(a, a) for a in view.payer_actions)))
    if view.officer_actions:  # in words, each with the command that does it here, where there is one
        done_by = {
            a: f" ({a.replace('_', '-')} ID)" if a.replace("_", "-") in OFFICER_COMMANDS else ""
            for a in view.officer_actions
        }
        rows.append(("Officer may", "; ".join(view.action_labels.get(a, a) + done_by[a] for a in view.officer_actions)))
    return rows


def print_rows(rows: list[tuple[str, str]]) -> None:
    """Each label right-aligned to the longest, so every value, and each line of one, starts in one column."""
    width = max((len(label) for label, _ in rows), default=0)
    for label, value in rows:
        first, *more = value.splitlines() or [""]  # a reason typed over lines (a browser sends CRLF) stays in line
        print(f"{label:>{width}}: {first}")
        for line in more:
            print(f"{'':>{width}}  {line}")


def print_history(audit: AuditLog, escalation_id: str) -> bool:
    from domain.formatting import counted
    from domain.money import format_pence

    rows = audit.timeline(escalation_id)
    if not rows:  # refused as `show` refuses an unknown reference (exit 2), the reference cut short as there
        from service.refusals import Refused, Why, shown

        raise Refused(Why.NOT_FOUND, f"There is no escalation {shown(escalation_id)}: its audit log has no entries.")
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
        f"Hash chain: {'verified' if check.ok else 'BROKEN'} ({counted(check.rows, 'entry', 'entries')})"
        + (f": {check.problem}" if check.problem else "")
    )
    return check.ok


class _Lazy:
    """Choices computed on first use (argparse only looks when it checks a value or prints help)."""

    def __init__(self, compute: Callable[[], list[str]]) -> None:
        self._compute = compute
        self._values: list[str] | None = None

    def _get(self) -> list[str]:
        if self._values is None:
            self._values = self._compute()
        return self._values

    def __contains__(self, value: object) -> bool:
        return value in self._get()

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _roles() -> list[str]:
    from domain.accounts import ROLES

    return list(ROLES)


class _FallBack(Exception):
    """The light parser met something only the whole parser answers exactly (an error): parse again with it."""


class _LightParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise _FallBack(message)


# Commands whose parsing never needs the kind registry's start commands.
def _light_commands() -> frozenset[str]:
    return frozenset({"show", "list", "history", "add-user", "calendar", *OFFICER_COMMANDS})


def _parser(
    *, starts: bool = True, parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser
) -> argparse.ArgumentParser:
    """The whole parser; without `starts`, one that leaves out the kinds' start commands, so it is built
    without importing the kind registry (every kind's workflows)."""
    parser = parser_class(description="LMC escalation engine: the officer's commands")
    sub = parser.add_subparsers(dest="command", required=True)
    if starts:
        from kinds import KINDS
    for spec in KINDS if starts else ():
        p = sub.add_parser(
            spec.cli_command, help=f"start: {spec.label.lower()}, from a JSON file (e.g. {spec.example})"
        )
        p.add_argument("file", type=Path)
        p.add_argument("--again", action="store_true", help="start it even if one open has the same title and payer")
        p.set_defaults(kind=spec)
    p = sub.add_parser("show", help="state, amounts, deadlines and who holds the ball")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("list", help="list escalations")
    # Read by the list filters' gate, as the dashboard's ?kind= is: the same names, typed as people type them.
    from service.kind_names import every_kind_in_words  # names only: not the registry

    p.add_argument("--kind", dest="list_kind", metavar="KIND", help=f"one of: {every_kind_in_words()}")
    p.add_argument("--status")
    p.add_argument("--overdue", action="store_true")
    p.add_argument("--stalled", action="store_true")
    p.add_argument("--underpaid", action="store_true", help="paid less than agreed (practices included)")
    p.add_argument("--held", action="store_true", help="an email is held for ops' decision")
    p.add_argument("--search", help="words of the title, a reference, an ODS code or a contact's email")
    p.add_argument("--parts", action="store_true", help="with incidents' parts (practices' and payers' requests)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("history", help="the audit timeline, with its hash chain verified")
    p.add_argument("id")
    p = sub.add_parser("add-user", help="create or reset a console account (officer, ops or admin)")
    p.add_argument("email")
    p.add_argument("--role", required=True).choices = _Lazy(_roles)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p = sub.add_parser("calendar", help="ops: the bank-holiday calendar (show, load gov.uk's file, add a holiday)")
    calendar = p.add_subparsers(dest="calendar_command", required=True)
    calendar.add_parser("show", help="the installed calendar and the holidays ahead")
    p = calendar.add_parser("load", help="install gov.uk's bank-holidays.json and tell running escalations")
    p.add_argument("file", type=Path)
    p.add_argument("--by", help="who makes the change (default: your login name)")
    p = calendar.add_parser("add", help="add one announced bank holiday and tell running escalations")
    p.add_argument("date", help="YYYY-MM-DD")
    p.add_argument("--title", required=True, help="as gov.uk names it, e.g. 'Bank holiday for the State Funeral'")
    p.add_argument("--by", help="who makes the change (default: your login name)")
    p = sub.add_parser("practices", help="the LMC's practices: load or update them from an ODS-shaped CSV")
    p.add_argument("practices_command", choices=["load", "new-link", "withdraw-link"])
    p.add_argument("file", help="load: the CSV file; new-link, withdraw-link: the practice's ODS code")
    p.add_argument("--reasons", default="", help="withdraw-link: why (goes into the security log)")
    p.add_argument("--officer", default="", help="withdraw-link: your email")
    for name, needs in OFFICER_COMMANDS.items():
        p = sub.add_parser(name, help=f"officer action: {name.replace('-', ' ')}")
        p.add_argument("id")
        p.add_argument("--officer", help="your email (default: the escalation's officer)")
        if "text" in needs:
            p.add_argument("--text", required=True)
        if "reasons" in needs:
            p.add_argument("--reasons", required=True)
        if "optional-reasons" in needs:
            p.add_argument("--reasons")
        if "amount" in needs:
            p.add_argument("--amount-pence", type=_pence, help="a whole number of pence, e.g. 1250000 for £12,500")
        if "date" in needs:
            p.add_argument("--date", dest="on_date", required=True, help="YYYY-MM-DD")
        if "optional-date" in needs:
            p.add_argument("--date", dest="on_date", help="YYYY-MM-DD (a working day)")
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
    "chase-balance": ("optional-date",),
    "accept-shortfall": ("reasons",),
    "accept-overpayment": ("reasons",),
    "accept-refusal": ("optional-reasons",),
}


QUIET_COMMANDS = frozenset({"show", "list", "history"})
"""Commands that log nothing and must start fast (`list` is a timed target): the logging set-up is not imported."""


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command not in QUIET_COMMANDS:  # the services' log lines: warnings only, as JSON on stderr, never stdout
        import logging

        from logging_setup import configure_logging

        configure_logging(logging.WARNING)
    if isinstance(getattr(args, "id", None), str) and not args.id.strip():
        from service.refusals import Refused, Why

        raise Refused(Why.INVALID, "ID: give the escalation's reference, as `list` shows it.", {"ID": "is required"})
    if isinstance(getattr(args, "id", None), str):  # every reference the engine issues is upper case, one word
        args.id = args.id.strip().upper()
    if args.command == "add-user":
        import getpass

        from persistence.database import make_engine
        from service.accounts import Accounts

        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else _typed_twice(getpass.getpass)
        # As the console's accounts page does it: through the gate, into the security log, and a reset ends the
        # account's sessions.
        by = f"{getpass.getuser()} (command line)"
        accounts = Accounts(make_engine(settings.database))
        print(accounts.save_account(by, args.email, args.role, password, lmc=settings.escalation_config().lmc))
        return 0
    if args.command == "practices":
        from persistence.database import make_engine
        from service import practices

        engine = make_engine(settings.database)
        if args.practices_command == "load":
            print((await practices.load(settings, engine, Path(args.file))).summary())
        elif args.practices_command == "new-link":
            print(await practices.new_link(settings, engine, args.file))
        else:
            from service.refusals import Refused

            try:
                print(practices.withdraw_link(engine, args.file, _officer_named(settings, args.officer), args.reasons))
            except Refused as refused:  # the gate's names, as the options are typed
                raise refused.renamed({"reason": "--reasons"}) from None
        return 0
    if args.command == "history":
        from persistence.audit_log import AuditLog
        from persistence.database import make_engine

        return 0 if print_history(AuditLog(make_engine(settings.database)), args.id) else 1  # 1: chain broken
    if args.command == "calendar":
        return await _calendar(args, settings)
    if getattr(args, "kind", None) is not None:
        from persistence.database import make_engine
        from service import calendar_admin, starting
        from temporal_client import connect

        spec = args.kind
        config = calendar_admin.with_calendar(settings.escalation_config(), make_engine(settings.database))
        data = starting.read_json(args.file)
        prepared = starting.prepare(spec, config, data)
        client = await connect(settings)
        if not args.again:
            anyway = "run the command again with --again"
            await starting.refuse_open_twin(client, spec, prepared, str(data["title"]), "this file", anyway)
        print(spec.announce(prepared))
        print(await starting.start(client, settings, spec, prepared, title=str(data["title"])))
        return 0
    if args.command == "list":  # only the listing: not the client, workflows and database a case's view imports
        from temporal_client import connect_visibility

        return await _list(args, await connect_visibility(settings))
    from service import reading
    from temporal_client import connect

    client = await connect(settings)

    if args.command == "show":
        view = await reading.summary(client, args.id)
        if args.json:
            print(view.model_dump_json(indent=2))
            return 0
        rows = case_rows(view)
        if "practice_count" in view.case:  # an incident: how its returns stand (the console's practices page)
            from persistence.database import make_engine
            from service.practice_table import practice_table, returns_in

            lines = await practice_table(client, make_engine(settings.database), view)
            rows.append(("Returns", returns_in(lines)))
        print_rows(rows)
        return 0
    from domain.contacts import Role
    from domain.responses import ResponseInput
    from service import acting
    from service.gate import admit
    from service.refusals import Refused, Why

    options = OFFICER_COMMANDS[args.command]
    names = {
        **OPTION_NAMES,
        "text": "--party" if "party" in options else "--text",
        "reasons": "--nature" if "party" in options else "--reasons",  # declare-interest's reasons are its nature
    }
    view = await reading.summary(client, args.id)
    if view.outcome is not None:
        from domain import wording

        raise Refused(
            Why.CLOSED, f"{args.id} is closed ({wording.outcome(view.outcome)}); nothing more can be recorded."
        )
    response = admit(
        ResponseInput,
        {
            "action": args.command.replace("-", "_"),
            "actor_email": args.officer or view.header.officer.email,
            "actor_role": Role.OFFICER,
            "text": getattr(args, "text", None),
            "reasons": getattr(args, "reasons", None),
            "amount_pence": getattr(args, "amount_pence", None),
            "on_date": getattr(args, "on_date", None),
        },
        renamed=names,
    )
    try:
        outcome = await acting.respond(client, args.id, response)
    except Refused as refused:  # the workflow's rules name its own fields: say them as the options typed
        raise refused.renamed(names) from None
    from domain import wording

    print(f"{outcome.message} (now: {wording.status(outcome.status)})")
    return 0


def _officer_named(settings: Settings, email: str) -> str:
    """Who withdraws a link, for the security log: one of the LMC's officers if `--officer` names one (refused if it
    names anyone else), or the command line's user."""
    if not email:
        import getpass

        return f"{getpass.getuser()} (command line)"
    from service.refusals import Refused

    lmc = settings.escalation_config().lmc
    officer = lmc.officer(email.strip())
    if officer is None:
        raise Refused.invalid({"--officer": f"{email.strip()[:80]} is not one of {lmc.name}'s officers"})
    return officer.email


async def _list(args: argparse.Namespace, visibility: ServiceVisibility) -> int:
    """`list`: escalations from their search attributes, importing only the listing."""
    from service.gate import ListFilters, admit
    from service.listing import list_escalations, list_query

    filters = admit(
        ListFilters,
        {
            "kind": args.list_kind,
            "status": args.status,
            "overdue": args.overdue,
            "stalled": args.stalled,
            "underpaid": args.underpaid,
            "held": args.held,
            "search": args.search,
            "parts": args.parts,
        },
        renamed={"search": "--search", "status": "--status", "kind": "--kind"},
    )
    rows = await list_escalations(visibility, list_query(filters))
    if args.json:  # keys, for scripts; the lines below are in words, for people
        print(json.dumps([row.as_json() for row in rows], indent=2))
    from domain import wording

    for row in [] if args.json else rows:
        flags = [
            name
            for name, on in (("OVERDUE", row.overdue), ("STALLED", row.stalled), ("UNDERPAID", row.underpaid))
            if on
        ]
        print(
            f"{row.id:<18} {(row.kind or '').replace('_', ' '):<20} level {row.level or 1}  "
            f"{' '.join([*flags, ''])}next: {when(row.next_deadline) if row.next_deadline else '-'}  "
            f"{wording.status(row.status) if row.status else ''}"
        )
    if not rows and not args.json:  # said, so an empty answer is not taken for a hung or broken command
        print("No escalations match.", file=sys.stderr)
    return 0


def _pence(text: str) -> int:
    """`--amount-pence` as the link pages read a number: digits 0-9 only (`int` would read '+5', '1_000' or
    another script's digits)."""
    from domain.money import read_whole_number

    try:
        return read_whole_number(text, most_digits=40)  # past £1bn: refused by the validator, in pounds
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _typed_twice(ask: Callable[[str], str]) -> str:
    """A password typed unseen is asked for twice, so a slip is caught here rather than at the first login."""
    password = ask("Password: ")
    if ask("The same password again: ") != password:
        from service.refusals import Refused

        raise Refused.invalid({"password": "the two passwords typed differ; nothing was changed"})
    return password


async def _calendar(args: argparse.Namespace, settings: Settings) -> int:
    import getpass
    from datetime import UTC, datetime

    from persistence.database import make_engine
    from service import calendar_admin

    engine = make_engine(settings.database)
    if args.calendar_command == "show":
        calendar = calendar_admin.show(engine)
        print(f"Calendar {calendar.version}: England and Wales, {calendar.first_year} to {calendar.last_year}")
        today = datetime.now(UTC).date()
        for holiday in [h for h in calendar.holidays if h.day >= today][:12]:
            print(f"  {holiday.day:%a %d %b %Y}  {holiday.title}")
        return 0
    from temporal_client import connect

    by = args.by or f"{getpass.getuser()} (command line)"
    client = await connect(settings)
    if args.calendar_command == "load":
        told = await calendar_admin.load(engine, client, settings.task_queue, args.file, by)
    else:
        told = await calendar_admin.add(engine, client, settings.task_queue, args.date, args.title, by)
    print(f"Calendar {told.calendar.version} {'installed' if told.changed else 'was installed already'}.")
    print(f"Told {told.told} running escalations; {len(told.moved)} deadlines moved.")
    for line in told.moved + [f"not told: {n}" for n in told.not_told]:
        print(f"  {line}")
    return 0


def when(instant: datetime) -> str:
    """A deadline as the officer reads it in a list: 'Fri 4 Dec 2026, 5pm' in London time (`--json` keeps ISO).
    Short for a table line, and without `domain.formatting`, whose babel locale data would add about 50 ms to
    every `list` (a timed target, `bench/`)."""
    from domain.working_days import LONDON

    local = instant.astimezone(LONDON)
    minutes = f":{local.minute:02d}" if local.minute else ""
    return f"{local:%a} {local.day} {local:%b %Y}, {local.hour % 12 or 12}{minutes}{'am' if local.hour < 12 else 'pm'}"


def one_line(text: str, longest: int = 300) -> str:
    """A message as one line of a terminal: no line breaks, cut short if long."""
    flat = " ".join(text.split())
    return flat if len(flat) <= longest else flat[: longest - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit codes (README): 0 done, 1 `history` found a broken chain or nothing, 2 refused
    (a refusal's reason on one line of stderr, starting "Refused:"; if that line is cut short, each field at fault
    follows on a line of its own), 3 the engine cannot be reached."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    import asyncio

    from settings import load_settings

    settings = load_settings()
    unreachable = f"Error: cannot reach the escalation engine at {settings.temporal_address}. Nothing was recorded."
    try:
        code = asyncio.run(_run(args, settings))
        sys.stdout.flush()  # here, where a reader that stopped early is caught, not at the interpreter's exit
        return code
    except BrokenPipeError:  # the reader stopped early (`list | head`): nothing is wrong with the engine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not fail too
        return 1
    except Exception as err:
        # Each kind of error is looked for only in a module already imported: one not imported raised nothing.
        if isinstance(err, _loaded("service.refusals", "Refused")):
            said = one_line(err.message).removeprefix("Refused: ")  # type: ignore[attr-defined]  # said once
            print(f"Refused: {said}", file=sys.stderr)
            if said.endswith("…") and err.fields:  # type: ignore[attr-defined]  # cut short: every field, a line each
                for field, problem in err.fields.items():  # type: ignore[attr-defined]
                    print(f"  {field}: {one_line(problem)}", file=sys.stderr)
            return err.exit_code  # type: ignore[attr-defined,no-any-return]
        if isinstance(err, _loaded("temporalio.service", "RPCError")):
            # Temporal answered, but not about an escalation (temporal_refusals covers those)
            print(unreachable, file=sys.stderr)
        elif isinstance(err, _loaded("sqlalchemy.exc", "OperationalError")):
            print("Error: cannot reach the escalation engine's database. Nothing was recorded.", file=sys.stderr)
        elif isinstance(err, OSError | RuntimeError):  # the engine could not be reached at all
            print(unreachable, file=sys.stderr)
        else:
            raise
        from service.refusals import EXIT_CODE, Why

        return EXIT_CODE[Why.UNAVAILABLE]


class _NotLoaded(Exception):
    """Stands for an exception class whose module was never imported (so nothing raised it)."""


def _loaded(module: str, name: str) -> type[BaseException]:
    loaded = sys.modules.get(module)
    found = getattr(loaded, name, None) if loaded is not None else None
    return found if isinstance(found, type) and issubclass(found, BaseException) else _NotLoaded


def _parse(argv: list[str]) -> argparse.Namespace:
    """Parse the command line; the officer's everyday commands without importing the kind registry. Anything
    the light parser refuses is parsed again by the whole parser, so errors and help read exactly the same."""
    if argv and argv[0] in _light_commands():
        try:
            return _parser(starts=False, parser_class=_LightParser).parse_args(argv)
        except _FallBack:
            pass
    return _parser().parse_args(argv)


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalisation: the Temporal client's native runtime thread can abort the
    # process while Python tears down, turning a finished command into a crash.
    os._exit(status)
