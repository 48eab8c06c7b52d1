"""What reads recorded outcomes takes a number for a number, never for a yes/no: the analysis
frame, the flow of participants, a person's timeline, the bundle's analysis file and README,
and the data kept by the purge."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session

from analysis.bundle_text import column_descriptions
from analysis.consort import trial_flow
from analysis.frame import frame_from_db
from analysis.outcomes import import_outcomes
from analysis.person_timeline import person_timeline
from analysis.pseudonymise import pseudonymised_file
from experiments import trials
from experiments.enrol import enrol_file
from experiments.purge import purge_trial
from nudge.clock import FixedClock
from tests.factories import launch, person, write_people
from tests.outcome_types import typed_example

TRIAL = "witness-reminders-2027"
HEADER = ["participant_ref", "case_ref", "attended", "attended_on", "confidence"]
HEADER += ["confidence_on", "calls", "waited"]
# P00001 and P00002 answered; P00003 only attended; P00004 to P00006 have nothing recorded.
ROWS = [
    ["P00001", "C00001", "1", "2027-01-04", "4", "2027-01-05", "0", "2.5"],
    ["P00002", "C00002", "0", "", "not at all confident", "", "7", "0.75"],
    ["P00003", "C00003", "1", "", "", "", "", ""],
]


def import_rows(session: Session, clock: FixedClock, path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    import_outcomes(session, clock, TRIAL, path, "t")
    session.commit()


def set_up(session: Session, clock: FixedClock, tmp_path: Path, primary: str = "attended") -> None:
    launch(session, clock, typed_example(tmp_path, primary))
    people = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 7)])
    enrol_file(session, clock, TRIAL, people, "t")
    session.commit()
    import_rows(session, clock, tmp_path / "outcomes.csv", ROWS)


@pytest.fixture
def recorded(session: Session, clock: FixedClock, tmp_path: Path) -> str:
    set_up(session, clock, tmp_path)
    return TRIAL


def by_person(column: str, frame):  # type: ignore[no-untyped-def]
    return dict(zip(frame["participant_ref"], frame[column], strict=True))


def same(got: dict[str, float], want: dict[str, float]) -> bool:
    return got.keys() == want.keys() and all(
        (math.isnan(got[k]) and math.isnan(want[k])) or got[k] == want[k] for k in got
    )


def test_the_frame_holds_each_number_under_its_outcome_and_nan_where_not_observed(
    session: Session, recorded: str
) -> None:
    frame = frame_from_db(session, TRIAL)
    nan = np.nan
    refs = [f"P0000{i}" for i in range(1, 7)]
    expected = {
        "attended": [1.0, 0.0, 1.0, nan, nan, nan],
        "confidence": [4.0, 1.0, nan, nan, nan, nan],
        "calls": [0.0, 7.0, nan, nan, nan, nan],
        "waited": [2.5, 0.75, nan, nan, nan, nan],
        "withdrew": [nan] * 6,
    }
    for name, values in expected.items():
        assert frame[name].dtype == np.float64, name
        assert same(by_person(name, frame), dict(zip(refs, values, strict=True))), name
    # Time to an event is followed for yes/no outcomes: a number's date stays out of the frame.
    assert "attended_on" in frame and "confidence_on" not in frame


def test_the_frame_takes_a_corrected_number(
    session: Session, clock: FixedClock, recorded: str, tmp_path: Path
) -> None:
    fix = [["P00001", "C00001", "", "", "2", "", "", ""]]
    import_rows(session, clock, tmp_path / "fix.csv", fix)
    frame = frame_from_db(session, TRIAL)
    assert by_person("confidence", frame)["P00001"] == 2.0


def test_the_flow_counts_a_number_as_an_observed_primary_outcome(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    set_up(session, clock, tmp_path, primary="confidence")
    definition = trials.current_definition(session, trials.get_trial(session, TRIAL))
    flow = trial_flow(session, definition)
    assert sum(arm.outcome_observed for arm in flow.arms) == 2


def test_a_persons_timeline_says_the_number_with_the_words_of_its_point(
    session: Session, clock: FixedClock, recorded: str, tmp_path: Path
) -> None:
    fix = [["P00002", "C00002", "", "", "3", "", "", ""]]
    import_rows(session, clock, tmp_path / "fix.csv", fix)
    definition = trials.current_definition(session, trials.get_trial(session, TRIAL))
    timeline = person_timeline(session, definition, "P00002")
    said = [dict(entry.details)["Recorded as"] for entry in timeline.entries if entry.order == 6]
    assert said == [
        "attended: no",
        "confidence: 1 (not at all confident)",
        "calls: 7",
        "waited: 0.75",
        "confidence: 3 (Fairly confident)",
    ]


def test_the_bundles_analysis_file_keeps_the_numbers_and_its_readme_says_what_they_are(
    session: Session, recorded: str
) -> None:
    definition = trials.current_definition(session, trials.get_trial(session, TRIAL))
    analysis_file = pseudonymised_file(frame_from_db(session, TRIAL), definition)
    rows = analysis_file.rows
    assert sorted(rows["confidence"]) == ["", "", "", "", "1", "4"]
    assert sorted(rows["waited"]) == ["", "", "", "", "0.75", "2.5"]
    assert analysis_file.column("calls").kind == "numeric"
    readme = " ".join(column_descriptions(definition, analysis_file).split())
    assert (
        "confidence: the outcome: a scale, a whole number from 1 to 5, 1 not at all confident, "
        "3 Fairly confident, 5 very confident, empty when not observed"
    ) in readme
    assert "calls: the outcome: a count, a whole number 0 or more, empty when" in readme
    assert "waited: the outcome: a number, empty when not observed" in readme
    primary = "attended: the primary outcome (Attended court on the hearing date): 1 yes, 0 no"
    assert primary in readme


def test_the_purge_keeps_the_numbers(session: Session, clock: FixedClock, recorded: str) -> None:
    before = frame_from_db(session, TRIAL)
    trials.close_trial(session, clock, TRIAL, trials.Actor("t"))
    purge_trial(session, clock, TRIAL, "t")
    session.commit()
    after = frame_from_db(session, TRIAL)
    for name in ("confidence", "calls", "waited"):
        assert same(by_person(name, after), by_person(name, before)), name
