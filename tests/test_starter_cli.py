"""`starter.py` as an officer runs it, as a separate process, against the dev server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import starter
from service.refusals import Refused
from settings import ROOT, Settings
from tests.conftest import Inbox
from tests.helpers import EXAMPLE, example_data


def cli_env(env: WorkflowEnvironment, settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TASK_QUEUE": settings.task_queue,
        "VAR_DIR": str(settings.var_dir),
        "SMTP_PORT": str(settings.smtp_port),
        "LINK_SECRET": "test-link-secret",
    }


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "starter.py"),
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def listed(env: dict[str, str], *filters: str) -> list[str]:
    code, out, _ = await run_cli(env, "list", "--json", *filters)
    assert code == 0
    return [row["id"] for row in json.loads(out)]


async def eventually_listed(env: dict[str, str], escalation_id: str, *filters: str) -> None:
    for _ in range(50):  # visibility is eventually consistent
        if escalation_id in await listed(env, *filters):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{escalation_id} not listed with {filters}")


async def test_officer_commands_end_to_end(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    env = cli_env(dev_env, settings)
    code, out, err = await run_cli(env, "start-claim", str(EXAMPLE), "--again")  # once a test
    assert code == 0, err
    eid = out.strip().splitlines()[-1]
    assert eid.startswith("UWC-") and "£2,837.00" in out
    await inbox.wait_for(eid, 1)
    for _ in range(50):  # the same file again, without --again: asked about, not started (visibility catches up)
        code, out, err = await run_cli(env, "start-claim", str(EXAMPLE))
        if code == 2:
            break
        await asyncio.sleep(0.2)
    assert code == 2 and "is open with the same title and payer" in err and "--again" in err, (out, err)

    code, out, _ = await run_cli(env, "show", eid)
    assert code == 0 and "£2,837.00" in out and "working days left" in out
    assert "Waiting for: an acknowledgement that the claim was received from the payer" in out
    officer_may = next(line for line in out.splitlines() if "Officer may:" in line)
    assert "(withdraw ID)" in officer_may and "_" not in officer_may, officer_may  # in words, with its command
    code, out, _ = await run_cli(env, "show", eid, "--json")
    assert json.loads(out)["status"] == "submitted"
    await eventually_listed(env, eid, "--kind", "unfunded_claim", "--status", "submitted")
    await eventually_listed(env, eid, "--kind", "Unfunded claim")  # as the dashboard reads it: one gate
    code, _, err = await run_cli(env, "list", "--kind", "unfunded_claims")
    assert code == 2 and "--kind" in err and "unfunded_claim" in err, err
    assert eid not in await listed(env, "--overdue")
    code, out, err = await run_cli(env, "list", "--search", "NO-SUCH-REFERENCE")
    assert (code, out, err.strip()) == (0, "", "No escalations match.")  # said, not a silence

    code, out, err = await run_cli(env, "accept-offer", eid)
    assert code == 2 and "not open" in err
    code, out, err = await run_cli(env, "withdraw", eid, "--reasons", "Agreed at liaison meeting")
    assert code == 0 and "withdrawn" in out, err
    await eventually_listed(env, eid, "--status", "withdrawn")

    code, out, _ = await run_cli(env, "history", eid)
    assert code == 0 and "response:withdraw" in out and "Hash chain: verified" in out


async def test_bad_claim_files_are_refused_naming_the_field(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    env = cli_env(dev_env, settings)
    data = example_data(payer_code="NOPE")
    data["lines"][0]["count"] = 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    code, _, err = await run_cli(env, "start-claim", str(bad))
    assert code == 2 and "lines.0.count" in err
    data["lines"][0]["count"] = 3
    bad.write_text(json.dumps(data))
    code, _, err = await run_cli(env, "start-claim", str(bad))
    assert code == 2 and "payer_code" in err
    bad.write_text(json.dumps({**example_data(), "summary": "Patient 9434765919 waited"}))
    code, _, err = await run_cli(env, "start-claim", str(bad))
    assert code == 2 and "summary" in err and "NHS number" in err


async def test_deregistration_commands(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    env = cli_env(dev_env, settings)
    code, out, err = await run_cli(
        env, "start-deregistration", str(ROOT / "examples" / "deregistration_nwl_pathfinder.json")
    )
    assert code == 0, err
    eid = out.strip().splitlines()[-1]
    assert eid.startswith("PDR-") and "12 practices" in out
    await inbox.wait_for(eid, 13, family=True)
    code, out, _ = await run_cli(env, "show", eid)
    assert (
        code == 0
        and "£112.50 per weighted patient (2024/25)" in out
        and "Waiting for: the practices' workload returns" in out
    )
    assert "Returns: 12 practices; 0 returned" in out, out  # how the incident's returns stand
    code, _, err = await run_cli(env, "declare-interest", eid, "--party", "QKS' OR")
    assert code == 2 and "--party: " in err and "text:" not in err, err  # named as the officer typed it
    code, _, err = await run_cli(env, "declare-interest", eid, "--party", "G82001", "--nature", "x\x01y")
    assert code == 2 and "--nature: " in err and "reasons" not in err, err
    code, _, err = await run_cli(env, "close-incident", eid, "--reasons", "")
    assert code == 2 and "--reasons: " in err and "Refused: reasons" not in err, err
    await eventually_listed(env, eid)
    assert not [row for row in await listed(env) if row.startswith(f"{eid}-")]  # practices' parts are not listed
    await eventually_listed(env, f"{eid}-E85011", "--kind", "practice_return")
    code, _, err = await run_cli(env, "close-returns", eid, "--officer", "medsec@lmc.example")
    assert code == 2 and "declared an interest in E85013" in err
    code, _, err = await run_cli(env, "extend-returns", eid, "--date", "2020-01-01")
    assert code == 2 and "--date: " in err and "on_date" not in err, err  # named as the officer typed it
    code, out, err = await run_cli(env, "close-incident", eid, "--reasons", "CLI test over")
    assert code == 0, err
    code, out, _ = await run_cli(env, "history", f" {eid.lower()} ")  # as typed, carelessly
    assert "refused:conflict_of_interest" in out and "Hash chain: verified" in out
    code, _, err = await run_cli(env, "history", "PEC-2026-NOSUCH" + "X" * 100)
    assert code == 2 and "There is no escalation PEC-2026-NOSUCH" in err and "X" * 100 not in err  # as `show`


async def add_user(env: dict[str, str], email: str, role: str, password: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "starter.py"),
        "add-user",
        email,
        "--role",
        role,
        "--password-stdin",
        env=env,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(f"{password}\n".encode())
    return process.returncode or 0, out.decode(), err.decode()


async def test_add_user_goes_into_the_security_log_and_a_reset_ends_the_accounts_sessions(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    from datetime import UTC, datetime

    from persistence.database import make_engine
    from persistence.security_log import SecurityLog
    from persistence.sessions import Sessions

    env = cli_env(dev_env, settings)
    email = "cli.added@lmc.example"
    code, out, err = await add_user(env, email, "officer", "a long enough passphrase")
    assert code == 0 and f"{email} can sign in as officer" in out, err
    engine = make_engine(settings.database)
    token, _ = Sessions(engine).begin(email, "127.0.0.1", datetime.now(UTC))
    code, out, err = await add_user(env, email, "admin", "another long passphrase")
    assert code == 0 and "sessions were ended" in out, err
    events = [e.event for e in SecurityLog(engine).recent(email=email)]
    assert {"user_created", "role_changed", "password_reset"} <= set(events)
    live = Sessions(engine).live(token, datetime.now(UTC), timedelta(hours=8), timedelta(hours=12))
    assert live is None  # the session begun before the reset no longer signs anyone in
    code, _, err = await add_user(env, "not-an-email", "officer", "a long enough passphrase")
    assert code == 2 and "email" in err


async def test_a_reader_that_stops_early_is_not_taken_for_an_engine_that_cannot_be_reached(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings
) -> None:
    """`starter.py list | head`: the pipe closes before the list is written. That says nothing about the engine,
    so the CLI does not say it cannot reach it (exit 3); it stops quietly, as a command whose reader left."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before anything is written
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "starter.py"),
        "list",
        "--json",  # something is written, escalations or none
        env=cli_env(dev_env, settings),
        cwd=ROOT,
        stdout=write_end,
        stderr=asyncio.subprocess.PIPE,
    )
    os.close(write_end)
    _, err = await process.communicate()
    assert process.returncode == 1 and "cannot reach" not in err.decode() and not err.strip(), err.decode()


