"""Every email and link page a recipient sees (web/message_examples.py: every kind, party and ladder
level) reads as plain English: no ISO timestamp, no snake_case key, no internal id or Python value in
the visible text; and docs/messages/ holds exactly what the code renders now."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from web.message_examples import OUT, Example, examples, files

ISO = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}|T\d{2}:\d{2}")
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
PYTHON = re.compile(r"\b(None|True|False)\b|[{}]|&#|\bRole\.")
# Internal ids: Temporal workflow and run ids, message ids, form ids, and kind names. An escalation's own
# reference (UWC-2026-EXAMPLE, PEC-2026-EXAMPLE-CLAIM) is how people refer to it, so it may show.
INTERNAL = re.compile(
    r"<[A-Z]{3}-\d{4}-[A-Z0-9-]+\.\d+@|FORM-ID|SIGNED-LINK|\bunfunded claim\b|\bpractice return\b|\bconfirmation\b:"
)

ALL = list(examples())


class _Visible(HTMLParser):
    """The text a person sees: no tags, attributes, style or script."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "title"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(example: Example) -> list[tuple[str, str]]:
    """(where, text) for each part a person reads."""
    shown = []
    if example.text:
        head, _, body = example.text.partition("\n\n")
        for line in head.splitlines():
            if line.startswith(("Subject:", "To:", "Cc:", "Reply-To:", "From:")):
                shown.append(("header", line))
        body = body.split("\n--- attachment:")[0]
        shown.append(("text", "\n".join(line for line in body.splitlines() if "https://" not in line)))
    if example.html is not None:
        parser = _Visible()
        parser.feed(example.html)
        shown.append(("html", " ".join(parser.parts)))
    return shown


def test_every_kind_party_and_ladder_level_is_rendered() -> None:
    names = {e.name for e in ALL}
    ladder = ["reminder-level-1", "escalated-level-2", "reminder-level-2", "escalated-level-3", "reminder-level-3"]
    assert {f"email-claim-{n}-{step}" for n, step in enumerate(ladder, start=2)} <= names
    assert {"page-claim-page-icb", "page-claim-page-officer", "page-pathology-page-claim-trust"} <= names
    assert {"page-pathology-page-practice-return", "page-deregistration-page-practice-return"} <= names
    assert {"email-pathology-claim-1-request-to-trust-level-1", "email-pathology-practice-3-share-notified"} <= names
    assert any(n.endswith("-with-errors") for n in names)


@pytest.mark.parametrize("example", ALL, ids=lambda e: e.name)
def test_what_a_recipient_reads_has_no_internal_names_iso_dates_or_ids(example: Example) -> None:
    for where, text in visible(example):
        for rule, pattern in (("an ISO timestamp", ISO), ("a snake_case key", SNAKE), ("a Python value", PYTHON)):
            found = pattern.search(text)
            assert found is None, (
                f"{example.name} ({where}) shows {rule}: …{text[max(0, found.start() - 60) : found.end() + 60]}…"
            )
        found = INTERNAL.search(text)
        assert found is None, f"{example.name} ({where}) shows an internal id: {found.group(0)}"


def test_docs_messages_are_what_the_code_renders_now() -> None:
    """Run `python -m web.message_examples` after changing a message, and review the difference."""
    wanted = files()
    held = {p.name: p.read_text(encoding="utf-8") for p in OUT.glob("*") if p.suffix in (".txt", ".html")}
    assert sorted(held) == sorted(wanted), "docs/messages/ is out of date: run python -m web.message_examples"
    stale = [name for name, content in wanted.items() if held[name] != content]
    assert not stale, f"docs/messages/ is out of date ({', '.join(stale[:5])}): run python -m web.message_examples"
