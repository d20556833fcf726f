"""What an officer submits to start a claim (a start file or the start form; both pass `ClaimSubmission`):
within reason, or refused naming the field, before anything is recorded or sent."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from domain.money import MOST_PENCE, MOST_RATE_PENCE
from domain.unfunded_claim import MOST_LINES, ClaimRequest
from service import starting
from service.refusals import Refused
from settings import Settings
from tests.helpers import CLAIM, example_data

CONFIG = Settings(_env_file=None).escalation_config()  # type: ignore[call-arg]


def refusal(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(Refused) as refused:
        starting.prepare(CLAIM, CONFIG, data)
    return dict(refused.value.fields)


def changed(**fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(example_data()), **fields}


def test_the_example_starts_and_carries_a_plain_claim_request() -> None:
    prepared = starting.prepare(CLAIM, CONFIG, example_data())
    assert type(prepared.claim) is ClaimRequest  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (changed(title="   "), "title", "is blank"),
        (changed(title="\u200b\u200b\u200b"), "title", "is blank"),
        (changed(title="Referral for J Smith, DOB 1/2/60"), "title", "mentions a date of birth"),
        (
            changed(lines=[{**example_data()["lines"][0], "description": "patient born on 3 May 1960"}]),
            "lines.0.description",
            "mentions a date of birth",
        ),
        (changed(practices=["G82001", "G82001"]), "practices", "G82001 more than once"),
        (changed(summry="a misspelt field"), "summry", "is not a field this takes"),
        (changed(period_end="9999-12-31"), "period_end", "after today"),
        (changed(period_start="2026-07-01", period_end="2026-06-30"), "period_end", "ends before it starts"),
        (changed(lines=[{**example_data()["lines"][0], "count": 10**30}]), "lines.0.count", "at most 1,000,000"),
        (
            changed(lines=[{**example_data()["lines"][0], "unit_rate_pence": 10**20}]),
            "lines.0.unit_rate_pence",
            "at most",
        ),
        (
            changed(lines=[{**example_data()["lines"][0], "unit_rate_pence": 9_999_999_900}]),
            "lines.0.unit_rate_pence",
            "£99,999,999.00 for one item is more than any item of work is paid (at most £1,000,000.00)",
        ),
        (changed(lines=[example_data()["lines"][0]] * (MOST_LINES + 1)), "lines", f"at most {MOST_LINES}"),
        (
            changed(lines=[{**example_data()["lines"][0], "evidence_refs": ["R"] * 51}]),
            "lines.0.evidence_refs",
            "at most 50",
        ),
    ],
    ids=[
        "blank title",
        "invisible title",
        "a date of birth in the title",
        "a date of birth in a line",
        "a practice twice",
        "misspelt field",
        "period ahead",
        "backwards",
        "count",
        "rate",
        "rate per item",
        "lines",
        "references",
    ],
)
def test_a_claim_beyond_reason_is_refused_naming_the_field(data: dict[str, Any], field: str, words: str) -> None:
    fields = refusal(data)
    assert field in fields and words in fields[field], fields


def test_a_total_past_any_claim_is_refused_though_each_line_is_within_reason() -> None:
    line = {**example_data()["lines"][0], "count": 1_000_000, "unit_rate_pence": MOST_RATE_PENCE}
    fields = refusal(changed(lines=[line] * 20))
    assert "more than any claim could be" in fields["lines"]


def test_a_period_ending_today_is_work_done() -> None:
    today = datetime.now(UTC).date()
    starting.prepare(CLAIM, CONFIG, changed(period_start=str(today - timedelta(days=90)), period_end=str(today)))


@settings_(max_examples=60, deadline=None)
@given(count=st.integers(min_value=-(10**6), max_value=10**25), rate=st.integers(min_value=-10, max_value=10**16))
def test_any_count_and_rate_start_a_claim_within_reason_or_are_refused_by_name(count: int, rate: int) -> None:
    data = changed(lines=[{**example_data()["lines"][0], "count": count, "unit_rate_pence": rate}])
    try:
        prepared = starting.prepare(CLAIM, CONFIG, data)
    except Refused as refused:
        assert set(refused.fields) <= {"lines", "lines.0.count", "lines.0.unit_rate_pence"}, refused.fields
        return
    assert 0 < prepared.claim.total_pence <= MOST_PENCE  # type: ignore[attr-defined]


def test_a_start_file_nested_past_reason_is_refused_not_taken_for_an_unreachable_engine(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(Refused) as refused:
        starting.read_json(deep)
    assert refused.value.exit_code == 2 and "deeper than any it could need" in refused.value.fields["file"]


def test_a_start_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Notepad and Excel on Windows write one; json refuses it unless told."""
    saved = tmp_path / "claim.json"
    saved.write_bytes("\ufeff".encode() + json.dumps(example_data()).encode())
    assert starting.read_json(saved)["title"] == example_data()["title"]
