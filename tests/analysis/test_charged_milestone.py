"""The charge from the case's `charged` milestone: time is counted from it, events are
checked against it, and the outcome file's `charged_on` is the fallback where a case has none."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import Session

from analysis.analyse import analyse_trial
from analysis.frame import frame_from_db
from analysis.outcomes import import_outcomes
from analysis.time_to_event import follow_up
from experiments.enrol import enrol_file
from experiments.milestones import update_milestones
from nudge.clock import FixedClock
from nudge.errors import ImportRejected
from tests.analysis.test_outcomes import write_outcomes
from tests.conftest import EXAMPLE
from tests.conftest import EXAMPLE_TRIAL as TRIAL
from tests.factories import launch, person, row_counts, write_people
from tests.milestone_factories import milestone_trial, write_people_with_milestones

DATED = ["participant_ref", "case_ref", "withdrew", "withdrew_on", "charged_on"]


@pytest.fixture
def charged(session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path) -> str:
    """Four victims of the milestone trial. C00001 was charged at 00:30 on 20 October 2026,
    London time (23:30 UTC the day before); C00003 and C00005 have no `charged` milestone."""
    launch(session, clock, milestone_trial(example_dir))
    people = [person(i, role="victim") for i in (1, 3, 5, 7)]
    enrol_file(session, clock, TRIAL, write_people_with_milestones(tmp_path / "p.csv", people), "t")
    milestones = tmp_path / "milestones.csv"
    milestones.write_text(
        "case_ref,milestone,occurred_at\nC00001,charged,2026-10-20T00:30\n", encoding="utf-8"
    )
    update_milestones(session, clock, TRIAL, milestones, "t")
    session.commit()
    return TRIAL


def outcomes(session: Session, clock: FixedClock, tmp_path: Path, rows: list[list[str]]) -> None:
    import_outcomes(session, clock, TRIAL, write_outcomes(tmp_path / "o.csv", rows, DATED), "t")
    session.commit()


def test_time_is_counted_from_the_milestone_and_from_the_file_where_a_case_has_none(
    session: Session, clock: FixedClock, charged: str, tmp_path: Path
) -> None:
    outcomes(
        session,
        clock,
        tmp_path,
        [
            # The file says 1 September; the case's milestone (20 October, local) wins.
            ["P00001", "C00001", "1", "2026-11-19", "2026-09-01"],
            ["P00003", "C00003", "0", "", "2026-12-01"],  # no milestone: the file's charge
            ["P00005", "C00005", "0", "", ""],  # neither: no charge date
            ["P00007", "C00007", "1", "2026-12-31", "2026-12-01"],
        ],
    )
    frame = frame_from_db(session, TRIAL).set_index("participant_ref")
    assert list(frame["charged_on"]) == [
        pd.Timestamp("2026-10-20"),  # the local day of 23:30 UTC on the 19th
        pd.Timestamp("2026-12-01"),
        pd.NaT,
        pd.Timestamp("2026-12-01"),
    ]
    assert list(frame["charged_from"]) == ["milestone", "outcome file", None, "outcome file"]
    report = analyse_trial(session, TRIAL, clock).report
    withdrew = next(o for o in report.outcomes if o.id == "withdrew")
    followed = withdrew.time_to_event
    assert followed is not None and followed.no_charge_date == 1
    # P00001 withdrew 30 days after the milestone's charge (79 after the file's); the others
    # are followed from the file's 1 December to the analysis date, 10 January 2027.
    as_of = date(2027, 1, 10)
    days, event, kept, _, _ = follow_up(frame.reset_index(), "withdrew", as_of)
    assert list(kept) == [True, True, False, True]
    assert list(days) == [30.0, 40.0, 30.0] and list(event) == [1.0, 0.0, 1.0]
    assert (
        "time to withdrawal is counted from the case's 'charged' milestone for 1 "
        "participant(s) and from the outcome file's charged_on for 2 (cases with no "
        "'charged' milestone recorded)"
    ) in followed.notes


def test_an_event_before_the_milestones_charge_is_refused_and_nothing_changes(
    session: Session, clock: FixedClock, charged: str, tmp_path: Path
) -> None:
    before = row_counts(session)
    path = write_outcomes(
        tmp_path / "o.csv",
        [
            # After the file's charge but before the milestone's: refused.
            ["P00001", "C00001", "1", "2026-10-19", "2026-09-01"],
            # No milestone: checked against the file's charge, and fine.
            ["P00003", "C00003", "1", "2026-10-19", "2026-09-01"],
        ],
        DATED,
    )
    with pytest.raises(ImportRejected) as refused:
        import_outcomes(session, clock, TRIAL, path, "t")
    session.rollback()
    assert [(p.line, p.message) for p in refused.value.problems] == [
        (
            2,
            "withdrew_on: '2026-10-19' is before the charge (the case's 'charged' milestone, "
            "'2026-10-20'): time is counted from the charge, so check both dates",
        )
    ]
    assert row_counts(session) == before


def test_a_trial_without_the_milestone_reads_the_file_and_says_nothing_of_it(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, EXAMPLE)
    people = [person(i, role="victim") for i in (1, 3)]
    enrol_file(session, clock, TRIAL, write_people(tmp_path / "p.csv", people), "t")
    session.commit()
    outcomes(
        session,
        clock,
        tmp_path,
        [
            ["P00001", "C00001", "1", "2026-11-19", "2026-09-01"],
            ["P00003", "C00003", "0", "", "2026-12-01"],
        ],
    )
    frame = frame_from_db(session, TRIAL)
    assert "charged_from" not in frame
    assert list(frame["charged_on"]) == [pd.Timestamp("2026-09-01"), pd.Timestamp("2026-12-01")]
    withdrew = next(
        o for o in analyse_trial(session, TRIAL, clock).report.outcomes if o.id == "withdrew"
    )
    assert withdrew.time_to_event is not None
    assert not any("milestone" in note for note in withdrew.time_to_event.notes)
