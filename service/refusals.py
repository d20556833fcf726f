"""One typed refusal for everything the engine declines to do, and Temporal's errors turned into it.

A refusal is never a crash: the web maps it once to a 4xx page or JSON body (`web/refusal_pages.py`),
the command line once to an exit code (`starter.py`). Nothing above the service layer sees a Temporal
error: `temporal_refusals` translates them here, in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode


def _warn(event: str, **fields: object) -> None:
    """Log a refusal's cause. structlog is imported here, not at the top: `starter.py list` imports this module
    and need not pay for structlog (about 45 ms) unless something goes wrong."""
    import structlog

    structlog.get_logger(__name__).warning(event, **fields)


_FIELD_NAMED = re.compile(r"^(?P<field>[a-z][a-z_]*(?:\.[a-z0-9_]+)*): (?P<problem>.+)$", re.DOTALL)
"""A domain refusal that names the field at fault ("on_date: 28 December 2026 is a bank holiday; ...")."""
_FORM_NAMES = {"amount_pence": "amount"}  # the domain's field names as the forms call them


class Why(StrEnum):
    """Why something was refused; each maps to one HTTP status and one exit code."""

    INVALID = "invalid"  # the input itself is wrong: a field is named
    NOT_OPEN = "not_open"  # the action is not open in the escalation's current state
    CLOSED = "closed"  # the escalation has finished
    NOT_FOUND = "not_found"  # no such escalation (or email, or account)
    NOT_PERMITTED = "not_permitted"  # this person may not do this (role, conflict of interest)
    NOT_SIGNED_IN = "not_signed_in"
    EXPIRED = "expired"  # a console form without its current CSRF token (stale page, or not sent from it)
    MALFORMED = "malformed"  # the request itself could not be read (a broken form or JSON body)
    WRONG_METHOD = "wrong_method"  # the address exists but does not take this method
    TOO_LARGE = "too_large"  # the request body is larger than anything a form or the UI sends
    UNAVAILABLE = "unavailable"  # Temporal, a worker or the database cannot answer now: nothing was recorded


HTTP_STATUS: dict[Why, int] = {
    Why.INVALID: 422,
    Why.NOT_OPEN: 409,
    Why.CLOSED: 409,
    Why.NOT_FOUND: 404,
    Why.NOT_PERMITTED: 403,
    Why.NOT_SIGNED_IN: 401,
    Why.EXPIRED: 403,
    Why.MALFORMED: 400,
    Why.WRONG_METHOD: 405,
    Why.TOO_LARGE: 413,
    Why.UNAVAILABLE: 503,
}

EXIT_CODE: dict[Why, int] = {why: 3 if why is Why.UNAVAILABLE else 2 for why in Why}
"""The CLI's exit codes (README): 2 for anything refused, 3 when the engine cannot be reached."""


class Refused(Exception):
    """A refusal with a message for a person; `fields` names the inputs at fault, if any."""

    def __init__(self, why: Why, message: str, fields: dict[str, str] | None = None, next_step: str = "") -> None:
        super().__init__(message)
        self.why = why
        self.message = message
        self.fields = fields or {}
        self.next_step = next_step  # what to do instead, where the usual words for `why` would mislead

    @classmethod
    def invalid(cls, fields: dict[str, str]) -> Refused:
        return cls(Why.INVALID, _each_named(fields), fields)

    def renamed(self, names: dict[str, str]) -> Refused:
        """The same refusal with its fields named as the person typed them (a command line's options, say)."""
        if not self.fields:
            return self
        fields = {names.get(name, name): problem for name, problem in self.fields.items()}
        return Refused(self.why, _each_named(fields), fields)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.why]

    @property
    def exit_code(self) -> int:
        return EXIT_CODE[self.why]

    def as_json(self) -> dict[str, object]:
        return {"refused": self.why.value, "message": self.message, "fields": self.fields}


def _each_named(fields: dict[str, str]) -> str:
    return "; ".join(f"{name}: {problem}" for name, problem in fields.items())


