"""Starting an escalation of any kind: its data through the kind's builder (the gate), then its
workflow under its own reference, with the search attributes ops filter on."""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.configuration import EscalationConfig
from domain.identifiers import comparable, has_visible_text
from domain.responses import digest
from domain.validation import NOT_A_FIELD
from kinds.spec import KindSpec
from persistence.database import shared_engine
from persistence.incident_practices import IncidentPractices
from service.gate import birth_dates_in, parse_json, refuse_field, unknown_fields
from service.refusals import Refused, Why, temporal_refusals
from settings import Settings
from workflows import search_attributes as sa

_LETTERS = "ABCDEFGHJKMNPQRSTVWXYZ"
_ID_ALPHABET = _LETTERS + "23456789"


def new_escalation_id(spec: KindSpec, today: date | None = None) -> str:
    """A case reference that says nothing about patients or practices: kind, year, random. The
    suffix starts with a letter, so year and suffix never read as ten digits (an NHS number's shape)."""
    year = (today or datetime.now(UTC).date()).year
    suffix = secrets.choice(_LETTERS) + "".join(secrets.choice(_ID_ALPHABET) for _ in range(5))
    return f"{spec.id_prefix}-{year}-{suffix}"


def escalation_id_for(spec: KindSpec, submission_id: str, today: date | None = None) -> str:
    """The reference a start form's one-time submission id stands for, the same every time it is sent,
    so a form sent twice starts one escalation (`start(..., once=True)`). Random-looking as
    `new_escalation_id`'s, from a hash of the id; the suffix starts with a letter, likewise."""
    year = (today or datetime.now(UTC).date()).year
    digest = hashlib.sha256(submission_id.encode()).digest()
    suffix = _LETTERS[digest[0] % len(_LETTERS)] + "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[1:6])
    return f"{spec.id_prefix}-{year}-{suffix}"


def prepare(spec: KindSpec, config: EscalationConfig, data: Any, escalation_id: str | None = None) -> BaseModel:
    """The kind's start model from officer data, or `Refused` naming the field."""
    if not isinstance(data, dict):
        raise refuse_field("input", "expected a JSON object with the escalation's fields")
    unknown = unknown_fields(spec.request_model, data)
    problems = {path: NOT_A_FIELD for path in unknown[:20]}
    title = data.get("title")
    if isinstance(title, str) and title and not has_visible_text(title):  # every kind's: subjects and headings
        problems["title"] = "is blank"
    problems |= birth_dates_in(data)
    reference = escalation_id or new_escalation_id(spec)
    if problems:  # said with whatever else the file would be refused for, so one edit can mend it all
        try:
            spec.build(config, _without(data, unknown), reference)
        except Refused as rest:
            problems = {**rest.fields, **problems}
        raise Refused.invalid(problems)
    prepared = spec.build(config, data, reference)
    return prepared.model_copy(update={"calendar": config.calendar})  # the calendar the builder checked dates on


def _without(data: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """A copy of `data` without the entries at these dotted paths ('lines.2.evidnce')."""
    copied: dict[str, Any] = copy.deepcopy(data)
    for path in paths:
        *parents, last = path.split(".")
        node: Any = copied
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, dict):
            node.pop(last, None)
    return copied


