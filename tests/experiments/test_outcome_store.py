"""record_outcome_value, the one way a single value (a survey's answer) is stored: the import's
rules for corrections, history and dates, and a value that does not fit its outcome refused."""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from analysis.outcomes import import_outcomes
from experiments.enrol import enrol_file
from experiments.outcome_store import Change, record_outcome_value
from nudge.clock import FixedClock
from nudge.models import Outcome, Participant
from tests.factories import launch, person, row_counts, write_people
from tests.outcome_types import typed_example

TRIAL = "witness-reminders-2027"
MONDAY = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)
TUESDAY = datetime(2027, 3, 9, 9, 0, tzinfo=UTC)


@pytest.fixture
def someone(session: Session, clock: FixedClock, tmp_path: Path) -> int:
    """The id of the first of two witnesses enrolled in the trial with typed outcomes."""
    launch(session, clock, typed_example(tmp_path))
    people = write_people(tmp_path / "people.csv", [person(1), person(2)])
    enrol_file(session, clock, TRIAL, people, "t")
    session.commit()
    found = session.exec(select(Participant).where(Participant.participant_ref == "P00001")).one()
    assert found.id is not None
    return found.id


def history(session: Session, key: str) -> list[tuple[object, ...]]:
    rows = session.exec(
        select(Outcome).where(Outcome.outcome_key == key).order_by(col(Outcome.id))
    ).all()
    return [(o.value, o.number, o.source, o.recorded_at, o.replaced_at) for o in rows]


def test_a_first_answer_is_recorded_a_different_one_corrects_it_and_a_repeat_changes_nothing(
    session: Session, someone: int
) -> None:
    def answer(number: float, at: datetime) -> Change:
        return record_outcome_value(
            session, TRIAL, someone, "confidence", number=number, source="survey:s1", recorded_at=at
        )

    assert answer(4, MONDAY) is Change.RECORDED
    assert answer(4, MONDAY) is Change.UNCHANGED
    assert answer(2, TUESDAY) is Change.CORRECTED
    session.commit()
    assert history(session, "confidence") == [
        (None, 4.0, "survey:s1", MONDAY, TUESDAY),
        (None, 2.0, "survey:s1", TUESDAY, None),
    ]


def test_a_yes_no_outcome_takes_a_value(session: Session, someone: int) -> None:
    change = record_outcome_value(
        session, TRIAL, someone, "attended", value=True, source="survey:s1", recorded_at=MONDAY
    )
    assert change is Change.RECORDED
    assert history(session, "attended") == [(True, None, "survey:s1", MONDAY, None)]


def test_a_value_keeps_the_dates_an_import_recorded(
    session: Session, clock: FixedClock, someone: int, tmp_path: Path
) -> None:
    path = tmp_path / "outcomes.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_ref", "case_ref", "calls", "calls_on", "charged_on"])
        writer.writerow(["P00001", "C00001", "1", "2027-01-05", "2027-01-02"])
    import_outcomes(session, clock, TRIAL, path, "t")
    record_outcome_value(
        session, TRIAL, someone, "calls", number=3, source="survey:s1", recorded_at=MONDAY
    )
    current = session.exec(select(Outcome).where(col(Outcome.replaced_at).is_(None))).one()
    assert (current.number, current.occurred_on, current.charged_on) == (
        3.0,
        date(2027, 1, 5),
        date(2027, 1, 2),
    )


@pytest.mark.parametrize(
    ("key", "given", "message"),
    [
        ("confidence", {"number": 6}, "6 is outside the scale; give a whole number from 1 to 5"),
        ("confidence", {"number": 2.5}, "2.5 is not a whole number"),
        ("confidence", {"value": True}, "outcome 'confidence' is scale: give a number"),
        ("calls", {"number": -1}, "-1 is below 0"),
        ("waited", {"number": float("inf")}, "inf is not a finite number"),
        ("attended", {"number": 1}, "outcome 'attended' is yes or no: give a value"),
        ("attended", {}, "give exactly one of value"),
        ("attended", {"value": True, "number": 1}, "give exactly one of value"),
        ("convicted", {"value": True}, "'convicted' is not an outcome of trial"),
    ],
)
def test_a_value_that_does_not_fit_is_refused_before_anything_is_written(
    session: Session, someone: int, key: str, given: dict[str, float], message: str
) -> None:
    before = row_counts(session)
    with pytest.raises(ValueError, match=re.escape(message)):
        record_outcome_value(
            session, TRIAL, someone, key, source="survey:s1", recorded_at=MONDAY, **given
        )
    assert row_counts(session) == before


def test_someone_from_another_trial_is_refused(session: Session, someone: int) -> None:
    with pytest.raises(ValueError, match="participant 999999 is not in trial"):
        record_outcome_value(
            session, TRIAL, 999999, "calls", number=1, source="survey:s1", recorded_at=MONDAY
        )


def without_waiting(session: Session) -> None:
    """Make this session's next lock fail at once instead of queueing, on either engine."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA busy_timeout = 0"))
    else:
        session.execute(text("SET LOCAL lock_timeout = '1ms'"))


def test_a_second_writer_waits_for_the_first_so_one_value_stays_in_force(
    session: Session, engine: Engine, someone: int
) -> None:
    def answer(writer: Session, number: float, at: datetime) -> Change:
        return record_outcome_value(
            writer, TRIAL, someone, "calls", number=number, source="survey:s1", recorded_at=at
        )

    assert answer(session, 1, MONDAY) is Change.RECORDED  # not committed: the lock is held
    with Session(engine) as other:
        without_waiting(other)
        with pytest.raises(OperationalError):
            answer(other, 2, TUESDAY)
    session.commit()
    with Session(engine) as other:
        assert answer(other, 2, TUESDAY) is Change.CORRECTED
        other.commit()
    in_force = session.exec(select(Outcome.number).where(col(Outcome.replaced_at).is_(None)))
    assert in_force.all() == [2.0]