_CLOSED_PHRASES = ("workflow execution already completed", "already completed")
_NEVER_RAN = "closed before workflowtaskstarted"
"""Temporal's answer to a query of a run stopped while a step was waiting to start: it has no state to show."""
_DOMAIN_REFUSALS = ("ResponseRefused", "ConflictOfInterest", "FieldsRefused")
_NOT_AN_ESCALATION = ("expected but not found", "unknown querytype")  # no `summary` query: not an escalation


def shown(escalation_id: str) -> str:
    """An escalation reference as a message shows it: whatever was typed, cut short if it is long."""
    return escalation_id if len(escalation_id) <= 60 else escalation_id[:60] + "…"


def _finished(escalation_id: str) -> Refused:
    return Refused(Why.CLOSED, f"{shown(escalation_id)} has finished; nothing more can be recorded.")


def _unavailable() -> Refused:
    return Refused(
        Why.UNAVAILABLE,
        "The escalation engine did not answer in time; nothing was recorded. Please try again in a minute.",
    )


def never_connected(err: BaseException) -> bool:
    """A client made lazily (the web app, started while Temporal was down) that still cannot connect:
    the SDK says so with a plain `RuntimeError`. Once connected, an outage is an `RPCError`."""
    return isinstance(err, RuntimeError) and str(err).startswith("Failed client connect")


def maybe_reached(refused: Refused) -> bool:
    """Whether what an engine-unavailable refusal was about may yet be carried out: False only where the
    request certainly never reached Temporal (no connection), True where it was sent and not answered."""
    cause = refused.__cause__
    if isinstance(cause, RPCError) and cause.status is RPCStatusCode.UNAVAILABLE:
        return False
    return cause is None or not never_connected(cause)


@contextmanager
def search_refusals(what: str) -> Iterator[None]:
    """As `temporal_refusals`, for a search over many escalations (`what`: "the list", "the counts"), which names
    none: Temporal refusing the query itself (a server whose search attributes were never registered) is said as
    such, not as "there is no escalation the list"."""
    try:
        with temporal_refusals(what):
            yield
    except Refused as refused:
        cause = refused.__cause__
        if not (isinstance(cause, RPCError) and cause.status is RPCStatusCode.INVALID_ARGUMENT):
            raise
        _warn("search_refused", what=what, error=cause.message[:200])
        why = (
            ": its search attributes may not be set up yet (starting the worker sets them up)"
            if "search attribute" in cause.message.lower()
            else ""
        )
        raise Refused(
            Why.UNAVAILABLE,
            f"The escalation engine could not search its escalations for {what}{why}. Nothing was changed.",
        ) from cause


@contextmanager
def temporal_refusals(escalation_id: str) -> Iterator[None]:
    """Turn what Temporal says about one escalation into a `Refused` a person can read.

    The domain's own refusals (the workflow's update validator) keep their words; anything else
    Temporal says is put in plain words here, never passed on raw."""
    try:
        yield
    except Exception as err:
        refused = _refusal(escalation_id, err)
        if refused is None:
            raise
        raise refused from err


_TOO_LARGE = (
    "size exceeds limit",
    "exceeds size limit",
    "blob data size",
    "message larger than max",
    "message too large",
)


def _too_large(message: str) -> bool:
    """Temporal refusing a payload past its limits (2 MB a payload, 4 MB a message): lasting, not a moment's."""
    return any(p in message.lower() for p in _TOO_LARGE)


def _too_large_refusal(escalation_id: str) -> Refused:
    _warn("payload_too_large", escalation_id=shown(escalation_id))
    return Refused(
        Why.INVALID,
        f"{shown(escalation_id)}: what was sent, or what the engine would send back, is larger than it can carry; "
        "nothing was recorded. Send less (fewer lines, shorter text), or ask ops to look at this escalation.",
    )


