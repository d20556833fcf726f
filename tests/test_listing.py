"""`starter.py list` imports only the listing (issue #16: the whole process under 0.4 s), and the listing's
kind names are the registry's."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.testing import WorkflowEnvironment

from domain import wording
from kinds import KINDS, case_kinds
from service.gate import ListFilters, admit
from service.kind_names import CASE_KINDS, TOP_LEVEL_KINDS
from service.listing import list_escalations, list_query
from service.refusals import Refused, Why
from settings import ROOT
from workflows import search_attributes as sa

# What `show` needs and `list` does not: the workflows, the activities and the database layer; and what `list`
# reads without: the SDK's client (it reaches Temporal through the service layer) and email_validator (it
# validates no address).
HEAVY = (
    "workflows.escalation_workflow",
    "activities.audit",
    "persistence.audit_log",
    "sqlalchemy",
    "kinds",
    "temporalio.client",
    "email_validator",
)

PROBE = """
import sys
import starter
code = starter.main(["list", "--json"])
heavy = [m for m in {heavy!r} if m in sys.modules]
print(code, *heavy)
"""


def test_the_listing_names_every_kind_the_registry_has() -> None:
    assert tuple(spec.name for spec in KINDS) == TOP_LEVEL_KINDS
    assert case_kinds() == CASE_KINDS
    query = list_query(ListFilters())
    assert all(f"'{spec.name}'" in query for spec in KINDS)


def test_list_imports_neither_the_workflows_nor_the_database(dev_env: WorkflowEnvironment) -> None:
    # Against the dev server: `list` runs to the end (exit 0), having imported only what it uses.
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        cwd=ROOT,
        env={
            "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "PATH": "/usr/bin:/bin",
            "LINK_SECRET": "test-link-secret",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.splitlines()[-1:] == ["0"], done.stdout + done.stderr  # the exit code, and nothing heavy


async def test_a_search_temporal_refuses_is_said_as_such_not_as_a_missing_escalation(
    dev_env: WorkflowEnvironment,
) -> None:
    # A server without the engine's search attributes refuses the query (INVALID_ARGUMENT), which once read as
    # "There is no escalation the list: that is not a reference the engine issues."
    with pytest.raises(Refused) as refused:
        await list_escalations(dev_env.client, "NoSuchAttribute = 'x'")
    assert refused.value.why is Why.UNAVAILABLE
    assert refused.value.message.startswith("The escalation engine could not search its escalations for the list")
    assert "search attributes may not be set up" in refused.value.message
    assert "There is no escalation" not in refused.value.message


def test_the_list_shows_a_deadline_as_the_officer_reads_it_in_london_time() -> None:
    import starter

    assert starter.when(datetime(2026, 12, 4, 17, 0, tzinfo=UTC)) == "Fri 4 Dec 2026, 5pm"  # as emails say it
    assert starter.when(datetime(2026, 7, 3, 16, 0, tzinfo=UTC)) == "Fri 3 Jul 2026, 5pm"  # British Summer Time
    assert starter.when(datetime(2026, 12, 4, 9, 30, tzinfo=UTC)) == "Fri 4 Dec 2026, 9:30am"


@pytest.mark.parametrize(
    ("search", "parts_too"),
    [("uACR", False), ("uacr error", False), ("E87001", True), ("pm@nhs.example", True), ("PEC-2026", True)],
)
def test_a_search_by_title_words_keeps_to_what_officers_start_and_one_naming_a_part_finds_it(
    search: str, parts_too: bool
) -> None:
    """Words of a title, which an incident's forty practices share with it, list the incident alone unless parts
    are asked for; a practice's code, an address or a reference names what it finds, parts included."""
    top_level = f"{sa.KIND.name} IN ('unfunded_claim', 'pathology_error', 'deregistration', 'interface_alert')"
    query = list_query(ListFilters(search=search))
    assert (top_level not in query) is parts_too, query
    with_parts = list_query(ListFilters(search=search, parts=True))
    assert top_level not in with_parts and "'practice_return'" in with_parts  # parts, but never a cohort (no kind)


