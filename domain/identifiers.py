"""Identifiers the engine accepts, the patient identifier it must never accept, and text safe to let in.

Practices are named by ODS code. Everything a person types is searched for NHS numbers, however they are
written, so that patient-identifiable data is refused at the door rather than stored in Temporal history, emails,
logs or the audit log. Text bound for an email header must be one line, so nothing typed can add a header.

Pure rules: no Temporal, database or web imports.

Public names:

- `is_valid_nhs_number(digits)`: the modulus 11 check of ten digits.
- `contains_nhs_number(text)`: whether an NHS number is written anywhere in `text`, in any dress.
- `mentions_birth_date(text)`: whether `text` speaks of a date of birth (refused in new responses).
- `FreeText`: multi-line text a person types. Refuses NHS numbers and control characters other than line
  breaks (LF, CR LF) and tabs.
- `HeaderText`: one-line text that may reach an email header (a subject, a name). Refuses NHS numbers, every
  control character (CR, LF, TAB, NUL, NEL and the rest) and the Unicode line and paragraph separators.
- `SafeEmail`: an email address (pydantic's `EmailStr`), refused if it carries an NHS number, in lower case.
- `OdsCode`: a GP practice's ODS code, in upper case.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, EmailStr

from domain.validation import quoted

_ODS_PRACTICE = re.compile(r"[A-Z][0-9]{5}")

NHS_NUMBER_REFUSAL = (
    "contains what looks like an NHS number; remove patient-identifiable data "
    "(refer to evidence by letter reference or counts)"
)
HEADER_REFUSAL = "must be one line without control characters (no line breaks, tabs or hidden characters)"
UNREADABLE = "\ufffd"
"""'�': what a page (and a browser) shows for a control character it echoes. Sent back, it still hides nothing
from the NHS-number rule: it is read as the invisible separator it stood for."""
CONTROL_REFUSAL = (
    "contains a hidden control character (often left by copying and pasting); "
    "retype it as plain text (line breaks and tabs are fine)"
)
EMAIL_NHS_REFUSAL = "looks like it contains an NHS number; give a work email address that carries no patient details"


def _ascii_digits(text: str) -> str | None:
    """`text`'s digits as ASCII, whatever script or width they are written in; None if anything is not a digit."""
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        value = unicodedata.decimal(ch, None)
        if value is None:
            return None
        out.append(str(value))
    return "".join(out)


