"""Outcome import: all or nothing, located messages, idempotent, corrections keep history."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from analysis.outcomes import import_outcomes
from nudge.clock import FixedClock
from nudge.errors import ImportRejected, TrialStateError
from nudge.models import AuditEvent, Outcome
from tests.conftest import EXAMPLE
from tests.factories import launch, person, row_counts, write_people

TRIAL = "witness-reminders-2027"


def write_outcomes(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or ["participant_ref", "case_ref", "attended", "withdrew"])
        writer.writerows(rows)
    return path


@pytest.fixture
def enrolled(session: Session, clock: FixedClock, tmp_path: Path) -> str:
    """Six randomised witnesses and victims, and one ineligible 17-year-old (P00007)."""
    from experiments.enrol import enrol_file

    launch(session, clock, EXAMPLE)
    people = [person(i, role="victim" if i % 2 else "witness") for i in range(1, 7)]
    people.append(person(7, age="17"))
    enrol_file(session, clock, TRIAL, write_people(tmp_path / "people.csv", people), "t")
    session.commit()
    return TRIAL


def run(session: Session, clock: FixedClock, path: Path):  # type: ignore[no-untyped-def]
    summary = import_outcomes(session, clock, TRIAL, path, "test:staff")
    session.commit()
    return summary


def current(session: Session) -> dict[tuple[int, str], bool | None]:
    rows = session.exec(select(Outcome).where(col(Outcome.replaced_at).is_(None))).all()
    return {(r.participant_id, r.outcome_key): r.value for r in rows}


def test_outcomes_are_recorded_and_counted(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    path = write_outcomes(
        tmp_path / "out.csv",
        [
            ["P00001", "C00001", "yes", "no"],
            ["P00002", "C00002", "0", ""],
            ["P00003", "C00003", "TRUE", ""],
        ],
    )
    summary = run(session, clock, path)
    assert (summary.read, summary.recorded, summary.corrected, summary.unchanged) == (3, 4, 0, 0)
    assert sorted(current(session).values(), key=str) == [False, False, True, True]
    assert all(o.source == "outcomes:out.csv" for o in session.exec(select(Outcome)))


def test_the_same_file_twice_changes_nothing(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    path = write_outcomes(tmp_path / "out.csv", [["P00001", "C00001", "yes", "no"]])
    run(session, clock, path)
    before = row_counts(session)
    again = run(session, clock, path)
    assert (again.recorded, again.corrected, again.unchanged) == (0, 0, 2)
    after = row_counts(session)
    assert after["outcome"] == before["outcome"] == 2
    assert after["audit_event"] == before["audit_event"] + 1


def test_a_correction_adds_a_row_and_retires_the_old_one(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    run(session, clock, write_outcomes(tmp_path / "a.csv", [["P00001", "C00001", "no", ""]]))
    later = FixedClock(clock.now().replace(month=4))
    summary = import_outcomes(
        session,
        later,
        TRIAL,
        write_outcomes(tmp_path / "b.csv", [["P00001", "C00001", "yes", ""]]),
        "t",
    )
    session.commit()
    assert (summary.recorded, summary.corrected) == (0, 1)
    history = session.exec(select(Outcome).order_by(col(Outcome.id))).all()
    assert [(o.value, o.source, o.replaced_at) for o in history] == [
        (False, "outcomes:a.csv", later.now()),
        (True, "outcomes:b.csv", None),
    ]


def test_a_blank_cell_is_not_observed_and_erases_nothing(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    run(session, clock, write_outcomes(tmp_path / "a.csv", [["P00001", "C00001", "yes", ""]]))
    summary = run(
        session, clock, write_outcomes(tmp_path / "b.csv", [["P00001", "C00001", "", ""]])
    )
    assert (summary.recorded, summary.corrected, summary.unchanged) == (0, 0, 0)
    assert list(current(session).values()) == [True]


def test_a_file_with_only_some_outcome_columns_is_accepted(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    path = write_outcomes(
        tmp_path / "a.csv", [["C00001", "P00001", "1"]], ["case_ref", "participant_ref", "attended"]
    )
    summary = run(session, clock, path)
    assert summary.outcome_columns == ["attended"] and summary.recorded == 1


def test_an_enrolled_but_unrandomised_person_is_recorded_and_counted_apart(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    summary = run(
        session, clock, write_outcomes(tmp_path / "a.csv", [["P00007", "C00007", "no", ""]])
    )
    assert (summary.recorded, summary.not_randomised) == (1, 1)


def refused_header(
    session: Session, clock: FixedClock, tmp_path: Path, header: list[str]
) -> tuple[Path, list[str]]:
    """A file of `header` alone, refused: its path and the problems, the database unchanged."""
    path = write_outcomes(tmp_path / "bad.csv", [], header)
    before = row_counts(session)
    with pytest.raises(ImportRejected) as caught:
        import_outcomes(session, clock, TRIAL, path, "t")
    session.rollback()
    assert row_counts(session) == before
    return path, [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (["participant_ref", "attended"], "header: missing column 'case_ref'"),
        (
            ["participant_ref", "case_ref", "attended", "convicted"],
            "header: column 'convicted' is not an outcome of trial 'witness-reminders-2027' "
            "(its outcomes: attended, withdrew)",
        ),
        (
            ["participant_ref", "case_ref", "attended", "attended"],
            "header: column 'attended' appears twice",
        ),
        (["participant_ref", "case_ref"], "header: no outcome column (one of: attended, withdrew)"),
    ],
)
def test_a_bad_header_is_refused_at_line_1(
    session: Session,
    clock: FixedClock,
    enrolled: str,
    tmp_path: Path,
    header: list[str],
    message: str,
) -> None:
    path, problems = refused_header(session, clock, tmp_path, header)
    assert f"{path}:1: {message}" in problems


def test_every_bad_row_is_reported_and_nothing_is_recorded(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    path = write_outcomes(
        tmp_path / "bad.csv",
        [
            ["P00001", "C00001", "yes", "no"],
            ["P09999", "C00001", "yes", ""],
            ["P00002", "C00002", "maybe", ""],
            ["P00001", "C00001", "no", ""],
            ["", "C00003", "yes", ""],
            ["P00004", "C00004", "yes"],
        ],
    )
    before = row_counts(session)
    with pytest.raises(ImportRejected) as caught:
        import_outcomes(session, clock, TRIAL, path, "t")
    session.rollback()
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: participant_ref: 'P09999' in case 'C00001' is not in this trial",
        f"{path}:4: attended: 'maybe' is not yes or no (1/0, true/false; blank if not observed)",
        f"{path}:5: participant_ref: 'P00001' in case 'C00001' is already on line 2",
        f"{path}:6: participant_ref: missing",
        f"{path}:7: row: has 3 cells but the header has 4 columns",
    ]
    assert caught.value.message == (
        f"{path}: 5 row(s) rejected, so nothing was recorded; fix them and import the file again"
    )
    assert row_counts(session) == before


def test_each_import_is_audited_without_personal_data(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    run(session, clock, write_outcomes(tmp_path / "a.csv", [["P00001", "C00001", "yes", ""]]))
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "outcomes.imported")).one()
    assert event.subject == "a.csv" and event.trial_id == TRIAL
    assert event.details == {
        "read": 1,
        "recorded": 1,
        "corrected": 0,
        "unchanged": 0,
        "not_randomised": 0,
        "outcomes": ["attended", "withdrew"],
    }
    assert "P00001" not in str(event.details)


def test_outcomes_for_a_draft_trial_are_refused(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    from experiments import trials
    from experiments.loader import load_trial_file

    trials.create_trial(session, clock, load_trial_file(EXAMPLE), trials.Actor("t"))  # type: ignore[arg-type]
    with pytest.raises(TrialStateError, match="is a draft"):
        import_outcomes(session, clock, TRIAL, write_outcomes(tmp_path / "a.csv", []), "t")
