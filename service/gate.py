"""The one gate every outside value passes before it reaches Temporal, the database, a log or an
email: a JSON file, a form, a link POST, a CLI flag, a console action, an ops reason.

The rules themselves (NHS numbers, header-safe text, money and dates) are the domain's types
(`domain.identifiers`, `domain.money`) on the models named here; this module is where a model's
refusal becomes a `Refused` naming each field, the same way for every path.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain import wording
from domain.identifiers import BIRTH_DATE_REFUSAL, FreeText, HeaderText, SafeEmail, mentions_birth_date
from domain.validation import FieldsRefused, quoted, validated
from service.kind_names import ALSO_CALLED, CASE_KINDS, LABELS, every_kind_in_words
from service.refusals import Refused

M = TypeVar("M", bound=BaseModel)


def admit(model: type[M], data: Any, renamed: dict[str, str] | None = None) -> M:
    """`data` as a `model`, or `Refused` naming every field at fault (as the person knows the field)."""
    try:
        return validated(model, data, renamed)
    except FieldsRefused as refused:
        raise Refused.invalid(refused.fields) from refused


def refuse_field(field: str, problem: str) -> Refused:
    return Refused.invalid({field: problem})


_JSON_MISTAKES = {
    "Expecting value": "a value was expected (is there a comma after the last item, or a value left out?)",
    "Expecting property name enclosed in double quotes": (
        "a name in double quotes was expected (is there a comma after the last item, or a name in single quotes?)"
    ),
    "Expecting ',' delimiter": "a comma is missing between two items",
    "Expecting ':' delimiter": "a colon is missing after a name",
    "Unterminated string starting at": "a closing double quote is missing",
    "Extra data": "more follows the end (two objects in one file, or a bracket too many?)",
    "Invalid control character at": "a line break or tab is inside quotes (write it as \\n or \\t)",
}
"""The JSON parser's words for the common mistakes, said as what to look for."""


def parse_json(text: str, field: str, what: str) -> Any:
    """Outside JSON (a start file, a pasted calendar) read once, here: malformed, or nested past what anyone
    writes (Python's parser recurses, and `[[[[...` a thousand deep had been a server error), it is refused
    naming `field`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        said = _JSON_MISTAKES.get(err.msg, err.msg[:1].lower() + err.msg[1:])
        if err.pos == len(text) - len(text.lstrip()):  # at its very start: not JSON at all (empty, or a CSV)
            said = "it does not begin as JSON does, with { (is it empty, or another kind of file?)"
        raise refuse_field(
            field, f"{what} is not valid JSON: at line {err.lineno}, column {err.colno}, {said}"
        ) from err
    except RecursionError as err:
        raise refuse_field(field, f"{what} nests lists or objects deeper than any it could need") from err


def unknown_fields(model: type[BaseModel], data: Any) -> list[str]:
    """The keys in `data`, at any depth, that `model` has no field for (as dotted paths, 'practices.3.contact_nmae'):
    models that ignore what they do not know would drop a misspelt field silently, and the officer's value with it."""
    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def walk(node: dict[str, Any], value: Any, path: str) -> list[str]:
        node = resolve(node)
        shapes = [option for option in node.get("anyOf", []) if _fits(resolve(option), value)]
        if shapes:  # a field that may be absent (None) or one of several shapes: judged by the one it fits best
            return min((walk(option, value, path) for option in shapes), key=len)
        if isinstance(value, dict) and "properties" in node and not node.get("additionalProperties"):
            fields = node["properties"]
            return [
                missing
                for key, item in value.items()
                for missing in ([f"{path}{key}"] if key not in fields else walk(fields[key], item, f"{path}{key}."))
            ]
        if isinstance(value, list) and isinstance(node.get("items"), dict):
            return [missing for n, item in enumerate(value) for missing in walk(node["items"], item, f"{path}{n}.")]
        return []

    return walk(schema, data, "")


def birth_dates_in(data: Any, path: str = "") -> dict[str, str]:
    """Each field of officer data whose text speaks of a date of birth (`mentions_birth_date`), by its dotted path
    ('lines.0.description'), to be refused as every response is. Here rather than in `FreeText`, which recorded
    start inputs are read back through on replay. Addresses are left alone: 'dob.smith@' names a person's mailbox."""
    if isinstance(data, str):
        return {path or "input": BIRTH_DATE_REFUSAL} if "@" not in data and mentions_birth_date(data) else {}
    if isinstance(data, dict):
        parts: Any = ((str(key), value) for key, value in data.items())
    elif isinstance(data, list):
        parts = ((str(index), value) for index, value in enumerate(data))
    else:
        return {}
    found: dict[str, str] = {}
    for part, value in parts:
        found |= birth_dates_in(value, f"{path}.{part}" if path else part)
    return found


def _fits(node: dict[str, Any], value: Any) -> bool:
    return (isinstance(value, dict) and "properties" in node) or (isinstance(value, list) and "items" in node)


