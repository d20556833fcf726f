"""One typed refusal for everything the engine declines to do, and Temporal's errors turned into it.

A refusal is never a crash: the web maps it once to a 4xx page or JSON body (`web/refusal_pages.py`),
the command line once to an exit code (`starter.py`). Nothing above the service layer sees a Temporal
error: `temporal_refusals` translates them here, in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from temporalio.client import WorkflowFailureError, WorkflowQueryRejectedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode


class Why(StrEnum):
    """Why something was refused; each maps to one HTTP status and one exit code."""

    INVALID = "invalid"  # the input itself is wrong: a field is named
    NOT_OPEN = "not_open"  # the action is not open in the escalation's current state
    CLOSED = "closed"  # the escalation has finished
    NOT_FOUND = "not_found"  # no such escalation (or email, or account)
    NOT_PERMITTED = "not_permitted"  # this person may not do this (role, conflict of interest)
    NOT_SIGNED_IN = "not_signed_in"
    UNAVAILABLE = "unavailable"  # Temporal or a worker cannot answer now: nothing was recorded


HTTP_STATUS: dict[Why, int] = {
    Why.INVALID: 422,
    Why.NOT_OPEN: 409,
    Why.CLOSED: 409,
    Why.NOT_FOUND: 404,
    Why.NOT_PERMITTED: 403,
    Why.NOT_SIGNED_IN: 401,
    Why.UNAVAILABLE: 503,
}

EXIT_CODE: dict[Why, int] = {why: 3 if why is Why.UNAVAILABLE else 2 for why in Why}
"""The CLI's exit codes (README): 2 for anything refused, 3 when the engine cannot be reached."""


class Refused(Exception):
    """A refusal with a message for a person; `fields` names the inputs at fault, if any."""

    def __init__(self, why: Why, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.why = why
        self.message = message
        self.fields = fields or {}

    @classmethod
    def invalid(cls, fields: dict[str, str]) -> Refused:
        return cls(Why.INVALID, "; ".join(f"{name}: {problem}" for name, problem in fields.items()), fields)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.why]

    @property
    def exit_code(self) -> int:
        return EXIT_CODE[self.why]

    def as_json(self) -> dict[str, object]:
        return {"refused": self.why.value, "message": self.message, "fields": self.fields}


_CLOSED_PHRASES = ("workflow execution already completed", "already completed", "workflow execution not found")


@contextmanager
def temporal_refusals(escalation_id: str) -> Iterator[None]:
    """Turn what Temporal says about one escalation into a `Refused` a person can read."""
    try:
        yield
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = getattr(cause, "message", None) or str(cause)
        kind = cause.type if isinstance(cause, ApplicationError) else None
        why = Why.NOT_PERMITTED if kind == "ConflictOfInterest" else Why.NOT_OPEN
        if "is closed" in message:
            why = Why.CLOSED
        raise Refused(why, message) from err
    except WorkflowQueryRejectedError as err:
        raise Refused(Why.CLOSED, f"{escalation_id} has finished; nothing more can be recorded.") from err
    except WorkflowFailureError as err:
        raise Refused(Why.CLOSED, f"{escalation_id} has finished ({err.cause}).") from err
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            if any(p in err.message.lower() for p in _CLOSED_PHRASES[:2]):
                raise Refused(Why.CLOSED, f"{escalation_id} has finished; nothing more can be recorded.") from err
            raise Refused(Why.NOT_FOUND, f"There is no escalation {escalation_id}.") from err
        if err.status is RPCStatusCode.INVALID_ARGUMENT:
            raise Refused(Why.INVALID, f"Temporal could not take that request: {err.message}") from err
        raise Refused(
            Why.UNAVAILABLE,
            "The escalation engine did not answer in time; nothing was recorded. Please try again in a minute.",
        ) from err