def _refusal(escalation_id: str, err: Exception) -> Refused | None:
    """What `err` means for the escalation, in plain words; None for anything not Temporal's to say.
    temporalio.client's errors are imported here, once something has gone wrong: `starter.py list` reaches
    Temporal through its service layer alone and need not import the client (about 0.1 s) up front."""
    from temporalio.client import (
        RPCTimeoutOrCancelledError,
        WorkflowFailureError,
        WorkflowQueryFailedError,
        WorkflowQueryRejectedError,
        WorkflowUpdateFailedError,
    )

    if isinstance(err, WorkflowUpdateFailedError):
        cause = err.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        if kind not in _DOMAIN_REFUSALS:
            if any(p in str(cause).lower() for p in _CLOSED_PHRASES):
                return _finished(escalation_id)
            _warn("update_failed", escalation_id=shown(escalation_id), cause=type(cause).__name__, kind=kind)
            return Refused(Why.NOT_OPEN, f"{shown(escalation_id)} did not accept that; nothing was recorded.")
        message = getattr(cause, "message", None) or str(cause)
        if kind == "FieldsRefused" and isinstance(cause, ApplicationError) and cause.details:  # a form, read there
            return Refused.invalid({str(k): str(v) for k, v in dict(cause.details[0]).items()})
        why = Why.NOT_PERMITTED if kind == "ConflictOfInterest" else Why.NOT_OPEN
        if "is closed" in message:
            why = Why.CLOSED
        named = _FIELD_NAMED.match(message)
        if why is Why.NOT_OPEN and named is not None:  # a rule about one field: shown beside that field
            field = _FORM_NAMES.get(named["field"], named["field"])
            return Refused(Why.INVALID, message, {field: named["problem"]})
        return Refused(why, message)
    if isinstance(err, WorkflowQueryRejectedError):
        return _finished(escalation_id)
    if isinstance(err, WorkflowQueryFailedError | RPCError) and _too_large(err.message):
        return _too_large_refusal(escalation_id)
    if isinstance(err, WorkflowQueryFailedError):  # Temporal's INVALID_ARGUMENT, or the workflow's query failed
        said = err.message.lower()
        if any(p in said for p in _NOT_AN_ESCALATION):  # a part of an escalation, not one itself
            return Refused(Why.NOT_FOUND, f"{shown(escalation_id)} is not an escalation.")
        if "workflowid" in said.replace(" ", ""):  # not a workflow ID Temporal accepts (too long, say)
            return Refused(Why.NOT_FOUND, f"There is no escalation {shown(escalation_id)}.")
        _warn("query_failed", escalation_id=shown(escalation_id), error=err.message[:200])
        return _unavailable()
    if isinstance(err, WorkflowFailureError):
        return _finished(escalation_id)
    if isinstance(err, WorkflowAlreadyStartedError):
        return Refused(Why.NOT_OPEN, f"There is already an escalation {shown(escalation_id)}.")
    if isinstance(err, RPCTimeoutOrCancelledError):  # asked, but no answer in time: it may yet be carried out
        return Refused(
            Why.UNAVAILABLE,
            "The escalation engine did not answer in time, so we cannot tell whether this was recorded. "
            "Please send it again in a minute: it will be recorded only once.",
        )
    if isinstance(err, RPCError):
        if err.status is RPCStatusCode.FAILED_PRECONDITION and _NEVER_RAN in err.message.lower():
            return _finished(escalation_id)  # stopped (by ops) before it could run a step: nothing to show or do
        if err.status is RPCStatusCode.NOT_FOUND:
            if any(p in err.message.lower() for p in _CLOSED_PHRASES):
                return _finished(escalation_id)
            return Refused(Why.NOT_FOUND, f"There is no escalation {shown(escalation_id)}.")
        if err.status is RPCStatusCode.INVALID_ARGUMENT:
            return Refused(
                Why.NOT_FOUND,
                f"There is no escalation {shown(escalation_id)}: that is not a reference the engine issues.",
            )
        _warn("temporal_unavailable", status=err.status.name if err.status else None)
        return _unavailable()
    if isinstance(err, RuntimeError) and never_connected(err):
        _warn("temporal_unavailable", status="not_connected")
        return _unavailable()
    return None