def is_valid_nhs_number(digits: str) -> bool:
    """Modulus 11 check of a ten-digit NHS number (check digit 10 means invalid).

    Digits in any script or width count (full-width `９４３…` is checked as `943…`); anything else fails.
    """
    ascii_digits = _ascii_digits(digits)
    if ascii_digits is None or len(ascii_digits) != 10:
        return False
    total = sum(int(d) * w for d, w in zip(ascii_digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(ascii_digits[9])


# --- Finding NHS numbers in text -------------------------------------------------------------------------------
#
# Characters are sorted into classes once NFKC has made full-width and other compatibility forms plain.

_OTHER = 0  # letters, most punctuation, symbols: ends a number
_INVISIBLE = 1  # zero-width characters, soft hyphen, joiners, format and combining marks
_SPACE = 2  # a space on the line: every Unicode space separator (NBSP, U+2000-U+200A, U+202F, U+3000, ...)
_BREAK = 3  # line breaks, tabs and every other control character, U+2028, U+2029
_DOT = 4
_SLASH = 5
_DASH = 6  # hyphen-minus, every Unicode dash (category Pd), minus signs
_UNDERSCORE = 7  # "_" and the other connector punctuation (category Pc), as in file names
_SEPARATORS = frozenset({_INVISIBLE, _SPACE, _BREAK, _DOT, _SLASH, _DASH, _UNDERSCORE})

_DOTS = frozenset(".\u00b7\u0387\u2022\u2024\u2027\u2219\u22c5\u2e31\u30fb\uff0e\uff65")
_SLASHES = frozenset("/\\\u2044\u2215\u29f5\u29f8\u29f9\u2571\u2572\uff0f\uff3c")
_MINUS_SIGNS = frozenset("\u02d7\u2043\u207b\u208b\u2212\u2796\ufe63\uff0d")
# Letters that show as nothing (Hangul fillers) and the blank Braille pattern.
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_BRACKETS = frozenset("()")


@lru_cache(maxsize=4096)
def _char_class(ch: str) -> int:
    if ch in _DOTS:
        return _DOT
    if ch in _SLASHES:
        return _SLASH
    if ch in _MINUS_SIGNS:
        return _DASH
    category = unicodedata.category(ch)
    if category == "Pd":
        return _DASH
    if category == "Pc":
        return _UNDERSCORE
    if category == "Zs":
        return _SPACE
    if category in ("Cc", "Zl", "Zp") or ch.isspace():
        return _BREAK
    if category in ("Cf", "Mn", "Me") or ch in _BLANKS or ch == UNREADABLE:
        return _INVISIBLE  # U+FFFD: what a page or browser shows for a control character, sent back as typed
    return _OTHER


_BIRTH_DATE = re.compile(r"\b(?:d\.?\s?o\.?\s?b\b|date\s+of\s+birth\b|born\s+(?:on\s+)?\d)", re.IGNORECASE)
BIRTH_DATE_REFUSAL = (
    "mentions a date of birth; remove patient-identifiable data (refer to evidence by letter reference or counts)"
)


def mentions_birth_date(text: str) -> bool:
    """Whether `text` speaks of someone's date of birth ("DOB", "D.O.B.", "date of birth", "born on 3 May"), read
    as NFKC so full-width letters say the same: in a letter to or from an NHS manager, a patient's. Names cannot be
    told from the words around them; a date of birth can."""
    return _BIRTH_DATE.search(unicodedata.normalize("NFKC", text)) is not None


def has_visible_text(text: str) -> bool:
    """Whether `text` shows anything: not only spaces, line breaks and invisible characters (zero-width spaces,
    joiners, fillers), by the same classes the NHS-number scan reads separators with."""
    return any(_char_class(ch) not in (_INVISIBLE, _SPACE, _BREAK) for ch in text)


@lru_cache(maxsize=1024)
def _digit(ch: str) -> str | None:
    """The ASCII digit `ch` writes (any script), or None."""
    if "0" <= ch <= "9":
        return ch
    value = unicodedata.decimal(ch, None)
    return None if value is None else str(value)


@dataclass(slots=True)
class _Gap:
    """The text between two digit groups (or before the first), summarised for the rules below."""

    joins: bool  # only separators: the groups either side may be read as one number
    count: int  # visible characters (invisible ones are not counted)
    head: str  # the first three visible characters
    tail: str  # the last three visible characters


def _scan(text: str) -> tuple[list[str], list[_Gap]]:
    """Digit groups (maximal runs of directly adjacent digits, as ASCII) and the gap before each."""
    groups: list[str] = []
    gaps: list[_Gap] = []
    digits: list[str] = []
    joins, count, head, tail = True, 0, "", ""
    for ch in text:
        digit = _digit(ch)
        if digit is not None:
            if not digits:
                gaps.append(_Gap(joins, count, head, tail))
            digits.append(digit)
            continue
        if digits:
            groups.append("".join(digits))
            digits = []
            joins, count, head, tail = True, 0, "", ""
        kind = _char_class(ch)
        if kind not in _SEPARATORS:
            joins = False
        if kind != _INVISIBLE:
            count += 1
            if len(head) < 3:
                head += ch
            tail = (tail + ch)[-3:]
    if digits:
        groups.append("".join(digits))
    for k in range(1, len(groups)):  # a thousands comma joins too: 9,434,765,919 (as a spreadsheet shows it)
        gap = gaps[k]
        if gap.count == 1 and gap.head == "," and len(groups[k - 1]) <= 3 and len(groups[k]) == 3:
            gap.joins = True
    return groups, gaps


def _phone_gap(gap: _Gap) -> bool:
    """How the parts of a telephone number are joined: nothing visible, or one space, hyphen, dash or dot,
    with at most one bracket ("020 7946 0018", "(020) 7946 0018", "+44 (0)20 …"). Never a line break or tab."""
    if gap.count > 2:
        return False
    brackets = sum(ch in _BRACKETS for ch in gap.head)
    others = [ch for ch in gap.head if ch not in _BRACKETS]
    return brackets <= 1 and len(others) <= 1 and all(_char_class(ch) in (_SPACE, _DOT, _DASH) for ch in others)


def _tight_gap(gap: _Gap) -> bool:
    """One colon, dot, slash or dash and nothing else visible: "12:30", "25/11", "2026-11", "3.50"."""
    return gap.count == 1 and (gap.head == ":" or _char_class(gap.head) in (_DOT, _SLASH, _DASH))


def _after_plus(gaps: list[_Gap], k: int) -> bool:
    """Group k follows a "+" that does not itself follow a digit ("+44", "tel:+44", not "5+44")."""
    gap = gaps[k]
    return gap.tail.endswith("+") and (gap.count >= 2 or k == 0)


def _after_letter(gap: _Gap) -> bool:
    return gap.count > 0 and gap.tail[-1].isalpha()


def _after_currency(gap: _Gap) -> bool:
    """A currency sign just before, perhaps with one space: "£12345678.90", "£ 12345678.90"."""
    tail = gap.tail
    if tail and _char_class(tail[-1]) == _SPACE:
        tail = tail[:-1]
    return bool(tail) and unicodedata.category(tail[-1]) == "Sc"


def _international_number(groups: list[str], gaps: list[_Gap], k: int) -> int | None:
    """The last group of the international number starting at group k (just after a "+"), or None."""
    n = len(groups)
    if groups[k] == "44":  # UK: +44, perhaps (0), then the ten (rarely nine) digits of the national number
        last = k
        if (
            last + 2 < n
            and groups[last + 1] == "0"
            and "(" in gaps[last + 1].head
            and ")" in gaps[last + 2].head
            and _phone_gap(gaps[last + 1])
            and _phone_gap(gaps[last + 2])
        ):
            last += 1
        total = 0
        while total < 10 and last + 1 < n and _phone_gap(gaps[last + 1]):
            last += 1
            total += len(groups[last])
        if total == 10 or (total == 9 and not (last + 1 < n and _phone_gap(gaps[last + 1]))):
            return last
    total, last = len(groups[k]), k  # elsewhere: at most 15 digits in all (ITU-T E.164)
    while total <= 15 and last + 1 < n and _phone_gap(gaps[last + 1]):
        last += 1
        total += len(groups[last])
    return last if total <= 15 else None


def _national_number(groups: list[str], gaps: list[_Gap], k: int) -> int | None:
    """The last group of the UK number starting at group k, or None: an area or mobile code of three to six
    digits starting 0 (not 00, not straight after a letter), then groups making eleven digits; or 0800 and six
    digits."""
    first = groups[k]
    if len(first) < 3 or first[0] != "0" or first[1] == "0" or _after_letter(gaps[k]):
        return None  # "Y01234" is an ODS code, not the start of a telephone number
    if len(first) == 10 and first.startswith("0800"):
        return k
    if len(first) > 6:
        return None
    total, last = len(first), k
    while total < 11 and last + 1 < len(groups) and _phone_gap(gaps[last + 1]):
        last += 1
        total += len(groups[last])
    ends = not (last + 1 < len(groups) and _phone_gap(gaps[last + 1]))
    if total == 11 or (total == 10 and first.startswith("0800") and ends):
        return last
    return None


def _telephone_groups(groups: list[str], gaps: list[_Gap]) -> list[bool]:
    """Which digit groups are part of a telephone number."""
    marked = [False] * len(groups)
    for k in range(len(groups)):
        last = _international_number(groups, gaps, k) if _after_plus(gaps, k) else _national_number(groups, gaps, k)
        if last is not None:
            for m in range(k, last + 1):
                marked[m] = True
    return marked


def contains_nhs_number(text: str) -> bool:
    """Whether `text` holds ten digits that pass the NHS number check, however they are written.

    The text is NFKC-normalised first (full-width and other compatibility digits become ASCII; digits of any
    script count). A *digit group* is a run of directly adjacent digits. A *candidate* is one or more consecutive
    digit groups with ten digits in all, where the text between them is only separators, in any mix and any
    number: whitespace of every kind (spaces, NBSP, U+2000-U+200A, U+202F, U+3000, tabs, line breaks), dots,
    slashes, hyphens, every dash and minus sign, underscores, invisible characters (zero-width space, joiners,
    U+2060, U+FEFF, soft hyphen), and a thousands comma (one comma, then three digits). So 943 476 5919,
    94-3476-5919, 9.4.3.4.7.6.5.9.1.9, 943_476_5919, 9,434,765,919 and 943\\u200b476 5919 are all candidates.
    A candidate never splits a digit group: eleven digits written together never hold one.

    A candidate that passes the modulus 11 check is an NHS number, whatever digits stand next to it: digits
    beyond a separator are a separate number ("2 943 476 5919", "943 476 5919 64 items" and
    "E85001 9434765919" are refused). Three exceptions mark a genuinely longer number, and the candidate
    is then let through:

    1. It overlaps a telephone number: a UK number (a 3-6 digit code starting 0, then groups joined by one
       space, hyphen, dash or dot, perhaps with a bracket, to eleven digits: "020 7946 0018", "07700 900123",
       "(01622) 851197"; or 0800 and six digits), or an international one ("+44", perhaps "(0)", then ten
       digits; "+" and any other country code, at most fifteen digits in all). Line breaks and tabs never
       join a telephone number.
    2. A bare number of at most four digits is joined to it by one colon, dot, slash or dash and nothing
       else, as in times and dates ("25/11/2026 12:30"); not the tail of a code such as "G82001/…".
    3. A currency sign stands just before it ("£12345678.90").

    The price of catching "2 943 476 5919": numbers joined only by separators are read as one run, so a date
    followed by a space and a short number ("25/11/2026 12 items", "10/11/26 14.30") is ten digits and is refused
    about one time in eleven; a word, comma or colon between them keeps them apart ("25/11/2026, 12 items").

    Runs in linear time: one pass over the characters, then a sliding window over the digit groups.
    """
    groups, gaps = _scan(unicodedata.normalize("NFKC", text))
    n = len(groups)
    telephone: list[bool] | None = None
    start = 0
    while start < n:
        end = start + 1  # the groups [start, end) are joined by separators
        while end < n and gaps[end].joins:
            end += 1
        right, total = start, 0
        for left in range(start, end):
            while right < end and total < 10:
                total += len(groups[right])
                right += 1
            if total == 10 and is_valid_nhs_number("".join(groups[left:right])):
                if telephone is None:
                    telephone = _telephone_groups(groups, gaps)
                if not _longer_number(groups, gaps, telephone, left, right - 1):
                    return True
            total -= len(groups[left])
        start = end
    return False


def _longer_number(groups: list[str], gaps: list[_Gap], telephone: list[bool], first: int, last: int) -> bool:
    """Whether the candidate in groups first..last belongs to a longer number (the exceptions above)."""
    if any(telephone[first : last + 1]):
        return True
    if first > 0 and _tight_gap(gaps[first]) and len(groups[first - 1]) <= 4 and not _after_letter(gaps[first - 1]):
        return True
    if last + 1 < len(groups) and _tight_gap(gaps[last + 1]) and len(groups[last + 1]) <= 4:
        return True
    return _after_currency(gaps[first])


# --- Types for pydantic models ---------------------------------------------------------------------------------


def _refuse_nhs_number(text: str) -> str:
    if contains_nhs_number(text):
        raise ValueError(NHS_NUMBER_REFUSAL)
    return text


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embedding, override and isolate marks: invisible, they make text read otherwise than it is ('gnp.exe')."""


def _check_free_text(text: str) -> str:
    for i, ch in enumerate(text):
        if ch in BIDI_CONTROLS or (
            unicodedata.category(ch) == "Cc" and not (ch in "\t\n" or (ch == "\r" and text.startswith("\n", i + 1)))
        ):
            raise ValueError(CONTROL_REFUSAL)
    return _refuse_nhs_number(text)


def check_header_text(text: str) -> str:
    """`text` if a header can carry it (no control character, line or paragraph separator, or bidi control) and it holds
    no NHS number; else ValueError. The one rule for header text, `HeaderText`'s and the settings' (MAIL_FROM)."""
    if any(unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029" or ch in BIDI_CONTROLS for ch in text):
        raise ValueError(HEADER_REFUSAL)
    return _refuse_nhs_number(text)


def _refuse_nhs_number_in_address(value: Any) -> Any:
    if isinstance(value, str) and contains_nhs_number(value):
        raise ValueError(EMAIL_NHS_REFUSAL)
    return value


def _lower(address: str) -> str:
    return address.lower()


def comparable(text: str) -> str:
    """Text as two people's typing of the same thing compares: case and runs of spaces aside."""
    return " ".join(text.split()).casefold()


def named_twice(codes: list[str]) -> str | None:
    """Why a list of practices cannot stand when a code is in it more than once, naming the codes (the first
    few); None when each is there once. One rule for a claim's practices and an incident's."""
    repeated = sorted(code for code, times in Counter(codes).items() if times > 1)
    if not repeated:
        return None
    shown = ", ".join(repeated[:5]) + (f" and {len(repeated) - 5} others" if len(repeated) > 5 else "")
    return f"names {shown} more than once; name each practice once"


def _check_ods(code: str) -> str:
    normalised = unicodedata.normalize("NFKC", code).strip().upper()
    if not _ODS_PRACTICE.fullmatch(normalised):
        raise ValueError(f"{quoted(code)} is not a practice ODS code (one letter then five digits, e.g. E85001)")
    return normalised


FreeText = Annotated[str, AfterValidator(_check_free_text)]
"""Any free text a person types, on one line or many: refused if it carries an NHS number or a control
character other than a line break (LF or CR LF) or a tab."""

HeaderText = Annotated[str, AfterValidator(check_header_text)]
"""Text that may reach an email header (a subject, a name, a title): one line, refused if it carries any control
character (CR, LF, TAB, NUL, NEL, ...), a Unicode line or paragraph separator, or an NHS number."""

SafeEmail = Annotated[EmailStr, BeforeValidator(_refuse_nhs_number_in_address), AfterValidator(_lower)]
"""An email address (pydantic's `EmailStr`), refused if it carries an NHS number (in practice in the part before
the @); normalised to lower case."""

OdsCode = Annotated[str, AfterValidator(_check_ods)]
"""A GP practice's ODS code, normalised to upper case."""
