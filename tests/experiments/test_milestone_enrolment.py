"""Milestone dates on the enrolment export: read as local times, recorded with each case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from experiments.milestones import current_milestones
from experiments.rows import RowError, parse_occurred_at
from nudge.clock import FixedClock
from nudge.models import Case, CaseMilestone
from tests.experiments.test_enrol import enrol, refusal
from tests.factories import launch, person, row_counts
from tests.milestone_factories import milestone_trial, write_people_with_milestones

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def live(session: Session, clock: FixedClock, example_dir: Path) -> str:
    return launch(session, clock, milestone_trial(example_dir))


def case_ids(session: Session) -> dict[str, int]:
    return {case.case_ref: case.id or 0 for case in session.exec(select(Case))}


@pytest.mark.parametrize(
    ("written", "zone", "instant"),
    [
        ("2027-01-05", "Europe/London", "2027-01-05T00:00+00:00"),  # GMT
        ("05/01/2027", "Europe/London", "2027-01-05T00:00+00:00"),
        ("2026-07-01", "Europe/London", "2026-06-30T23:00+00:00"),  # BST: local midnight
        ("2026-07-01T14:30", "Europe/London", "2026-07-01T13:30+00:00"),
        ("01/07/2026 14:30", "Europe/London", "2026-07-01T13:30+00:00"),
        ("2026-07-01T14:30Z", "Europe/London", "2026-07-01T14:30+00:00"),
        # Santiago's clocks skip from midnight to 01:00: the day begins at 01:00 (-03:00).
        ("2026-09-06", "America/Santiago", "2026-09-06T04:00+00:00"),
    ],
)
def test_a_milestone_date_is_a_local_time_and_a_date_alone_is_the_start_of_that_day(
    written: str, zone: str, instant: str
) -> None:
    parsed = parse_occurred_at(written, ZoneInfo(zone), "charge_date")
    assert parsed == datetime.fromisoformat(instant)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("", "charge_date: missing; give the date it happened, e.g. 2027-02-03"),
        ("next week", "charge_date: 'next week' is not a real date, or date and time"),
        ("2027-02-30", "charge_date: '2027-02-30' is not a real date, or date and time"),
        ("1899-12-31", "charge_date: '1899-12-31' is outside the dates a trial accepts"),
        ("2026-03-29T01:30", "charge_date: '2026-03-29T01:30' does not exist in Europe/London"),
    ],
)
def test_a_milestone_date_that_is_not_one_says_what_to_write(written: str, message: str) -> None:
    with pytest.raises(RowError) as refused:
        parse_occurred_at(written, LONDON, "charge_date")
    assert str(refused.value).startswith(message)


def test_the_exports_milestone_columns_are_recorded_with_each_case(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    rows = [
        person(1, charge_date="2027-01-05", verdict_date=""),
        person(2, case_ref="C00001", charge_date="2027-01-05", verdict_date=""),
        person(3, charge_date="2026-07-01 14:30", verdict_date="2027-01-09T16:00"),
    ]
    summary = enrol(session, clock, write_people_with_milestones(tmp_path / "people.csv", rows))
    assert (summary.milestones_recorded, summary.milestones_corrected) == (3, 0)
    assert summary.ignored_columns == []  # the milestone columns are read, not dropped
    cases = case_ids(session)
    assert current_milestones(session, cases.values()) == {
        cases["C00001"]: {"charged": datetime(2027, 1, 5, tzinfo=UTC)},
        cases["C00003"]: {
            "charged": datetime(2026, 7, 1, 13, 30, tzinfo=UTC),
            "verdict": datetime(2027, 1, 9, 16, tzinfo=UTC),
        },
    }
    records = session.exec(select(CaseMilestone)).all()
    assert {(r.source, r.is_correction, r.replaced_at, r.recorded_at) for r in records} == {
        ("enrol:people.csv", False, None, clock.now())
    }


def test_a_case_with_no_milestones_yet_reads_as_none(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    path = write_people_with_milestones(tmp_path / "people.csv", [person(1)])
    enrol(session, clock, path)
    assert current_milestones(session, case_ids(session).values()) == {
        case_ids(session)["C00001"]: {}
    }


def test_a_bad_milestone_date_rejects_the_whole_export(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    before = row_counts(session)
    path = write_people_with_milestones(
        tmp_path / "people.csv",
        [
            person(1, charge_date="2027-01-05"),
            person(2, charge_date="the 5th"),
            person(3, verdict_date="2027-01-10T12:01"),  # a minute after the pinned clock
            person(4, case_ref="C00001", charge_date="2027-01-06"),
        ],
    )
    assert refusal(session, clock, path) == [
        f"{path}:3: charge_date: 'the 5th' is not a real date, or date and time (write it like "
        "2027-02-03, or 2027-02-03T14:30 in the trial's timezone, or with an offset)",
        f"{path}:4: verdict_date: '2027-01-10T12:01' is in the future (it is now 2027-01-10 "
        "12:00 in Europe/London); record a milestone once it has happened",
        f"{path}:5: charge_date: case 'C00001' has a different charge_date on line 2 (give each "
        "row of a case the same date, or the same blank)",
    ]
    assert row_counts(session) == before


def test_an_export_without_a_declared_milestone_column_is_refused_at_its_header(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    path = write_people_with_milestones(tmp_path / "people.csv", [person(1)])
    path.write_text(path.read_text().replace(",verdict_date", ",verdict"))
    assert refusal(session, clock, path) == [
        f"{path}:1: header: missing column 'verdict_date' (named in the trial definition)"
    ]


def test_a_later_export_corrects_a_date_and_keeps_the_one_it_replaces(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    first = [person(1, charge_date="2027-01-05"), person(2, charge_date="2027-01-06")]
    enrol(session, clock, write_people_with_milestones(tmp_path / "first.csv", first))
    clock.advance(timedelta(days=1))
    second = [
        person(1, charge_date="2027-01-04"),  # corrected
        person(2, charge_date="2027-01-06", verdict_date="2027-01-10"),  # same, and a new one
        person(3, charge_date="2027-01-07"),  # a new case
    ]
    summary = enrol(session, clock, write_people_with_milestones(tmp_path / "second.csv", second))
    cases = case_ids(session)
    assert (summary.milestones_recorded, summary.milestones_corrected) == (2, 1)
    # Cases enrolled before whose dates changed are re-planned; the new case is planned afresh.
    assert sorted(summary.milestone_cases) == [cases["C00001"], cases["C00002"]]
    history = session.exec(
        select(CaseMilestone)
        .where(CaseMilestone.case_id == cases["C00001"])
        .order_by(CaseMilestone.id)  # type: ignore[arg-type]
    ).all()
    assert [
        (r.occurred_at.date().isoformat(), r.source, r.is_correction, r.replaced_at)
        for r in history
    ] == [
        ("2027-01-05", "enrol:first.csv", False, clock.now()),
        ("2027-01-04", "enrol:second.csv", True, None),
    ]
    assert current_milestones(session, [cases["C00001"]])[cases["C00001"]] == {
        "charged": datetime(2027, 1, 4, tzinfo=UTC)
    }


def test_the_database_itself_holds_one_current_date_a_case_and_milestone(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    """Two writers that both missed the other's date could not leave the case with two."""
    path = write_people_with_milestones(tmp_path / "p.csv", [person(1, charge_date="2027-01-05")])
    enrol(session, clock, path)
    session.add(
        CaseMilestone(
            trial_id=live,
            case_id=case_ids(session)["C00001"],
            name="charged",
            occurred_at=datetime(2027, 1, 6, tzinfo=UTC),
            recorded_at=clock.now(),
            source="test",
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()