@given(kind=st.one_of(st.none(), st.text(max_size=60)), status=st.one_of(st.none(), st.text(max_size=60)))
def test_a_kind_or_status_filter_is_one_there_is_or_refused_naming_its_field(
    kind: str | None, status: str | None
) -> None:
    """What a person types as a filter is read as a name (any case, spaces or hyphens), or refused with the
    field named: never an empty list for a slip, never an error of another sort."""
    try:
        filters = admit(ListFilters, {"kind": kind, "status": status})
    except Refused as refused:
        assert refused.why is Why.INVALID and set(refused.fields) <= {"kind", "status"} and refused.fields
        return
    assert filters.kind is None or filters.kind in CASE_KINDS
    assert filters.status is None or wording.is_status(filters.status)


def test_a_kind_is_read_as_the_console_names_it() -> None:
    for spec in KINDS:
        assert admit(ListFilters, {"kind": spec.label}).kind == spec.name
        assert admit(ListFilters, {"kind": spec.label.upper()}).kind == spec.name
    assert admit(ListFilters, {"kind": "unfunded claim"}).kind == "unfunded_claim"
    assert admit(ListFilters, {"kind": "Pathfinder deregistration redistribution"}).kind == "deregistration"
    assert admit(ListFilters, {"kind": "Unfunded work claim"}).kind == "unfunded_claim"


def test_a_search_takes_a_titles_words_as_typed_and_a_refusal_says_which_rule() -> None:
    """A title pasted in ("Q2 2017/18, A&E", "café") is searched by its words, punctuation parting them as the
    visibility store's text search parts a title; too many words, or one longer than any reference or address (a
    pasted paragraph), is refused saying so. No quote or operator reaches the query."""
    for typed, words in (("a b c d e f g h i", "up to 8 words at once (9 were given)"), ("x" * 500, "(up to 80")):
        with pytest.raises(Refused) as refused:
            admit(ListFilters, {"search": typed})
        assert words in refused.value.fields["search"], refused.value.fields
    assert admit(ListFilters, {"search": "St John's"}).search == "St John s"
    assert admit(ListFilters, {"search": "Q2 2017/18, A&E café"}).search == "Q2 2017 18 A E café"
    assert admit(ListFilters, {"search": "x' OR '1'='1"}).search == "x OR 1 1"


def test_a_status_is_read_as_a_person_types_it() -> None:
    assert admit(ListFilters, {"status": " Payment expected ", "kind": "Unfunded-claim"}).status == "payment_expected"
    # ... or in the words lists show it in
    assert admit(ListFilters, {"status": "Collecting practices' returns"}).status == "collecting_returns"
    assert admit(ListFilters, {"status": "paid in full"}).status == "paid"
    assert admit(ListFilters, {"status": "Stopped"}).status == "stopped"
    with pytest.raises(Refused, match="not a status any escalation can be in") as refused:
        admit(ListFilters, {"status": "bogus"})
    assert "'bogus'" in refused.value.message and "collecting_returns" not in refused.value.message
    with pytest.raises(Refused) as kind:
        admit(ListFilters, {"kind": "Pathology errors"})
    assert "'Pathology errors'" in kind.value.message and "'Pathology error compensation'" in kind.value.message


def test_a_row_says_stopped_only_for_what_ops_stopped() -> None:
    """A list row reads its own status from the case's search attributes; one Temporal says was terminated or
    cancelled reads as stopped, with nothing overdue, awaited or due (`service.listing.row_from_record`)."""
    from temporalio.api.common.v1 import Payload
    from temporalio.api.enums.v1 import WorkflowExecutionStatus as Status
    from temporalio.api.workflow.v1 import WorkflowExecutionInfo

    from service.listing import row_from_record
    from workflows import search_attributes as sa

    def record(status: int) -> WorkflowExecutionInfo:
        info = WorkflowExecutionInfo(status=status)  # type: ignore[arg-type]
        info.execution.workflow_id = "UWC-2026-ABCDEF"
        for key, value in ((sa.STATUS, '"acknowledged"'), (sa.OVERDUE, "true"), (sa.BALL_HOLDER, '"payer"')):
            info.search_attributes.indexed_fields[key.name].CopyFrom(Payload(data=value.encode()))
        return info

    for running in (Status.WORKFLOW_EXECUTION_STATUS_RUNNING, Status.WORKFLOW_EXECUTION_STATUS_COMPLETED):
        row = row_from_record(record(running))
        assert (row.status, row.overdue, row.holder) == ("acknowledged", True, "payer")
    for stopped in (Status.WORKFLOW_EXECUTION_STATUS_TERMINATED, Status.WORKFLOW_EXECUTION_STATUS_CANCELED):
        row = row_from_record(record(stopped))
        assert (row.status, row.overdue, row.holder) == ("stopped", False, None)