async def test_an_empty_reference_is_refused_before_anything_is_asked() -> None:
    """`dispute "" --reasons …` (a reference lost in a script's variable): refused naming the ID, exit 2, with
    no engine reached, not "There is no escalation ."."""
    env = {**os.environ, "TEMPORAL_ADDRESS": "127.0.0.1:9"}  # nothing listens: the refusal comes first
    code, _, err = await run_cli(env, "dispute", " ", "--reasons", "x")
    assert code == 2 and "Refused: ID: give the escalation's reference" in err, err


def test_a_password_typed_unseen_is_asked_for_twice_and_a_slip_changes_nothing() -> None:
    answers = iter(["a long enough passphrase", "a long enough passphrase"])
    assert starter._typed_twice(lambda _prompt: next(answers)) == "a long enough passphrase"
    slipped = iter(["a long enough passphrase", "a long enough passphrasr"])
    with pytest.raises(Refused) as refused:
        starter._typed_twice(lambda _prompt: next(slipped))
    assert refused.value.exit_code == 2 and "differ" in refused.value.fields["password"]


def test_amount_pence_is_read_as_the_link_pages_read_a_number() -> None:
    parse = starter._parser().parse_args
    assert parse(["confirm-payment", "UWC-2026-X", "--amount-pence", "1250000"]).amount_pence == 1_250_000
    for odd in ("\u0661\u0662", "+5", "1_000", "9" * 41):
        with pytest.raises(SystemExit) as refused:
            parse(["confirm-payment", "UWC-2026-X", "--amount-pence", odd])
        assert refused.value.code == 2


