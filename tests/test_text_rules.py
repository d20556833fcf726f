"""The rules for text that crosses into the system (domain.identifiers), as properties.

A valid NHS number in any dress (separators of every kind between any digits, any grouping, full-width and other
digits, surrounded by ordinary text) is always refused by FreeText, HeaderText and SafeEmail; ordinary text
(telephone numbers, amounts, dates, ODS codes, references, sentences) always passes.
"""

from __future__ import annotations

import time
import unicodedata
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from domain.identifiers import (
    BIDI_CONTROLS,
    FreeText,
    HeaderText,
    OdsCode,
    SafeEmail,
    contains_nhs_number,
    is_valid_nhs_number,
    mentions_birth_date,
)

FREE_TEXT: TypeAdapter[str] = TypeAdapter(FreeText)
HEADER_TEXT: TypeAdapter[str] = TypeAdapter(HeaderText)
SAFE_EMAIL: TypeAdapter[str] = TypeAdapter(SafeEmail)
ODS_CODE: TypeAdapter[str] = TypeAdapter(OdsCode)


def refusal(adapter: TypeAdapter[str], value: str) -> str | None:
    """The message a person would see beside the field, or None if `value` is accepted."""
    try:
        adapter.validate_python(value)
    except ValidationError as err:
        return str(err.errors()[0]["msg"]).removeprefix("Value error, ")
    return None


# --- Valid NHS numbers, dressed ----------------------------------------------------------------------------------


def check_digit(nine: str) -> int | None:
    """The modulus 11 check digit for nine digits; None where it would be 10 (no NHS number has those nine)."""
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else check


nhs_numbers = (
    st.text(alphabet="0123456789", min_size=9, max_size=9)
    # 0800 is the freephone prefix (0800 and six digits is a telephone number); no NHS or CHI number starts so.
    .filter(lambda nine: not nine.startswith("0800"))
    .map(lambda nine: (nine, check_digit(nine)))
    .filter(lambda pair: pair[1] is not None)
    .map(lambda pair: f"{pair[0]}{pair[1]}")
)

SPACES = [
    " ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\x0b",
    "\x0c",
    "\x85",
    "\u00a0",
    *(chr(c) for c in range(0x2000, 0x200B)),
    "\u2028",
    "\u2029",
    "\u202f",
    "\u205f",
    "\u3000",
]
DOTS = [".", "\u2024", "\uff0e", "\u00b7", "\u30fb"]
SLASHES = ["/", "\\", "\u2044", "\u2215", "\uff0f"]
DASHES = [  # every character of category Pd, and the minus signs
    *"\u002d\u058a\u05be\u1400\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2e17\u2e1a\u2e3a\u2e3b\u2e40\u2e5d",
    *"\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d\U00010ead",
    *"\u2212\u207b\u208b\u2796\u02d7",
]
INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\ufffd"]  # U+FFFD: an echoed control
UNDERSCORES = ["_", "\uff3f"]
SEPARATORS = SPACES + DOTS + SLASHES + DASHES + INVISIBLES + UNDERSCORES
GROUPINGS = [(3, 3, 4), (2, 4, 4), (4, 3, 3), (5, 5), (2, 2, 2, 2, 2), (1,) * 10, (4, 6), (10,), (3, 7), (1, 9)]
DIGIT_ZEROS = [0x30, 0xFF10, 0x1D7CE, 0x1D7D8, 0x0660, 0x0966]  # ASCII, full-width, maths bold and double-struck,
# Arabic-Indic, Devanagari: NFKC makes the first four ASCII, the last two are decimal digits of their scripts.

separator_runs = st.lists(st.sampled_from(SEPARATORS), min_size=0, max_size=3).map("".join)


@st.composite
def dressed_nhs_numbers(draw: st.DrawFn) -> str:
    """A valid NHS number written as a person (or a paste) might: any separators between any digits."""
    number = draw(nhs_numbers)
    forms = draw(st.sampled_from(["ascii", "full-width", "mixed"]))
    if forms == "ascii":
        glyphs = list(number)
    elif forms == "full-width":
        glyphs = [chr(0xFF10 + int(d)) for d in number]
    else:
        glyphs = [chr(draw(st.sampled_from(DIGIT_ZEROS)) + int(d)) for d in number]
    if draw(st.booleans()):  # a grouping with one separator (run) used throughout, as people write
        grouping = draw(st.sampled_from(GROUPINGS))
        between = draw(separator_runs.filter(bool))
        cuts = {sum(grouping[: i + 1]) for i in range(len(grouping) - 1)}
        gaps = [between if i + 1 in cuts else "" for i in range(9)]
    else:  # any mix of separators between any digits
        gaps = [draw(separator_runs) for _ in range(9)]
    return "".join(g + s for g, s in zip(glyphs, [*gaps, ""], strict=True))