def admit_count(field: str, data: Any, maximum: int, what: str) -> None:
    """Refuse a list of more than `maximum` entries before any of it is validated, stored or started."""
    entries = data.get(field) if isinstance(data, dict) else None
    if isinstance(entries, list) and len(entries) > maximum:
        raise refuse_field(
            field,
            f"{len(entries):,} {what} is more than one incident may name ({maximum:,}, set in the configuration); "
            f"split it into incidents of at most {maximum:,}",
        )


class OpsReason(BaseModel):
    """Why ops stop, cancel or resend: written to the audit log, so it passes the IG rules."""

    reason: FreeText = Field(min_length=3, max_length=2000)


def _keyword(value: str) -> str:
    if not (0 < len(value) <= 40 and value.replace("_", "").isascii() and value.replace("_", "").isalnum()):
        raise ValueError(f"'{value[:40]}' is not a valid value (letters, digits and underscores only)")
    return value


Keyword = Annotated[str, AfterValidator(_keyword)]
"""A value that goes into a Temporal visibility query: nothing that could change the query."""


def _as_key(value: str) -> str:
    """'Payment expected' or 'payment-expected', as a person types a name, to the key lists use."""
    return "_".join(value.strip().lower().replace("-", " ").split())


def _kind(value: str) -> str:
    """A kind by its key ('unfunded_claim', 'unfunded claim') or as the console names it ('Claim for unfunded work')."""
    key = _as_key(value)
    named = {_as_key(name): kind for name, kind in ALSO_CALLED.items()} | {_as_key(v): k for k, v in LABELS.items()}
    key = named.get(key, key)
    if key not in CASE_KINDS:
        raise ValueError(f"{quoted(value.strip())} is not a kind of escalation; the kinds are {every_kind_in_words()}")
    return key


KindName = Annotated[str, AfterValidator(_kind)]
"""A kind a list is filtered by: a mistyped kind is refused, not answered with an empty list."""


def _status(value: str) -> str:
    key = wording.status_key(value)
    if key is None:
        raise ValueError(
            f"{quoted(value.strip())} is not a status any escalation can be in; type one as lists show it, e.g. "
            "'acknowledged, waiting for a decision', 'claim with the payer', 'paid in full' or 'stopped'"
        )
    return key


StatusName = Annotated[str, AfterValidator(_status)]
"""A status or outcome a list is filtered by (`domain.wording`'s): a mistyped one is refused."""

SEARCH_WORDS = 8
SEARCH_WORD_CHARS = 80


def _as_words(value: str) -> list[str]:
    """The words of a search: letters (any alphabet's), digits and @ . _ + - (for references, codes and addresses);
    anything else parts words, as the visibility store's text search parts a title ("2024/25", "A&E", "O'Brien"),
    so no quote or operator ever reaches the query."""
    return "".join(ch if ch.isalnum() or ch in "@._+-" else " " for ch in value).split()


def _search(value: str) -> str:
    """Up to 8 words (`_as_words`); a refusal says which rule."""
    words = _as_words(value)
    if len(words) > SEARCH_WORDS:
        raise ValueError(f"search for up to {SEARCH_WORDS} words at once ({len(words)} were given)")
    for word in words:
        if len(word) > SEARCH_WORD_CHARS:
            raise ValueError(
                f"{quoted(word)} is longer than a word, reference, ODS code or email address searched for "
                f"(up to {SEARCH_WORD_CHARS} characters)"
            )
    return " ".join(words)


SearchWords = Annotated[FreeText, AfterValidator(_search)]
"""What an officer searches escalations by; each word goes into a visibility query, so nothing that could
change the query (and, as free text, no NHS number)."""


_BUILT_WHEN_USED = ConfigDict(defer_build=True)
"""For a model naming an email address: pydantic imports email_validator (about 20 ms) when it builds one with an
`EmailStr`, and `starter.py list` imports this module for `ListFilters` alone."""


class WithdrawLinks(BaseModel):
    """An officer withdraws every link one recipient was sent for one escalation."""

    model_config = _BUILT_WHEN_USED
    recipient: SafeEmail
    reason: FreeText = Field(min_length=3, max_length=2000)
    contact_instead: HeaderText | None = Field(default=None, max_length=320)


class Replacement(BaseModel):
    """An officer names who takes over from one of the payer's contacts, and whether the old links stop."""

    model_config = _BUILT_WHEN_USED
    recipient: SafeEmail
    new_name: HeaderText = Field(min_length=1, max_length=200)
    new_email: SafeEmail
    reason: FreeText = Field(min_length=3, max_length=2000)
    withdraw_old: bool = True


class ListFilters(BaseModel):
    """What the dashboard and `starter.py list` filter by; values go into a visibility query."""

    kind: KindName | None = None
    status: StatusName | None = None
    payer: Keyword | None = None
    level: int | None = Field(default=None, ge=1, le=3)
    overdue: bool = False
    stalled: bool = False
    underpaid: bool = False
    held: bool = False
    search: SearchWords | None = None
    parts: bool = False
    """Include the parts of incidents (practices' requests, payers' confirmations); a search always does."""