def test_a_start_file_that_is_not_json_says_where_and_what_to_look_for() -> None:
    """The JSON parser's own words ('Expecting value') said as the mistake an officer makes: a comma after the
    last item, two objects in one file; with the line and column."""
    from service.gate import parse_json
    from service.refusals import Refused

    for text, words in (
        ('{"title": "x",\n "practices": [1, 2,]\n}', "at line 2, column 21, a value was expected (is there a comma"),
        ('{"a": 1,}', "a name in double quotes was expected"),
        ('{"a": 1}{"b": 2}', "two objects in one file"),
        ('{"a": 1 "b": 2}', "a comma is missing between two items"),
        ('{"a": "unfinished}', "a closing double quote is missing"),
        ("ods,name\nG82001,Surgery", "at line 1, column 1, it does not begin as JSON does, with {"),
        ("", "it does not begin as JSON does"),
    ):
        with pytest.raises(Refused) as refused:
            parse_json(text, "file", "claim.json")
        assert refused.value.fields["file"].startswith("claim.json is not valid JSON: ") and words in str(
            refused.value.fields["file"]
        ), refused.value.fields


def test_show_starts_every_value_in_one_column_however_long_a_label(capsys: pytest.CaptureFixture[str]) -> None:
    """Labels are right-aligned to the longest ('Reasons given for the offer' ran past a fixed 24 characters)."""
    starter.print_rows([("Reference", "CLM-1"), ("Reasons given for the offer", "referrals only"), ("Outcome", "paid")])
    lines = capsys.readouterr().out.splitlines()
    assert [line.index(": ") for line in lines] == [len("Reasons given for the offer")] * 3
    assert lines[0].endswith("Reference: CLM-1") and lines[2].endswith("Outcome: paid")


def test_show_keeps_each_line_of_a_value_in_its_column(capsys: pytest.CaptureFixture[str]) -> None:
    """A reason typed over two lines in a browser (sent with CRLF) prints as two lines, both in the value column."""
    starter.print_rows([("Reasons", "line one\r\nline two"), ("Outcome", "paid")])
    assert capsys.readouterr().out.splitlines() == ["Reasons: line one", "         line two", "Outcome: paid"]