# Ordinary text around it: words and punctuation, never a digit, "+" or currency sign touching the number.
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéüñß"
PREFIXES = [
    "",
    "NHS number ",
    "NHS no: ",
    "Patient ",
    "patient",
    "(",
    "seen ",
    "Mrs Smith, ",
    "Re: ",
    "see attached\n",
    "ODS E85001 ",
    "Y01234 ",
    "G82001/",
    "on 25/11/2026, patient ",
    "tel 020 7946 0018; NHS ",
    "claim £2,837.00 for ",
]
SUFFIXES = ["", " in clinic", ".", ")", ", 64 items", "\nthanks", "x", " seen on 25/11/2026", "; tel 07700 900123"]


@st.composite
def text_around(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
    prefix = draw(st.sampled_from(PREFIXES) | st.text(alphabet=LETTERS + " ,;:!?()'", max_size=20))
    suffix = draw(st.sampled_from(SUFFIXES) | st.text(alphabet=LETTERS + " ,;:!?()'", max_size=20))
    return prefix + draw(inner) + suffix


@settings(max_examples=1000, deadline=None)
@given(text=text_around(dressed_nhs_numbers()))
def test_a_valid_nhs_number_in_any_dress_is_refused(text: str) -> None:
    assert contains_nhs_number(text), repr(text)
    assert refusal(FREE_TEXT, text) is not None
    assert refusal(HEADER_TEXT, text) is not None
    assert "NHS number" in (refusal(SAFE_EMAIL, f"{text}@example.nhs.uk") or "")


@settings(max_examples=200, deadline=None)
@given(number=dressed_nhs_numbers(), local=st.sampled_from(["", "pm.", "x", "patient-"]))
def test_an_email_address_carrying_an_nhs_number_is_refused(number: str, local: str) -> None:
    message = refusal(SAFE_EMAIL, f"{local}{number}@nhs.net")
    assert message is not None and "NHS number" in message


@settings(max_examples=200, deadline=None)
@given(number=nhs_numbers, wrong=st.integers(min_value=1, max_value=9), sep=st.sampled_from(["", " ", "-", "\u2009"]))
def test_ten_digits_with_a_wrong_check_digit_pass(number: str, wrong: int, sep: str) -> None:
    bad = number[:9] + str((int(number[9]) + wrong) % 10)
    assert not is_valid_nhs_number(bad)
    text = f"ref {bad[:3]}{sep}{bad[3:6]}{sep}{bad[6:]} attached"
    assert not contains_nhs_number(text)
    assert refusal(FREE_TEXT, text) is None and refusal(HEADER_TEXT, text) is None


# --- Ordinary text ------------------------------------------------------------------------------------------------


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


@st.composite
def uk_phone_numbers(draw: st.DrawFn) -> str:
    sep = draw(st.sampled_from([" ", " ", " ", "-", "\u00a0", "\u202f"]))
    kind = draw(st.sampled_from(["london", "mobile", "geographic4", "geographic5", "freephone"]))
    if kind == "london":
        area, number = "20", draw(digits(4)) + sep + draw(digits(4))
    elif kind == "mobile":
        area = "7" + draw(digits(3))
        rest = draw(digits(6))
        number = draw(st.sampled_from([rest, rest[:3] + sep + rest[3:]]))
    elif kind == "geographic4":
        area, number = "1" + draw(digits(2)), draw(digits(3)) + sep + draw(digits(4))
    elif kind == "geographic5":
        area, number = "1" + draw(digits(3)), draw(digits(6))
    else:
        area = "800"
        number = draw(st.sampled_from([draw(digits(3)) + sep + draw(digits(4)), draw(digits(6))]))
    style = draw(st.integers(min_value=0, max_value=5))
    if style == 0:
        return f"0{area}{sep}{number}"
    if style == 1:
        return f"(0{area}){sep}{number}"
    if style == 2:
        return f"+44{sep}{area}{sep}{number}"
    if style == 3:
        return f"+44{sep}(0){area}{sep}{number}"
    if style == 4:
        return f"+44 (0) {area}{sep}{number}"
    return ("0" + area + number).replace(sep, "")


@st.composite
def amounts(draw: st.DrawFn) -> str:
    pounds = draw(st.integers(min_value=0, max_value=10**9))
    pence = draw(st.integers(min_value=0, max_value=99))
    style = draw(st.integers(min_value=0, max_value=3))
    if style == 0:
        return f"£{pounds:,}.{pence:02d}"
    if style == 1:
        return f"£{pounds % 10**8}.{pence:02d}"
    if style == 2:
        return f"{pounds:,}"
    return f"£{pounds % 10**6:,}"


@st.composite
def dates(draw: st.DrawFn) -> str:
    d = draw(st.dates())
    time_of_day = draw(st.sampled_from(["", f" {draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}"]))
    style = draw(st.integers(min_value=0, max_value=4))
    if style == 0:
        return f"{d:%Y-%m-%d}{time_of_day}"
    if style == 1:
        return f"{d:%d/%m/%Y}{time_of_day}"
    if style == 2:
        return f"{d:%d.%m.%Y}{time_of_day}"
    if style == 3:
        return f"{d.day} {d:%B %Y}"
    return f"{d:%Y-%m-%d}T{draw(st.integers(0, 23)):02d}:00"


ods_codes = st.builds(lambda letter, n: f"{letter}{n}", st.sampled_from("ABCDEFGHJKLMNPWY"), digits(5))
references = st.one_of(
    st.builds(lambda y, n: f"REF-{y}/{n}", st.integers(2000, 2099), digits(5)),
    st.builds(lambda n: f"KLMC-{n}", st.integers(1, 9999)),
    # Escalation references as service.starting makes them. One whose six random characters were all digits
    # (about 1 in 3,400) would be ten digits after the year, read as one run and refused 1 time in 11.
    st.builds(
        lambda y, n: f"UWC-{y}-{n}",
        st.integers(2020, 2030),
        st.text(alphabet="ABCDEFGHJKMNPQRSTVWXYZ23456789", min_size=6, max_size=6).filter(
            lambda suffix: not suffix.isdigit()
        ),
    ),
    st.builds(lambda n: f"{n} items", st.integers(0, 100_000)),
    st.builds(lambda n: f"{n}%", st.integers(0, 100)),
)
WORDS = [
    "the",
    "ICB",
    "has",
    "not",
    "paid",
    "for",
    "the",
    "work",
    "moved",
    "onto",
    "practices",
    "please",
    "confirm",
    "by",
    "Friday",
    "claim",
    "schedule",
    "attached",
    "evidence",
    "letter",
    "reference",
    "minutes",
    "meeting",
    "agreed",
    "outstanding",
    "invoice",
    "practice",
    "manager",
    "tel",
    "email",
    "call",
    "about",
    "due",
    "on",
    "for",
    "and",
    "of",
    "from",
    "to",
    "at",
]
words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
GLUE = [" ", ", ", "; ", " (", ") ", ": ", ",\n", ".\n", " - "]
ordinary_items = st.one_of(uk_phone_numbers(), amounts(), dates(), ods_codes, references)


@st.composite
def ordinary_text(draw: st.DrawFn) -> str:
    """Sentences mixing words with numbers, a word or comma between any two numbers, as people write."""
    parts: list[str] = [draw(words)]
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        parts.append(draw(st.sampled_from(GLUE)) + draw(ordinary_items))
        parts.append(draw(st.sampled_from(GLUE)) + draw(words))
    if draw(st.booleans()):
        parts.reverse()
    return "".join(parts)


@settings(max_examples=1000, deadline=None)
@given(text=st.one_of(ordinary_items, ordinary_text()))
def test_ordinary_text_passes(text: str) -> None:
    assert not contains_nhs_number(text), repr(text)
    assert not mentions_birth_date(text), repr(text)
    assert FREE_TEXT.validate_python(text) == text
    if not any(unicodedata.category(ch) == "Cc" for ch in text):
        assert HEADER_TEXT.validate_python(text) == text


@settings(max_examples=200, deadline=None)
@given(
    national=nhs_numbers,  # ten digits that pass the check, so only the telephone rule lets them through
    style=st.sampled_from(["+44 {a} {b} {c}", "+44 (0){a} {b} {c}", "+44-{a}-{b}-{c}", "tel: +44 {a}{b} {c}"]),
    cut=st.sampled_from([(2, 6), (4, 7), (3, 6)]),
    after=st.sampled_from(["", "\n12 items", " ext 12", "\n25/11/2026"]),
)
def test_telephone_numbers_pass_even_where_ten_of_their_digits_would_not(
    national: str, style: str, cut: tuple[int, int], after: str
) -> None:
    a, b, c = national[: cut[0]], national[cut[0] : cut[1]], national[cut[1] :]
    text = style.format(a=a, b=b, c=c) + after
    assert not contains_nhs_number(text), repr(text)
    assert contains_nhs_number(f"patient {national}"), "the same ten digits on their own are refused"


@settings(max_examples=200, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2099, 12, 31)),
    style=st.sampled_from(["%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M", "%d.%m.%Y %H.%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H%M"]),
)
def test_dates_with_times_pass(when: datetime, style: str) -> None:
    """The hour is joined to the minutes (or the day to the month) by one colon, dot or slash: one longer number.

    Not so a two-digit year and a dotted time ("10/11/26 14.30"): ten digits joined only by separators, checked
    like any other ten (see contains_nhs_number)."""
    assert not contains_nhs_number(f"seen {when:{style}} by the practice")


