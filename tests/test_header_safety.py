"""A title with a line break (a header-injection attempt, or a careless paste) is refused where it is
typed, naming the field, so no email built from it can fail for ever (the second line of defence, an
email held for ops, is in tests/test_unsendable_email.py)."""

from __future__ import annotations

import pytest

from kinds.spec import KindSpec
from service import starting
from service.refusals import Refused, Why
from settings import ROOT, Settings
from tests.helpers import CLAIM, DEREGISTRATION, PATHOLOGY, example_data

BROKEN_TITLES = ["Claim\r\nBcc: everyone@example.org", "Claim\nsecond line", "Claim\x00", "Claim\u2028more"]


@pytest.mark.parametrize("title", BROKEN_TITLES)
def test_a_title_with_a_line_break_or_control_character_is_refused_naming_it(settings: Settings, title: str) -> None:
    with pytest.raises(Refused) as refused:
        starting.prepare(CLAIM, settings.escalation_config(), example_data(title=title))
    assert refused.value.why is Why.INVALID and "title" in refused.value.fields
    assert "one line" in refused.value.fields["title"]


@pytest.mark.parametrize("spec", [PATHOLOGY, DEREGISTRATION], ids=lambda s: s.name)
def test_every_kind_refuses_it_the_same_way(settings: Settings, spec: KindSpec) -> None:
    data = starting.read_json(ROOT / spec.example)
    with pytest.raises(Refused) as refused:
        starting.prepare(spec, settings.escalation_config(), {**data, "title": "Incident\r\nreport"})
    assert "title" in refused.value.fields
