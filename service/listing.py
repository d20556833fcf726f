"""Lists of escalations through Temporal visibility, from search attributes alone (no call per row): the rows
and their query (the dashboard's and `starter.py list`'s), and the dashboard's page of them: one visibility query
per page, paged by Temporal's page tokens, sorted by any column, with counts per state; never a write.

Temporal's SQL visibility (the dev server, SQLite, PostgreSQL) refuses `ORDER BY`; Elasticsearch
accepts it. So a sort other than newest-first asks the server to order first and, where it cannot,
reads up to `SORT_LIMIT` matching rows in one paged query and sorts them here; beyond that the page
says the sort covers the first `SORT_LIMIT` and asks for a narrower search.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode, WorkflowService

from domain.wording import STOPPED
from service.gate import ListFilters
from service.kind_names import CASE_KINDS, TOP_LEVEL_KINDS
from service.refusals import search_refusals
from workflows import search_attributes as sa

if TYPE_CHECKING:
    from temporalio.client import Client


@dataclass(frozen=True)
class EscalationRow:
    """One escalation as a list shows it, from its search attributes alone (no call per row)."""

    id: str
    kind: str | None
    status: str | None
    payer: str | None
    level: int | None
    overdue: bool
    stalled: bool
    underpaid: bool
    holder: str | None
    next_deadline: datetime | None
    started: datetime
    title: str | None = None
    practices: tuple[str, ...] = ()
    practice_count: int | None = None
    claimed_pence: int | None = None
    agreed_pence: int | None = None
    paid_pence: int | None = None
    held: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "payer": self.payer,
            "level": self.level,
            "overdue": self.overdue,
            "stalled": self.stalled,
            "underpaid": self.underpaid,
            "holder": self.holder,
            "next_deadline": self.next_deadline.isoformat() if self.next_deadline else None,
            "started": self.started.isoformat(),
            "title": self.title,
            "practices": list(self.practices),
            "claimed_pence": self.claimed_pence,
            "agreed_pence": self.agreed_pence,
            "paid_pence": self.paid_pence,
            "emails_held": self.held,
        }


def list_query(filters: ListFilters) -> str:
    """A visibility query; without a kind, the escalations officers start (not their parts)."""
    kinds = ", ".join(f"'{name}'" for name in TOP_LEVEL_KINDS)
    # Without a kind, the escalations officers start; but a short-paid practice is listed with them, and so is the
    # part a search names (a practice's code, an address, a reference). Words of a title, which an incident's
    # practices share with it, find its parts only when asked to ("Include practices' requests", `--parts`).
    named = any(not search_clause(word).startswith(sa.TITLE.name) for word in (filters.search or "").split())
    parts = filters.kind or filters.underpaid or filters.parts or named
    every_kind = ", ".join(f"'{name}'" for name in sorted(CASE_KINDS))  # escalations and their parts: no cohorts
    clauses = [f"{sa.KIND.name} IN ({every_kind if parts else kinds})"]
    for key, value in ((sa.KIND, filters.kind), (sa.STATUS, filters.status), (sa.PAYER, filters.payer)):
        if key is sa.STATUS and value == STOPPED:  # its own status stops where it was: Temporal's says
            clauses.append("ExecutionStatus IN ('Terminated', 'Canceled')")
        elif value:  # the gate allowed only letters, digits and underscores
            clauses.append(f"{key.name} = '{value}'")
    if filters.overdue:
        clauses.append(f"{sa.OVERDUE.name} = true")
    if filters.stalled:
        clauses.append(f"{sa.STALLED.name} = true")
    if filters.underpaid:
        clauses.append(f"{sa.UNDERPAID.name} = true")
    if filters.level:
        clauses.append(f"{sa.LADDER_LEVEL.name} = {int(filters.level)}")
    if filters.held:
        clauses.append(f"{sa.EMAILS_HELD.name} = 'yes'")
    clauses += [search_clause(word) for word in (filters.search or "").split()]
    return " AND ".join(clauses)


_REFERENCE = re.compile(r"[A-Z]{2,5}-[A-Z0-9-]*")
_PRACTICE_CODE = re.compile(r"[A-Z][0-9]{5}")  # domain.escalation.PRACTICE_CODE, not imported: `list` stays light


def search_clause(word: str) -> str:
    """One searched word as a visibility clause: an ODS code, a contact's address, the start of a
    reference, or a word of the title. The gate (`SearchWords`) let through no quote or operator."""
    if _PRACTICE_CODE.fullmatch(word.upper()):
        return f"{sa.PRACTICES.name} = '{word.upper()}'"
    if "@" in word:
        return f"{sa.CONTACTS.name} = '{word.lower()}'"
    if _REFERENCE.fullmatch(word.upper()):
        return f"WorkflowId STARTS_WITH '{word.upper()}'"
    return f"{sa.TITLE.name} = '{word}'"


_STOPPED = (
    WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED,
    WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED,
)


def row_from_record(info: WorkflowExecutionInfo) -> EscalationRow:
    """A list row straight from a visibility record: search attributes are plain JSON payloads (never
    encoded by the payload codec), so each is read with one `json.loads`, not the SDK's typed decoding."""
    fields = info.search_attributes.indexed_fields

    def value(key: SearchAttributeKey[Any]) -> Any:
        payload = fields.get(key.name)
        return json.loads(payload.data) if payload is not None and payload.data else None

    deadline = value(sa.NEXT_DEADLINE)
    row = EscalationRow(
        id=info.execution.workflow_id,
        kind=value(sa.KIND),
        status=value(sa.STATUS),
        payer=value(sa.PAYER),
        level=value(sa.LADDER_LEVEL),
        overdue=bool(value(sa.OVERDUE)),
        stalled=bool(value(sa.STALLED)),
        underpaid=bool(value(sa.UNDERPAID)),
        holder=value(sa.BALL_HOLDER),
        next_deadline=datetime.fromisoformat(deadline) if isinstance(deadline, str) else None,
        started=info.start_time.ToDatetime(tzinfo=UTC),
        title=value(sa.TITLE),
        practices=tuple(value(sa.PRACTICES) or ()),
        practice_count=value(sa.PRACTICE_COUNT),
        claimed_pence=sa.pence_of(value(sa.CLAIMED)),
        agreed_pence=sa.pence_of(value(sa.AGREED)),
        paid_pence=sa.pence_of(value(sa.PAID)),
        held=value(sa.EMAILS_HELD) == "yes",
    )
    if info.status in _STOPPED:  # as ops left it: its own status stops where it was; nothing is due or awaited
        return replace(row, status=STOPPED, overdue=False, stalled=False, holder=None, next_deadline=None)
    return row


