"""Dates at the edges of what Python can hold: each refused with a clear message, never a crash.

Every date a user gives is checked against one range (`experiments/dates.py`, 1900-01-01 to
2199-12-31) before any arithmetic: an import's hearing times, `--date`, and the log's filters.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from experiments.dates import FIRST_DAY, LAST_DAY, DateOutOfRange, check_day, parse_day
from nudge.db import make_engine
from nudge.models import Hearing, Message
from tests.conftest import Cli
from tests.experiments.test_trial_pages import page_text
from tests.factories import person, write_people

TRIAL = "witness-reminders-2027"
RANGE = "outside the dates a trial accepts (from 1900-01-01 to 2199-12-31); check the year"
EDGES = [
    "0001-01-01T00:00+01:00",  # an offset in year 1: converting to UTC overflowed
    "9999-12-31T23:30-01:00",  # an offset in year 9999
    "0001-01-01T10:00",  # a local year-1 time
    "9999-12-31T23:59",  # a local time on the last day Python has
    "2200-01-01T10:00",  # just past the range
    "1899-12-31T10:00",  # just before it
]


@pytest.mark.parametrize("when", EDGES)
def test_an_enrolment_with_a_hearing_at_the_edges_is_refused_at_its_line(
    launched: Cli, tmp_path: Path, when: str
) -> None:
    path = write_people(tmp_path / "people.csv", [person(1), person(2, hearing_start=when)])
    result = launched.unchanged("enrol", TRIAL, str(path))
    assert result.exit_code == 1
    assert f"{path}:3: hearing_start: '{when}' is {RANGE}" in result.output.splitlines()


@pytest.mark.parametrize("when", EDGES)
def test_a_hearings_update_at_the_edges_is_refused_at_its_line(
    launched: Cli, tmp_path: Path, when: str
) -> None:
    launched("enrol", TRIAL, str(write_people(tmp_path / "people.csv", [person(1)])))
    update = tmp_path / "court-list.csv"
    update.write_text(f"case_ref,hearing_start,status\nC00001,{when},listed\n", encoding="utf-8")
    result = launched.unchanged("hearings", "update", TRIAL, str(update))
    assert result.exit_code == 1
    assert f"{update}:2: hearing_start: '{when}' is {RANGE}" in result.output.splitlines()


def test_a_hearing_on_the_last_accepted_day_is_enrolled_and_its_reminders_planned(
    launched: Cli, db_url: str, tmp_path: Path
) -> None:
    path = write_people(tmp_path / "people.csv", [person(1, hearing_start="2199-12-31T10:00")])
    result = launched("enrol", TRIAL, str(path))
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    with Session(engine) as session:
        hearing = session.exec(select(Hearing)).one()
        due = [(m.timing, m.due_at) for m in session.exec(select(Message))]
    engine.dispose()
    assert hearing.starts_at.year == 2199
    reminders = [d for timing, d in due if timing == "before"]
    assert reminders and all(d < hearing.starts_at for d in reminders)
    # The text the day after the hearing is due in 2200: a date Nudge works out, not one it
    # was given, so the range of accepted dates does not apply to it.
    assert [d.isoformat() for timing, d in due if timing == "after"] == [
        "2200-01-01T10:00:00+00:00"
    ]


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2200-01-01"])
def test_letters_batch_with_a_date_at_the_edges_is_refused_clearly(
    launched: Cli, tmp_path: Path, day: str, dry_run: list[str]
) -> None:
    out = tmp_path / "print"
    result = launched.unchanged(
        "letters", "batch", TRIAL, "--date", day, "--out", str(out), *dry_run
    )
    assert result.exit_code == 1
    assert result.output.strip() == f"--date: '{day}' is {RANGE}"
    assert not out.exists()


@pytest.mark.parametrize(
    "query",
    ["?due_to=9999-12-31", "?due_from=0001-01-01", "?due_from=2027-01-01&due_to=2200-01-01"],
)
@pytest.mark.usefixtures("launched")
def test_a_log_filter_at_the_edges_is_a_400_with_the_form_explaining_it(
    researcher: FlaskClient, query: str
) -> None:
    response = researcher.get(f"/trials/{TRIAL}/messages{query}")
    assert response.status_code == 400
    text = page_text(response)
    assert "must be a date from 1900-01-01 to 2199-12-31" in text
    assert "The other filters still apply." in text


def test_the_range_is_one_pair_of_constants_that_every_parser_keeps() -> None:
    assert parse_day(FIRST_DAY.isoformat()) == FIRST_DAY
    assert parse_day(LAST_DAY.isoformat()) == LAST_DAY
    with pytest.raises(DateOutOfRange, match=re.escape(RANGE)):
        parse_day("9999-12-31")
    with pytest.raises(DateOutOfRange):
        check_day(LAST_DAY.replace(year=2200, month=1, day=1))