@pytest.mark.parametrize(
    "text",
    [
        "020 7946 0018",
        "07700 900123",
        "+44 20 7946 0018",
        "+44 (0)20 7946 0018",
        "E85001",
        "£2,837.00",
        "1,234,567",
        "2026-11-25",
        "25/11/2026",
        "REF-2026/00123",
        "letter ref KLMC-1701, 64 items, tel 01622851197",
        "25/11/2026 12:30",
        "£12345678.90",
        "£1,234,567,890.00",
        "on 25/11/2026, 64 items",
        "0800 555 111",
    ],
)
def test_named_ordinary_strings_pass(text: str) -> None:
    assert not contains_nhs_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "seen 943-476-5919 in clinic",
        "NHS9434765919x",
        "９４３ ４７６ ５９１９",
        "943\u00a0476\u00a05919",
        "9\n4\n3\n4\n7\n6\n5\n9\n1\n9",
        "943\u200b476\u200d5919",
        "94 3476 5919",
        "943\u2212476\u22125919",
        "NHS_943_476_5919.pdf",
        "9,434,765,919",
        "2 943 476 5919",  # digits beyond a separator are a separate number
        "943 476 5919 64 items",
        "1. 943 476 5919",
        "E85001 9434765919",  # the tail of a code is not part of the number
        "G82001/9434765919",
        "Y01234 943 476 5919",
        "9434765919,4010232137",
        "9434765919/4010232137",
        "tel 020 7946 0018\n943 476 5919",  # a telephone number ends where it should
        "+44 20 7946 0018 943 476 5919",
    ],
)
def test_named_nhs_numbers_are_caught(text: str) -> None:
    assert contains_nhs_number(text)


