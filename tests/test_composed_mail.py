"""What `mail.compose` writes is what a recipient's mail program reads back: all ASCII on the wire, whatever
the names, subject and words (pounds, accents, dashes), and the same text, table and headers once parsed."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import getaddresses

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.contacts import Contact, Role
from domain.escalation import EmailEffect
from domain.tables import Table
from mail.compose import compose, csv_name, message_id_for, table_csv

# Anything a header can carry: no control characters or line breaks (those are refused before composing).
HEADER_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\t"), min_size=1, max_size=120
).filter(lambda s: s.strip() != "")
WORDS = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=300).filter(
    lambda s: s.strip() != ""
)
SENT_AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


def effect(subject: str, name: str, paragraph: str) -> EmailEffect:
    return EmailEffect(
        purpose="return_requested",
        to=Contact(name=name, title="Practice manager", email="pm.e87700@nhs.example"),
        to_role=Role.PRACTICE,
        cc=[Contact(name="Carlo Rossi, LMC", title="Officer", email="ceo@lmc.example")],
        subject=subject,
        headline="Workload return requested",
        paragraphs=[paragraph],
        actions=["submit_return"],
    )


@settings(max_examples=60, deadline=None)
@given(subject=HEADER_TEXT, name=HEADER_TEXT, paragraph=WORDS)
def test_any_subject_name_and_words_are_written_in_ascii_and_read_back_as_given(
    subject: str, name: str, paragraph: str
) -> None:
    message = compose(
        effect(subject, name, paragraph),
        mail_from="Comité de l'LMC <escalations@lmc.example>",
        message_id=message_id_for("PEC-2026-X-E87700", 1, "lmc.example"),
        in_reply_to=None,
        link="https://lmc.example/r/SIGNED",
        facts=[("Your share", "£266.00")],
        action_labels={"submit_return": "Send your return"},
        sent_at=SENT_AT,
    )
    assert message.written.isascii()
    read = message.as_email()
    assert read["Subject"] == subject.strip()  # a header keeps no surrounding spaces (ours begin "[reference]")
    assert max(len(line) for line in message.written.split(b"\r\n")) <= 998  # what a mail server takes
    # A long name outside ASCII goes as several encoded words, as it did before; Python's own parser reads a space
    # between them that RFC 2047 (and mail programs) leave out, so it is compared without spaces.
    assert "".join(read["To"].addresses[0].display_name.split()) == "".join(name.split())
    assert read["To"].addresses[0].addr_spec == "pm.e87700@nhs.example"
    assert read["Cc"].addresses[0].display_name == "Carlo Rossi, LMC"
    assert read["From"].addresses[0].display_name == "Comité de l'LMC"
    assert read["Message-ID"] == "<PEC-2026-X-E87700.1@lmc.example>"
    plain = read.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert " ".join(paragraph.split()) in " ".join(text.split())
    assert "Your share: £266.00" in text and "https://lmc.example/r/SIGNED" in text


def test_a_table_goes_as_both_parts_and_a_csv_attachment_that_reads_back_byte_for_byte() -> None:
    table = Table(
        caption="The claim, line by line",
        columns=["Item", "Count", "Amount"],
        rows=[["Onward referral", "12", "£1,600.00 (example rate)"]],
        total=["Total", "12", "£1,600.00"],
        numeric=[1, 2],
    )
    message = compose(
        effect("Claim", "Practice Manager", "See the claim below."),
        mail_from="LMC Escalations <escalations@lmc.example>",
        message_id="<a@lmc.example>",
        in_reply_to="<root@lmc.example>",
        link=None,
        facts=[],
        action_labels={},
        sent_at=SENT_AT,
        tables=[table],
    )
    read = message.as_email()
    assert read.get_content_type() == "multipart/mixed"
    assert read["In-Reply-To"] == "<root@lmc.example>" and read["References"] == "<root@lmc.example>"
    assert read.get_body(("plain",)) is not None and read.get_body(("html",)) is not None
    (attachment,) = list(read.iter_attachments())
    assert attachment.get_filename() == csv_name(table) == "the-claim-line-by-line.csv"
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content().replace("\r\n", "\n") == ("\ufeff" + table_csv(table)).replace("\r\n", "\n")


def test_a_name_too_long_for_one_line_is_folded_and_every_address_still_reaches_the_envelope() -> None:
    """A name of 200 emoji written as one encoded word made a To: line of 1,081 characters, past the 998 a mail server
    takes; folded, every line is short, and the envelope (read from To and Cc, as delivery reads it) is intact."""
    name = "\N{GRINNING FACE}" * 200
    long_named = effect("Claim", name, "words")
    long_named.cc[0].name = "Zoë, O'Brien \"JJ\" \\ (LMC)"
    message = compose(
        long_named,
        mail_from="LMC Escalations <escalations@lmc.example>",
        message_id="<a@lmc.example>",
        in_reply_to=None,
        link=None,
        facts=[],
        action_labels={},
        sent_at=SENT_AT,
    )
    assert max(len(line) for line in message.written.split(b"\r\n")) <= 78
    envelope = [address for _, address in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))]
    assert envelope == ["pm.e87700@nhs.example", "ceo@lmc.example"]
    assert message.as_email()["Cc"].addresses[0].display_name == "Zoë, O'Brien \"JJ\" \\ (LMC)"
