"""Money is integer pence. Totals are exact sums; allocations add up to their pot."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field, StrictInt

from domain.formatting import money
from domain.validation import quoted

Pence = Annotated[StrictInt, Field(ge=0)]
"""A non-negative whole number of pence; floats and strings like "1.5" are refused."""

MOST_PENCE = 100_000_000_000
"""£1,000,000,000.00: far beyond any sum an LMC pursues, so an amount typed past it is a slip (a figure pasted
twice, pence typed as pounds), refused rather than emailed, reported and charted."""


MOST_RATE_PENCE = 100_000_000
"""£1,000,000.00 for one item of work. Items are fit notes, chased letters, re-referrals, reviews, priced in pounds
or hundreds of pounds; even a whole service moved onto practices, claimed as one item, is a fraction of this. A
rate past it is a slip (digits repeated, a total typed as a rate), refused beside its line rather than multiplied
into a claim."""


def _typed(pence: int) -> str:
    return money(pence) if pence < 10**26 else f"an amount of {len(str(pence)):,} digits"  # past exact decimals


def beyond_reason(pence: int) -> str | None:
    """Why an amount a person typed cannot be meant, or None."""
    if pence > MOST_PENCE:
        return f"{_typed(pence)} is more than any claim could be (at most {money(MOST_PENCE)})"
    return None


def rate_beyond_reason(pence: int) -> str | None:
    """Why a rate per item a person set cannot be meant, or None."""
    if pence > MOST_RATE_PENCE:
        return f"{_typed(pence)} for one item is more than any item of work is paid (at most {money(MOST_RATE_PENCE)})"
    return None


def _sensible_rate(pence: int) -> int:
    if (reason := rate_beyond_reason(pence)) is not None:
        raise ValueError(reason)
    return pence


RatePence = Annotated[Pence, AfterValidator(_sensible_rate)]
"""A rate per item as a person sets it (a claim line, the configured tariff): pence, within `MOST_RATE_PENCE`. Not
for models recorded runs read back, which are not judged by rules made after them."""


K = TypeVar("K")


def how_to_write(field: str, example_pence: int) -> str:
    """How a rate is written where it is typed: in pounds on a console form, in pence in a start file's `field`."""
    return f"on the form in pounds, e.g. {example_pence // 100}.{example_pence % 100:02}; in a file as {field}, e.g. {example_pence}"


def format_pence(pence: int) -> str:
    """£1,234.56 style, for people; never parsed back (domain/formatting.py)."""
    return money(pence)


def allocate_largest_remainder(pot: int, weights: Mapping[K, int]) -> dict[K, int]:
    """Split `pot` pence pro rata to integer `weights` so the shares sum to `pot` exactly.

    Each share is the floor of its exact value; the pennies left over go one each to the
    largest remainders (ties broken by the order of `weights`, so the result is stable).
    """
    if pot < 0:
        raise ValueError("pot must not be negative")
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights must not be negative")
    total = sum(weights.values())
    if total == 0:
        if pot:
            raise ValueError("cannot allocate a pot over zero total weight")
        return {k: 0 for k in weights}
    floors: dict[K, int] = {}
    remainders: list[tuple[int, int, K]] = []
    for index, (key, weight) in enumerate(weights.items()):
        share, remainder = divmod(pot * weight, total)
        floors[key] = share
        remainders.append((-remainder, index, key))
    leftover = pot - sum(floors.values())
    for _, _, key in sorted(remainders, key=lambda r: (r[0], r[1]))[:leftover]:
        floors[key] += 1
    return floors


def pro_rata_shares(pot: int, claims: Mapping[str, int]) -> dict[str, int]:
    """Each claimant's share of `pot`: its whole claim if the pot covers every claim (a surplus is not shared), else
    pro rata by claim with the largest remainders, a tied penny to the lower code, adding up to the pot exactly. One
    rule for what an incident pays each practice and for the schedule a payer is sent once a lower sum is agreed."""
    if pot >= sum(claims.values()):
        return dict(claims)
    return allocate_largest_remainder(pot, dict(sorted(claims.items())))


def share_of(part: int, whole: int) -> str:
    """`part` as a share of `whole` in words people read: '71.8%', to a tenth of a percent rounded down (whole
    numbers, never a float), so a part short of the whole never reads '100.0%'; a part under a thousandth reads
    'less than 0.1%'."""
    tenths = part * 1000 // whole
    if part > 0 and tenths == 0:
        return "less than 0.1%"
    return f"{tenths // 10}.{tenths % 10}%"


_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d*)?", re.ASCII)
_POUNDS = re.compile(r"(\d+(\.\d*)?|\.\d+)", re.ASCII)
"""Digits 0-9 with at most one point: no exponent ('1e3'), sign, or digits of other scripts, which `Decimal`
would take but a person reading the amount back would not."""


_WHOLE = re.compile(r"\d+", re.ASCII)


def read_whole_number(text: str, most_digits: int = 12, least: int = 0) -> int:
    """A count or an amount in pence as a person types it: digits 0-9 only (not '+5', '1_000', or another
    script's digits, which `int` reads but a person reading it back would not), not so many of them that it
    cannot be meant, and at least `least`."""
    cleaned = text.strip()
    if not _WHOLE.fullmatch(cleaned) or (len(cleaned) <= most_digits and int(cleaned) < least):
        at_least = "zero" if least == 0 else f"{least:,}"
        raise ValueError(f"{quoted(text)} is not a whole number of {at_least} or more (digits 0-9)")
    if len(cleaned) > most_digits:
        raise ValueError(f"a number of {len(cleaned)} digits is far more than it could be")
    return int(cleaned)


def parse_pounds(text: str) -> int:
    """'£1,234.50' -> 123450 pence, exactly; refuses negatives and fractions of a penny."""
    from decimal import Decimal, InvalidOperation

    cleaned = text.strip().removeprefix("£").strip()
    if "," in cleaned:  # commas only between groups of three digits ('1,234.50'), never '1,00' or '1,0,0'
        if not _THOUSANDS.fullmatch(cleaned):
            raise ValueError(f"{quoted(text)} is not an amount in pounds, e.g. 1234.50 (commas only between thousands)")
        cleaned = cleaned.replace(",", "")
    if cleaned.startswith("-") and _POUNDS.fullmatch(cleaned[1:].strip()):
        raise ValueError(f"{quoted(text)} is below zero; give the amount in pounds, e.g. 1234.50")
    if not _POUNDS.fullmatch(cleaned):
        raise ValueError(f"{quoted(text)} is not an amount in pounds, e.g. 1234.50")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as err:  # pragma: no cover - the pattern admits only what Decimal reads
        raise ValueError(f"{quoted(text)} is not an amount in pounds, e.g. 1234.50") from err
    pence = amount * 100
    if pence != pence.to_integral_value():
        raise ValueError("an amount cannot have fractions of a penny")
    return int(pence)