def test_longer_digit_runs_are_not_nhs_numbers() -> None:
    assert is_valid_nhs_number("9434765919")
    for text in ("19434765919", "94347659190", "tel 0194347659190"):
        assert not contains_nhs_number(text)


def test_the_scan_is_linear() -> None:
    """Long runs of digits and separators, which would make a backtracking regex explode, take a moment."""
    for chunk in ("12 ", "0-", "1/", "020 ", "+44 ", "07 ", "12\u200b \u00a0"):
        started = time.perf_counter()
        assert not contains_nhs_number(chunk * 10_000 + "x")
        assert time.perf_counter() - started < 2.0


# --- Control characters -------------------------------------------------------------------------------------------

CONTROL_CHARACTERS = [chr(c) for c in range(0x100) if unicodedata.category(chr(c)) == "Cc"]  # all 65 are below U+0100


@pytest.mark.parametrize("ch", [*CONTROL_CHARACTERS, "\u2028", "\u2029"], ids=lambda ch: f"U+{ord(ch):04X}")
def test_header_text_refuses_every_control_character(ch: str) -> None:
    for text in (f"Claim{ch}Bcc: someone@example.com", ch, f"subject{ch}"):
        assert refusal(HEADER_TEXT, text) == (
            "must be one line without control characters (no line breaks, tabs or hidden characters)"
        )


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(alphabet=LETTERS + " ", max_size=10),
    ch=st.sampled_from(CONTROL_CHARACTERS),
    after=st.text(alphabet=LETTERS + " ", max_size=10),
)
def test_free_text_refuses_control_characters_other_than_line_breaks_and_tabs(before: str, ch: str, after: str) -> None:
    text = before + ch + after
    message = refusal(FREE_TEXT, text)
    if ch in "\t\n":
        assert message is None
    else:
        assert message is not None and "control character" in message