class Visibility(Protocol):
    """What `list_escalations` needs of Temporal: a `Client` has it, and so has `temporal_client.ServiceVisibility`,
    which `starter.py list` connects without importing temporalio.client (about 0.1 s of its start)."""

    @property
    def workflow_service(self) -> WorkflowService: ...

    @property
    def namespace(self) -> str: ...


async def list_escalations(client: Visibility, query: str) -> list[EscalationRow]:
    """Every row matching `query`, a thousand a page, as `client.list_workflows` pages them (with its retries), but
    read by `row_from_record`: the SDK's typed decoding of every search attribute would cost a `list` of 300
    rows about 0.1 s."""
    rows: list[EscalationRow] = []
    token = b""
    with search_refusals("the list"):
        while True:
            found, token = await _records(client, query, 1000, token, retry=True)
            rows += found
            if not token:
                return rows


async def _records(
    client: Visibility, query: str, size: int, token: bytes, retry: bool = False
) -> tuple[list[EscalationRow], bytes]:
    """One page of visibility records matching `query`, as rows, and the next page's token (empty at the end)."""
    answer = await client.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(namespace=client.namespace, page_size=size, next_page_token=token, query=query),
        retry=retry,
    )
    return [row_from_record(info) for info in answer.executions], answer.next_page_token


