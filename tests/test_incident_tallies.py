"""The incident's per-practice money between runs (`persistence.incident_tallies`), on SQLite and PostgreSQL:
a page written again replaces its rows, pages come back in code order, and amounts beyond 32 bits are kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from domain.incident import TallyEntry
from persistence.database import make_engine
from persistence.incident_tallies import IncidentTallies


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('tallies') / 'tallies.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_pages_written_again_replace_and_read_back_in_code_order(engine: Engine) -> None:
    tallies = IncidentTallies(engine)
    entries = [
        TallyEntry(ods=f"E{n:05d}", claimed_pence=n * 10**7, share_pence=n, late=n % 7 == 0, position=n)
        for n in range(250, 0, -1)
    ]
    tallies.save("PEC-T1", entries[:100])
    tallies.save("PEC-T1", entries[:100])  # a retried activity, or a later run continuing
    tallies.save("PEC-T1", [e.model_copy(update={"share_pence": None}) for e in entries[100:]])
    tallies.save("PEC-T2", entries[:1])  # another incident's: never mixed in

    read, after = [], ""
    while page := tallies.page("PEC-T1", after, 60):
        read += page
        after = page[-1].ods
    assert [e.ods for e in read] == sorted(e.ods for e in entries)
    by_code = {e.ods: e for e in read}
    assert by_code["E00250"].claimed_pence == 2_500_000_000  # over 2^31 pence
    assert by_code["E00210"].late and by_code["E00210"].share_pence == 210 and by_code["E00210"].position == 210
    assert by_code["E00001"].share_pence is None
