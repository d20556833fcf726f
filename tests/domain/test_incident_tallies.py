"""An incident's per-practice money leaves its case when a run continues as new and comes back whole in the next
(`IncidentCase.tally_entries`, `without_tallies`, `restore_tallies`), a page at a time, in any page size."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.domain.test_pathology_machine import paying

codes = st.from_regex(r"[A-Z][0-9]{5}", fullmatch=True)
pence = st.integers(min_value=0, max_value=10**12)


@given(
    claimed=st.dictionaries(codes, pence, max_size=40),
    shares=st.dictionaries(codes, pence, max_size=40),
    late=st.lists(codes, max_size=10, unique=True),
    positions=st.dictionaries(codes, st.integers(min_value=0, max_value=20_000), max_size=40),
    page=st.integers(min_value=1, max_value=50),
)
def test_the_money_stored_comes_back_as_it_was(
    claimed: dict[str, int], shares: dict[str, int], late: list[str], positions: dict[str, int], page: int
) -> None:
    case = paying()
    case.claimed, case.shares, case.late_returns = claimed, shares, sorted(late)
    entries = case.tally_entries(positions)
    assert [e.ods for e in entries] == sorted({*claimed, *shares, *late})  # each practice once, by code
    assert all(e.position == positions.get(e.ods) for e in entries)

    carried = case.without_tallies()
    assert (carried.claimed, carried.shares, carried.late_returns) == ({}, {}, [])
    assert carried.total_claimed == 0 and case.total_claimed == sum(claimed.values())  # the original untouched
    for n in range(0, len(entries), page):
        carried.restore_tallies(entries[n : n + page])
    assert carried.claimed == claimed and carried.shares == shares and carried.late_returns == sorted(late)
    assert list(carried.claimed) == sorted(claimed)  # in code order: shares allocate ties the same way in any run