def test_free_text_keeps_line_breaks_and_tabs() -> None:
    text = "Dear colleague,\n\nThe claim:\r\n\tline one\r\n\tline two\n"
    assert FREE_TEXT.validate_python(text) == text
    assert refusal(FREE_TEXT, "one\rtwo") is not None  # a lone carriage return is not a line break here
    assert refusal(FREE_TEXT, "NUL\x00") is not None and refusal(FREE_TEXT, "esc\x1b[31m") is not None


def test_messages_are_plain_english_for_the_field() -> None:
    assert refusal(FREE_TEXT, "NHS 943 476 5919") == (
        "contains what looks like an NHS number; remove patient-identifiable data "
        "(refer to evidence by letter reference or counts)"
    )
    assert refusal(HEADER_TEXT, "two\nlines") is not None
    assert "NHS number" in (refusal(HEADER_TEXT, "Re: 943 476 5919") or "")


# --- Email addresses and ODS codes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_address", "stored"),
    [
        ("Joe.Bloggs@NHS.net", "joe.bloggs@nhs.net"),
        ("pm.E85001@nhs.example", "pm.e85001@nhs.example"),
        ("contracting.01622851197@kent.nhs.uk", "contracting.01622851197@kent.nhs.uk"),
        ("claims-2026@lmc.example", "claims-2026@lmc.example"),
    ],
)
def test_safe_email_accepts_work_addresses_in_lower_case(given_address: str, stored: str) -> None:
    assert SAFE_EMAIL.validate_python(given_address) == stored


@pytest.mark.parametrize(
    "address",
    ["not an address", "a@b.com\r\nBcc: x@y.com", "joe\x00@nhs.net", "9434765919@nhs.net", "p.943-476-5919@nhs.net"],
)
def test_safe_email_refuses_bad_and_identifying_addresses(address: str) -> None:
    assert refusal(SAFE_EMAIL, address) is not None


def test_ods_codes() -> None:
    assert ODS_CODE.validate_python(" e85001 ") == "E85001"
    assert ODS_CODE.validate_python("Ｅ８５００１") == "E85001"
    for bad in ("E8500", "85001E", "E85001\n1", "E٨٥٠٠١"):
        assert refusal(ODS_CODE, bad) is not None


@pytest.mark.parametrize("mark", sorted(BIDI_CONTROLS))
def test_a_right_to_left_override_or_other_direction_mark_is_refused(mark: str) -> None:
    with pytest.raises(ValidationError, match="hidden control character"):
        TypeAdapter(FreeText).validate_python(f"ok {mark}gnp.exe")
    with pytest.raises(ValidationError):
        TypeAdapter(HeaderText).validate_python(f"ok {mark}gnp.exe")


BIRTH_MARKERS = ["DOB", "dob", "D.O.B.", "d o b", "DoB:", "Date of birth", "date  of\nbirth", "born on 3", "Born 1960"]


@settings(max_examples=300, deadline=None)
@given(before=ordinary_text(), marker=st.sampled_from(BIRTH_MARKERS), after=ordinary_text(), wide=st.booleans())
def test_a_date_of_birth_in_any_sentence_is_noticed(before: str, marker: str, after: str, wide: bool) -> None:
    """A patient's date of birth is patient-identifiable, however it is introduced (issue: a drive sent "John Smith
    DOB 01/02/1960" through a trust's report link, and it reached the officer's inbox). Full-width letters too."""
    if wide:
        marker = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in marker)
    assert mentions_birth_date(f"{before} {marker} 01/02/1960 {after}")


@pytest.mark.parametrize(
    "text", ["costs borne by practices", "the Dobson report", "no doubt", "a practice reborn in 2024"]
)
def test_words_that_only_look_like_a_birth_date_pass(text: str) -> None:
    assert not mentions_birth_date(text)
