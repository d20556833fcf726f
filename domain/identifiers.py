"""Identifiers the engine accepts, and the patient identifier it must never accept.

Practices are named by ODS code. Free text is searched for NHS numbers so that
patient-identifiable data is refused at the door rather than stored in Temporal
history, emails or the audit log.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_ODS_PRACTICE = re.compile(r"^[A-Z]\d{5}$")
# Ten digits, optionally written 3-3-4 with spaces or hyphens, not part of a longer number.
_NHS_CANDIDATE = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")


def is_valid_nhs_number(digits: str) -> bool:
    """Modulus 11 check of a ten-digit NHS number (check digit 10 means invalid)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def contains_nhs_number(text: str) -> bool:
    return any(is_valid_nhs_number("".join(m.groups())) for m in _NHS_CANDIDATE.finditer(text))


def _refuse_nhs_number(text: str) -> str:
    if contains_nhs_number(text):
        raise ValueError(
            "contains what looks like an NHS number; remove patient-identifiable data "
            "(refer to evidence by letter reference or counts)"
        )
    return text


def _check_ods(code: str) -> str:
    normalised = code.strip().upper()
    if not _ODS_PRACTICE.match(normalised):
        raise ValueError(f"'{code}' is not a practice ODS code (one letter then five digits, e.g. E85001)")
    return normalised


FreeText = Annotated[str, AfterValidator(_refuse_nhs_number)]
"""Any free text a person types: refused if it carries an NHS number."""

OdsCode = Annotated[str, AfterValidator(_check_ods)]
"""A GP practice's ODS code, normalised to upper case."""