PAGE_SIZE = 50
SORT_LIMIT = 2000
COUNTS_FOR_SECONDS = 2.0
"""Counts are a handful of count queries; one user's refreshes and many users at once share them this long."""
SHARED_FOR_SECONDS = 1.0
"""A page of rows is shared this long by everyone asking for the same one (visibility lags about as much)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Column:
    label: str
    attribute: str | None  # the search attribute the server orders by, where it can
    key: Callable[[EscalationRow], Any]


COLUMNS: dict[str, Column] = {
    "reference": Column("Reference", "WorkflowId", lambda r: r.id),
    "title": Column("Title", None, lambda r: (r.title or "").lower()),
    "kind": Column("Kind", sa.KIND.name, lambda r: r.kind or ""),
    "counterpart": Column("ICB or trust", sa.PAYER.name, lambda r: r.payer or ""),
    "practices": Column("Practices", sa.PRACTICE_COUNT.name, lambda r: r.practice_count or 0),
    "claimed": Column("Claimed", sa.CLAIMED.name, lambda r: r.claimed_pence or 0),
    "agreed": Column("Agreed", sa.AGREED.name, lambda r: r.agreed_pence or 0),
    "paid": Column("Paid", sa.PAID.name, lambda r: r.paid_pence or 0),
    "deadline": Column(
        "Next deadline", sa.NEXT_DEADLINE.name, lambda r: (r.next_deadline is None, r.next_deadline or _EPOCH)
    ),
    "level": Column("Ladder level", sa.LADDER_LEVEL.name, lambda r: r.level or 1),
    "holder": Column("Whose move", sa.BALL_HOLDER.name, lambda r: r.holder or ""),
    "status": Column("Status", sa.STATUS.name, lambda r: r.status or ""),
    "started": Column("Started", "StartTime", lambda r: r.started),
}
DEFAULT_SORT = ("started", "desc")


@dataclass
class Page:
    rows: list[EscalationRow]
    next_token: str | None = None  # the next page's token (newest-first or server-ordered)
    offset: int = 0  # rows before this page
    next_offset: int | None = None  # sorted here: where the next page starts
    capped: bool = False  # more matched than SORT_LIMIT: sorted among the first SORT_LIMIT only


@dataclass
class Counts:
    total: int
    by_filter: dict[str, int] = field(default_factory=dict)
    by_holder: dict[str, int] = field(default_factory=dict)


def encode_token(token: bytes) -> str:
    return base64.urlsafe_b64encode(token).decode("ascii")


def decode_token(text: str) -> bytes | None:
    """A page token from a URL; anything that is not one reads as the first page."""
    try:
        return base64.urlsafe_b64decode(text.encode("ascii")) if text else None
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


_server_orders: dict[str, bool] = {}  # per Temporal address: does its visibility accept ORDER BY?


async def page(client: Client, query: str, sort: str, descending: bool, token: str, offset: int) -> Page:
    """One page of rows matching `query`, sorted by the column `sort`."""
    column = COLUMNS.get(sort) or COLUMNS[DEFAULT_SORT[0]]
    with search_refusals("the list"):
        if column is COLUMNS["started"] and descending:  # the server's own order: page tokens, any size
            return await _server_page(client, query, token, offset)
        address = client.service_client.config.target_host
        if column.attribute and _server_orders.get(address, True):
            ordered = f"{query} ORDER BY {column.attribute} {'DESC' if descending else 'ASC'}".strip()
            try:
                found = await _server_page(client, ordered, token, offset)
                _server_orders[address] = True
                return found
            except RPCError as err:
                if err.status is not RPCStatusCode.INVALID_ARGUMENT or "ORDER BY" not in err.message:
                    raise
                _server_orders[address] = False
        return await _sorted_here(client, query, column, descending, offset)


async def _listed(client: Client, query: str, size: int, token: bytes | None) -> tuple[list[EscalationRow], bytes]:
    """One page of visibility records as rows, shared for SHARED_FOR_SECONDS by everyone asking the same."""

    key = ("page", client.service_client.config.target_host, query, size, token)
    return await shared(key, SHARED_FOR_SECONDS, lambda: _records(client, query, size, token or b""))


async def all_rows(client: Client, query: str, limit: int = 10_000) -> list[EscalationRow]:
    """Every row matching `query` (up to `limit`), a thousand a page."""
    rows: list[EscalationRow] = []
    token: bytes | None = None
    with search_refusals("the list"):
        while len(rows) < limit:
            found, token = await _listed(client, query, 1000, token)
            rows += found
            if not token:
                break
    return rows[:limit]


async def _server_page(client: Client, query: str, token: str, offset: int) -> Page:
    rows, after = await _listed(client, query, PAGE_SIZE, decode_token(token))
    return Page(rows=rows, next_token=encode_token(after) if after else None, offset=offset)


async def _sorted_here(client: Client, query: str, column: Column, descending: bool, offset: int) -> Page:
    rows: list[EscalationRow] = []
    token: bytes | None = None
    while True:
        found, token = await _listed(client, query, 1000, token)
        rows += found
        if not token or len(rows) >= SORT_LIMIT:
            break
    capped = len(rows) > SORT_LIMIT or (len(rows) == SORT_LIMIT and bool(token))
    rows = sorted(rows[:SORT_LIMIT], key=column.key, reverse=descending)
    offset = max(0, min(offset, len(rows)))
    shown = rows[offset : offset + PAGE_SIZE]
    more = offset + PAGE_SIZE < len(rows)
    return Page(rows=shown, offset=offset, next_offset=offset + PAGE_SIZE if more else None, capped=capped)


OPEN = "CloseTime IS NULL"
"""A run still open: today the same runs as `ExecutionStatus = 'Running'` (and, should Temporal's workflow pause be
switched on, paused ones too), which the dev server's SQLite visibility answers by reading every running workflow
(an incident's thousands of practices among them) before the escalations asked for. Beside 6,300 practices,
counting 300 escalations took 24 ms that way and 2 ms this way. Production's PostgreSQL visibility reads it as the dev
server's SQLite does: Temporal's SQL query converter, shared by both, takes `IS NULL` on CloseTime and leaves
the column uncoalesced for it (`convertIsExpr` in common/persistence/visibility/store/sql of
temporalio/temporal)."""

FLAG_CLAUSES = {
    "overdue": f"{sa.OVERDUE.name} = true",
    "stalled": f"{sa.STALLED.name} = true",
    "underpaid": f"{sa.UNDERPAID.name} = true",
    "held": f"{sa.EMAILS_HELD.name} = 'yes'",
    "open": OPEN,
}
HOLDERS = ("payer", "officer", "practice")


async def counts(client: Client, query: str) -> Counts:
    """How many match `query`, and of those how many are open, overdue, stalled, underpaid, with emails
    held, and whose move it is: count queries at once, kept for COUNTS_FOR_SECONDS."""
    key = ("counts", client.service_client.config.target_host, query)
    return await shared(key, COUNTS_FOR_SECONDS, lambda: _count(client, query))


async def _count(client: Client, query: str) -> Counts:
    def within(clause: str) -> str:
        return f"({query}) AND {clause}" if query else clause

    flags = list(FLAG_CLAUSES)
    queries = [
        query,
        *(within(FLAG_CLAUSES[f]) for f in flags),
        *(within(f"{sa.BALL_HOLDER.name} = '{h}' AND {OPEN}") for h in HOLDERS),
    ]
    with search_refusals("the counts"):
        answers = await asyncio.gather(*(client.count_workflows(q) for q in queries))
    return Counts(
        total=answers[0].count,
        by_filter={f: a.count for f, a in zip(flags, answers[1 : 1 + len(flags)], strict=True)},
        by_holder={h: a.count for h, a in zip(HOLDERS, answers[1 + len(flags) :], strict=True)},
    )


T = TypeVar("T")
_kept: dict[tuple[Any, ...], tuple[float, asyncio.Future[Any]]] = {}


async def shared(key: tuple[Any, ...], seconds: float, ask: Callable[[], Awaitable[T]]) -> T:
    """`ask()`'s answer, shared by every caller with the same key for `seconds` (visibility lags about a
    second anyway); callers arriving while it is being asked wait for the same answer, so twenty officers
    opening the dashboard at once cost Temporal one query, not twenty. The asking runs as a task of its own, so
    a caller that goes away (a closed browser tab) never cancels it for the others. A failure is not kept."""
    now = time.monotonic()
    kept = _kept.get(key)
    if kept is None or now - kept[0] >= seconds:
        if len(_kept) > 512:
            _kept.clear()
        task: asyncio.Task[T] = asyncio.ensure_future(ask())
        task.add_done_callback(lambda done: _forget_failure(key, done))
        kept = (now, task)
        _kept[key] = kept
    return cast(T, await asyncio.shield(kept[1]))


def _forget_failure(key: tuple[Any, ...], done: asyncio.Future[Any]) -> None:
    failed = done.cancelled() or done.exception() is not None
    if failed and (kept := _kept.get(key)) is not None and kept[1] is done:
        del _kept[key]
