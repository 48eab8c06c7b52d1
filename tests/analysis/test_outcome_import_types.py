"""Importing outcomes that are not yes/no: a scale (or its words), a count, a measurement; each
bad cell located with what to write, nothing recorded; corrections and dates as for yes/no."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from analysis.outcomes import import_outcomes
from experiments.enrol import enrol_file
from nudge.clock import FixedClock
from nudge.errors import ImportRejected
from nudge.models import Outcome
from tests.conftest import Cli
from tests.factories import launch, person, row_counts, write_people
from tests.outcome_types import typed_example

TRIAL = "witness-reminders-2027"
HEADER = ["participant_ref", "case_ref", "attended", "confidence", "calls", "waited"]


def write_outcomes(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def enrolled(session: Session, clock: FixedClock, tmp_path: Path) -> str:
    """Six randomised witnesses in the example trial with typed outcomes."""
    launch(session, clock, typed_example(tmp_path))
    people = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 7)])
    enrol_file(session, clock, TRIAL, people, "t")
    session.commit()
    return TRIAL


def run(session: Session, clock: FixedClock, path: Path):  # type: ignore[no-untyped-def]
    summary = import_outcomes(session, clock, TRIAL, path, "test:staff")
    session.commit()
    return summary


def recorded(session: Session) -> dict[tuple[str, str], tuple[bool | None, float | None]]:
    """(participant_ref, outcome) → (value, number) of the rows in force."""
    from nudge.models import Participant

    rows = session.exec(
        select(Participant.participant_ref, Outcome.outcome_key, Outcome.value, Outcome.number)
        .join(Outcome, col(Outcome.participant_id) == Participant.id)
        .where(col(Outcome.replaced_at).is_(None))
    ).all()
    return {(ref, key): (value, number) for ref, key, value, number in rows}


def test_numbers_are_recorded_as_numbers_and_yes_no_as_before(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    path = write_outcomes(
        tmp_path / "out.csv",
        [
            ["P00001", "C00001", "yes", "4", "0", "2.5"],
            ["P00002", "C00002", "no", "FAIRLY  confident", "12", "-0.25"],
            ["P00003", "C00003", "", " very confident ", "+3", "1e2"],
            ["P00004", "C00004", "1", "", "", ""],
        ],
    )
    summary = run(session, clock, path)
    assert (summary.recorded, summary.corrected, summary.unchanged) == (12, 0, 0)
    assert recorded(session) == {
        ("P00001", "attended"): (True, None),
        ("P00001", "confidence"): (None, 4.0),
        ("P00001", "calls"): (None, 0.0),
        ("P00001", "waited"): (None, 2.5),
        ("P00002", "attended"): (False, None),
        ("P00002", "confidence"): (None, 3.0),
        ("P00002", "calls"): (None, 12.0),
        ("P00002", "waited"): (None, -0.25),
        ("P00003", "confidence"): (None, 5.0),
        ("P00003", "calls"): (None, 3.0),
        ("P00003", "waited"): (None, 100.0),
        ("P00004", "attended"): (True, None),
    }


def test_each_bad_cell_is_located_and_says_what_to_write_and_nothing_is_recorded(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    path = write_outcomes(
        tmp_path / "bad.csv",
        [
            ["P00001", "C00001", "yes", "4", "0", "2.5"],
            ["P00002", "C00002", "yes", "6", "-1", "1,234.5"],
            ["P00003", "C00003", "maybe", "4.5", "2.5", "2,5"],
            ["P00004", "C00004", "", "quite", "3 calls", "3 hours"],
            ["P00005", "C00005", "", "0", "1,000", "nan"],
            ["P09999", "C00006", "", "", "", "£12.50"],
            ["P00006", "C00006", "", "", "", "1e400"],
        ],
    )
    before = row_counts(session)
    with pytest.raises(ImportRejected) as caught:
        import_outcomes(session, clock, TRIAL, path, "t")
    session.rollback()
    scale = "give a whole number from 1 to 5 or its words"
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: confidence: '6' is outside the scale; {scale}",
        f"{path}:3: calls: '-1' is below 0: a count is a whole number, 0 or more",
        f"{path}:3: waited: '1,234.5' has a thousands separator: write the number without it "
        "(1234.5)",
        f"{path}:4: attended: 'maybe' is not yes or no (1/0, true/false; blank if not observed)",
        f"{path}:4: confidence: '4.5' is not a whole number; {scale}",
        f"{path}:4: calls: '2.5' is not a whole number; give a whole number, 0 or more",
        f"{path}:4: waited: '2,5' has a decimal comma: use a decimal point; give a number such "
        "as 1234.5",
        f"{path}:5: confidence: 'quite' is not a number; {scale} (blank if not observed)",
        f"{path}:5: calls: '3 calls' is not a number alone: write the number without units or "
        "signs (3); give a whole number, 0 or more",
        f"{path}:5: waited: '3 hours' is not a number alone: write the number without units or "
        "signs (3); give a number such as 1234.5",
        f"{path}:6: confidence: '0' is outside the scale; {scale}",
        f"{path}:6: calls: '1,000' has a thousands separator: write the number without it (1000)",
        f"{path}:6: waited: 'nan' is not a number; give a number such as 1234.5 (blank if not "
        "observed)",
        f"{path}:7: participant_ref: 'P09999' in case 'C00006' is not in this trial",
        f"{path}:7: waited: '£12.50' is not a number alone: write the number without units or "
        "signs (12.50); give a number such as 1234.5",
        f"{path}:8: waited: '1e400' is too large to be a measurement; check the value",
    ]
    assert caught.value.message.startswith(f"{path}: 6 row(s) rejected, so nothing was recorded")
    assert row_counts(session) == before


def test_a_changed_number_is_a_correction_keeping_history_and_the_same_one_changes_nothing(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    header = ["participant_ref", "case_ref", "confidence"]
    run(session, clock, write_outcomes(tmp_path / "a.csv", [["P00001", "C00001", "2"]], header))
    same = run(
        session,
        clock,
        write_outcomes(tmp_path / "b.csv", [["P00001", "C00001", "2"]], header),
    )
    assert (same.recorded, same.corrected, same.unchanged) == (0, 0, 1)
    later = FixedClock(clock.now().replace(month=4))
    changed = import_outcomes(
        session,
        later,
        TRIAL,
        write_outcomes(tmp_path / "c.csv", [["P00001", "C00001", "very confident"]], header),
        "t",
    )
    session.commit()
    assert (changed.recorded, changed.corrected) == (0, 1)
    history = session.exec(select(Outcome).order_by(col(Outcome.id))).all()
    assert [(o.value, o.number, o.source, o.replaced_at) for o in history] == [
        (None, 2.0, "outcomes:a.csv", later.now()),
        (None, 5.0, "outcomes:c.csv", None),
    ]


def test_a_number_keeps_its_date_when_corrected_without_one_and_a_lone_date_is_refused(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    header = ["participant_ref", "case_ref", "confidence", "confidence_on"]
    first = [["P00001", "C00001", "2", "2027-01-05"], ["P00002", "C00002", "3", ""]]
    run(session, clock, write_outcomes(tmp_path / "a.csv", first, header))
    run(session, clock, write_outcomes(tmp_path / "b.csv", [["P00001", "C00001", "4", ""]], header))
    in_force = session.exec(
        select(Outcome.number, Outcome.occurred_on).where(col(Outcome.replaced_at).is_(None))
    ).all()
    assert sorted(in_force, key=lambda row: row[0] or 0) == [(3.0, None), (4.0, date(2027, 1, 5))]
    lone = write_outcomes(tmp_path / "c.csv", [["P00002", "C00002", "", "2027-01-06"]], header)
    with pytest.raises(ImportRejected) as caught:
        import_outcomes(session, clock, TRIAL, lone, "t")
    assert [str(p) for p in caught.value.problems] == [
        f"{lone}:2: confidence_on: a date is given but 'confidence' is blank: give 'confidence' "
        "its value beside the date (1 if it happened), or leave the date blank"
    ]


def test_the_cli_prints_each_bad_cell_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    for args in (
        ("trial", "create", str(typed_example(tmp_path))),
        ("trial", "launch", TRIAL),
        ("enrol", TRIAL, str(write_people(tmp_path / "people.csv", [person(1)]))),
    ):
        assert cli(*args).exit_code == 0, args
    path = write_outcomes(tmp_path / "bad.csv", [["P00001", "C00001", "yes", "", "", "12 kg"]])
    result = cli.unchanged("outcomes", "import", TRIAL, str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.splitlines()[0] == (
        f"{path}:2: waited: '12 kg' is not a number alone: write the number without units or "
        "signs (12); give a number such as 1234.5"
    )
    good = write_outcomes(tmp_path / "good.csv", [["P00001", "C00001", "yes", "4", "", "12"]])
    imported = cli("outcomes", "import", TRIAL, str(good))
    assert imported.exit_code == 0, imported.output
    assert "recorded            3  value(s) observed for the first time" in imported.output
