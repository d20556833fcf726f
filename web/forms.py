"""Reading a posted form (every form in the web app), and turning a submitted link-page form into a
response, by the field specs the case gives."""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from pydantic import AfterValidator, BaseModel
from starlette.datastructures import UploadFile
from starlette.requests import Request

from domain.contacts import Role
from domain.form_response import GROUP_ROWS as GROUP_ROWS  # rows a groups field offers on the page
from domain.form_response import GROUP_ROWS_SHOWN as GROUP_ROWS_SHOWN
from domain.form_response import read_new_response
from domain.responses import FieldSpec, ResponseInput
from domain.validation import FieldsRefused
from service.gate import admit
from service.refusals import Refused
from web.templating import templates

SUBMISSION = "submission"
"""The hidden field every action form carries: a one-time id made when the page is rendered, used as
the Temporal update's id, so the same form sent twice (a double click, a retry after a timeout) is
applied once and answered with the first outcome."""

_SUBMISSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def new_submission_id() -> str:
    """A fresh one-time id for one rendered form (22 URL-safe characters, 128 random bits)."""
    return secrets.token_urlsafe(16)


# Each action form calls this once when rendered, so two forms on one page never share an id.
templates.env.globals["new_submission_id"] = new_submission_id


def _submission_id(value: str) -> str:
    if not (value.isascii() and _SUBMISSION_ID.fullmatch(value)):
        raise ValueError("not a submission id this site issued; reload the page and send the form again")
    return value


class Submission(BaseModel):
    """A form's one-time submission id, through the gate: ASCII, 8 to 64 of A-Z a-z 0-9 _ -."""

    submission: Annotated[str, AfterValidator(_submission_id)]


def submission_from_form(form: dict[str, str]) -> str:
    """The form's submission id, or `Refused` naming `submission` if it is malformed.

    A form without the field (a page rendered before forms carried one, still open in someone's
    browser) is accepted with a fresh id made here: that submission is recorded as before, just
    without protection from being sent twice, and the person loses nothing they typed."""
    if SUBMISSION not in form:
        return new_submission_id()
    return admit(Submission, {SUBMISSION: form[SUBMISSION]}).submission


def typed_again(form: dict[str, str]) -> dict[str, str]:
    """A form as typed, to show again for sending again: with its own submission id if that is valid
    (nothing was recorded under it, or what was is the answer to sending it again), else a fresh one."""
    try:
        submission = submission_from_form(form)
    except Refused:
        submission = new_submission_id()
    return {**form, SUBMISSION: submission}


def plain_line(value: str, longest: int = 320) -> bool:
    """Whether `value` could be a key we stored (an email address, a message ID): one line of
    printable text, not too long. Anything else cannot be one, so it is not looked up (PostgreSQL
    refuses a NUL in a query outright)."""
    return 0 < len(value) <= longest and value.isprintable()


async def posted_form(request: Request) -> dict[str, str]:
    """A posted form's fields, each once and as text: our pages send nothing else, so a field sent
    twice (which value would count?) or as a file is refused, naming it. A body that is not a
    form at all reads as no fields; one that claims to be a form and cannot be read is Starlette's
    400, answered by the refusal map."""
    fields: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name, value in (await request.form()).multi_items():
        shown = name[:60] or "(a field without a name)"
        if isinstance(value, UploadFile):
            problems[shown] = "a file was sent; type the value into the form instead"
        elif name in fields:
            problems[shown] = "sent more than once; send the form from its page"
        else:
            fields[name] = value
    if problems:
        raise Refused.invalid(problems)
    return fields


def response_from_form(form: dict[str, str], fields: list[FieldSpec], actor_email: str, role: Role) -> ResponseInput:
    """The submitted fields through the gate (`domain/form_response.py`, the rules the workflow's validator
    also reads a posted form by); a `Refused` names each form field at fault."""
    try:
        return read_new_response(form, fields, actor_email, role)
    except FieldsRefused as refused:
        raise Refused.invalid(refused.fields) from refused


def submitted(form: dict[str, str], fields: list[FieldSpec], actor_email: str, role: Role) -> tuple[ResponseInput, str]:
    """The response and its submission id, both through the gate; one `Refused` names every field at fault."""
    errors: dict[str, str] = {}
    submission, response = "", None
    try:
        submission = submission_from_form(form)
    except Refused as refused:
        errors.update(refused.fields)
    try:
        response = response_from_form(form, fields, actor_email, role)
    except Refused as refused:
        errors.update(refused.fields)
    if errors or response is None:
        raise Refused.invalid(errors)
    return response, submission
