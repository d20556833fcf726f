"""The bank-holiday calendar as data: the shipped file in gov.uk's format agrees with the `holidays`
package for 2015-2030; a gov.uk file loads; an announced holiday installs a new version, and every
change is in the security and operations log; bad files are refused naming the problem."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import holidays
import pytest
from sqlalchemy import Engine

from domain.calendar import from_govuk, to_govuk
from persistence.calendars import SHIPPED, Calendars, shipped_calendar
from persistence.database import make_engine
from persistence.security_log import SecurityLog

NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/calendar.db")
    return make_engine(request.getfixturevalue("postgres_url"))


def test_the_shipped_file_matches_the_holidays_package_for_2015_to_2030() -> None:
    shipped = {h.day for h in shipped_calendar().holidays if 2015 <= h.day.year <= 2030}
    package = set(holidays.country_holidays("GB", subdiv="ENG", years=range(2015, 2031)).keys())
    assert shipped == package
    assert date(2022, 9, 19) in shipped and date(2023, 5, 8) in shipped  # the one-off holidays


def test_a_file_in_govuks_published_format_loads(tmp_path: Path) -> None:
    published = {  # as https://www.gov.uk/bank-holidays.json has it: three divisions, notes, bunting
        "england-and-wales": {
            "division": "england-and-wales",
            "events": [
                {"title": "New Year’s Day", "date": "2027-01-01", "notes": "", "bunting": True},
                {"title": "Good Friday", "date": "2027-03-26", "notes": "", "bunting": False},
            ],
        },
        "scotland": {
            "division": "scotland",
            "events": [{"title": "2nd January", "date": "2027-01-04", "notes": "Substitute day", "bunting": True}],
        },
        "northern-ireland": {"division": "northern-ireland", "events": []},
    }
    calendar = from_govuk(published)
    assert [h.day for h in calendar.holidays] == [date(2027, 1, 1), date(2027, 3, 26)]
    assert date(2027, 1, 4) not in calendar.days, "Scotland's holidays are not ours"
    assert from_govuk(to_govuk(calendar)).version == calendar.version, "the version is named by the content"
    assert from_govuk(json.loads(SHIPPED.read_text())).version == shipped_calendar().version


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "england-and-wales"),
        ({"england-and-wales": {"events": []}}, "no events"),
        ([], "england-and-wales"),
        (
            {
                "england-and-wales": {
                    "events": [{"title": "A", "date": "2027-01-01"}, {"title": "B", "date": "2029-01-01"}]
                }
            },
            "no holidays in 2028",
        ),
        ({"england-and-wales": {"events": [{"title": "Far", "date": "3000-01-01"}]}}, "between 2000 and 2100"),
    ],
)
def test_a_file_that_is_not_govuks_is_refused(data: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        from_govuk(data)


def test_an_announced_holiday_makes_a_new_version_logged_with_who_and_what(engine: Engine) -> None:
    calendars = Calendars(engine)
    shipped = calendars.current()
    assert shipped.version == shipped_calendar().version
    newer = calendars.add_holiday(date(2027, 6, 7), "Bank holiday for a national occasion", "ops@lmc.example", NOW)
    assert newer.version != shipped.version and date(2027, 6, 7) in calendars.current().days
    with pytest.raises(ValueError, match="already a bank holiday"):
        calendars.add_holiday(date(2027, 6, 7), "Again", "ops@lmc.example", NOW)
    logged = [e for e in SecurityLog(engine).recent() if e.event == "calendar_changed"]
    assert logged and logged[0].by == "ops@lmc.example"
    assert logged[0].detail["added"] == ["2027-06-07 Bank holiday for a national occasion"]
    assert logged[0].detail["previous"] == shipped.version


def test_loading_the_same_file_twice_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    calendars = Calendars(engine)
    path = tmp_path / "bank-holidays.json"
    path.write_text(json.dumps(to_govuk(calendars.current().with_holiday(date(2028, 1, 5), "Extra day"))))
    _, changed = calendars.load_file(path, "ops@lmc.example", NOW)
    assert changed
    _, changed_again = calendars.load_file(path, "ops@lmc.example", NOW)
    assert not changed_again
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="file: cannot read"):
        calendars.load_file(tmp_path / "broken.json", "ops@lmc.example", NOW)


def test_a_file_that_would_take_a_years_holidays_installs_nothing_and_logs_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    calendars = Calendars(engine)
    installed, logged = calendars.current(), SecurityLog(engine).recent()
    path = tmp_path / "bank-holidays.json"
    path.write_text(json.dumps({"england-and-wales": {"events": [{"title": "X", "date": "2027-02-01"}]}}))
    with pytest.raises(ValueError, match=r"^file: this would take away \d+ bank holidays in 2027;"):
        calendars.load_file(path, "ops@lmc.example", NOW)
    assert calendars.current() == installed and SecurityLog(engine).recent() == logged