def read_json(path: Path) -> Any:
    """A start file's contents; an unreadable or malformed file is refused, naming where."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # with or without the byte-order mark Windows editors write
    except OSError as err:
        raise refuse_field("file", f"cannot read {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise refuse_field("file", f"{path} is not UTF-8 text") from err
    return parse_json(text, "file", str(path))


def store_practice_list(settings: Settings, spec: KindSpec, prepared: BaseModel) -> BaseModel:
    """An incident's practices, stored once under its reference before its workflow starts (idempotent:
    a retried start writes the same rows); the start model then carries only their count."""
    if spec.practice_list is None:
        return prepared
    rows, slim = spec.practice_list(prepared)
    if rows:
        try:
            IncidentPractices(shared_engine(settings.database)).store(str(getattr(prepared, "escalation_id")), rows)  # noqa: B009
        except SQLAlchemyError as err:
            raise Refused(
                Why.UNAVAILABLE, "The database did not answer; nothing was started. Please try again in a minute."
            ) from err
    return slim


SENT_MEMO = "sent"
"""The memo key under which an escalation started from a form keeps the digest of what the form sent."""


def sent_digest(data: Any) -> str:
    """What a start form sent, as a short digest: the same values, the same digest."""
    return digest(json.dumps(data, sort_keys=True, default=str, ensure_ascii=False))


class StartedBefore(Refused):
    """A start form sent again under its one-time submission id with other values (changed after the Back
    button): the escalation the first values started stands, and these are not used."""

    def __init__(self, escalation_id: str) -> None:
        super().__init__(
            Why.NOT_OPEN,
            f"This form had already been sent, with other values, and started {escalation_id} with those: what "
            "you changed was not used. Its page shows what it holds. To start another escalation with these "
            'values, tick "Start another anyway" and send this form again.',
        )


async def _digest_started_with(client: Client, escalation_id: str) -> str | None:
    """The sent digest the escalation was started with: None if it has not been started, '' if it was started
    without one (from a file, or before forms' starts kept it)."""
    try:
        described = await client.get_workflow_handle(escalation_id).describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return str((await described.memo()).get(SENT_MEMO, ""))


async def start(
    client: Client,
    settings: Settings,
    spec: KindSpec,
    prepared: BaseModel,
    once: bool = False,
    sent: str | None = None,
    title: str | None = None,
) -> str:
    """Start the escalation. With `once` (its reference came from a form's submission id), starting it
    again while it runs is the same start, answered with the same reference; after it has finished,
    refused as already there. With `sent` (`sent_digest` of what the form sent), a start sent again with other
    values is refused (`StartedBefore`) before anything is stored: an incident's practice list stays the first.
    With `title`, the run is listed under it from its start, so a twin started a moment later is seen
    (`open_twin`) before the workflow publishes its own."""
    escalation_id = str(getattr(prepared, "escalation_id"))  # noqa: B009 - every start model carries it
    if once and sent is not None:
        with temporal_refusals(escalation_id):
            earlier = await _digest_started_with(client, escalation_id)
        if earlier and earlier != sent:
            raise StartedBefore(escalation_id)
    repeat: dict[str, Any] = (
        {
            "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
            "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        }
        if once
        else {}
    )
    prepared = store_practice_list(settings, spec, prepared)
    with temporal_refusals(escalation_id):
        await client.start_workflow(
            spec.run,
            prepared,
            id=escalation_id,
            task_queue=settings.task_queue,
            **repeat,
            memo={SENT_MEMO: sent} if sent is not None else None,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.KIND, spec.name),
                    SearchAttributePair(sa.STATUS, spec.first_status),
                    SearchAttributePair(sa.PAYER, spec.payer_code(prepared)),
                    *([SearchAttributePair(sa.TITLE, title)] if title else []),
                ]
            ),
        )
    return escalation_id


class OpenTwin(Refused):
    """A start whose kind, payer and title match an open escalation's (`open_twin`): asked about, not started.
    `this` is what may have been started already, as the person knows it; `anyway`, how to start it all the same."""

    def __init__(self, twin: str, this: str, anyway: str) -> None:
        super().__init__(
            Why.NOT_OPEN,
            f"{twin} is open with the same title and payer: {this} may have been started already, and nothing was "
            f"started now. To start another anyway, {anyway}.",
        )


async def refuse_open_twin(
    client: Client, spec: KindSpec, prepared: BaseModel, title: str, this: str, anyway: str
) -> None:
    """Raise `OpenTwin` if an open escalation has this start's kind, payer and title."""
    twin = await open_twin(client, spec, prepared, title)
    if twin is not None:
        raise OpenTwin(twin, this, anyway)


async def open_twin(client: Client, spec: KindSpec, prepared: BaseModel, title: str) -> str | None:
    """An open escalation of the same kind, payer and title as this start, if there is one: a start file run twice,
    or the start form filled in twice (a trust billed twice), is asked about before it goes, rather than found out
    later. Not the start itself: a form sent twice is the one start, answered with its reference."""
    from service.listing import OPEN, list_escalations

    own = str(getattr(prepared, "escalation_id"))  # noqa: B009 - every start model carries it
    payer = spec.payer_code(prepared)
    query = f"{sa.KIND.name} = '{spec.name}' AND {sa.PAYER.name} = '{payer}' AND {OPEN}"
    with temporal_refusals("the list"):
        rows = await list_escalations(client, query)
    return next((r.id for r in rows if r.id != own and comparable(r.title or "") == comparable(title)), None)
