"""Outcome dates: withdrawal with its day and the charge, all or nothing, corrections kept."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from analysis.outcomes import OutcomeSummary, import_outcomes
from nudge.clock import FixedClock
from nudge.errors import ImportRejected
from nudge.models import AuditEvent, Outcome
from tests.analysis.test_outcomes import enrolled, refused_header, write_outcomes
from tests.conftest import Cli
from tests.factories import row_counts

TRIAL = "witness-reminders-2027"
DATED = ["participant_ref", "case_ref", "withdrew", "withdrew_on", "charged_on"]
__all__ = ["enrolled"]  # the fixture: six randomised people, the odd-numbered ones victims
WITHDREW_P1 = ["P00001", "C00001", "1", "2027-01-05", "2026-11-02"]


def dated(tmp_path: Path, name: str, rows: list[list[str]]) -> Path:
    return write_outcomes(tmp_path / name, rows, DATED)


def run(session: Session, clock: FixedClock, path: Path) -> OutcomeSummary:
    summary = import_outcomes(session, clock, TRIAL, path, "test:staff")
    session.commit()
    return summary


def withdrawals(session: Session) -> list[tuple[bool | None, date | None, date | None, bool]]:
    """Every withdrawal row ever recorded: value, event day, charge day, still in force."""
    rows = session.exec(
        select(Outcome).where(Outcome.outcome_key == "withdrew").order_by(col(Outcome.id))
    ).all()
    return [(r.value, r.occurred_on, r.charged_on, r.replaced_at is None) for r in rows]


def test_withdrawal_is_recorded_with_its_day_and_the_charge(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    path = dated(
        tmp_path,
        "a.csv",
        [
            ["P00001", "C00001", "1", "2027-01-05", "2026-11-02"],
            ["P00003", "C00003", "0", "", "2026-12-01"],
            ["P00005", "C00005", "1", "", ""],
        ],
    )
    summary = run(session, clock, path)
    assert (summary.recorded, summary.date_columns) == (3, ["withdrew_on", "charged_on"])
    assert withdrawals(session) == [
        (True, date(2027, 1, 5), date(2026, 11, 2), True),
        (False, None, date(2026, 12, 1), True),
        (True, None, None, True),
    ]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "outcomes.imported")).one()
    assert event.details is not None
    assert event.details["dates"] == ["withdrew_on", "charged_on"]


def test_a_blank_date_keeps_the_one_recorded_and_a_new_date_is_a_correction(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    run(session, clock, dated(tmp_path, "a.csv", [WITHDREW_P1]))
    again = run(session, clock, dated(tmp_path, "b.csv", [["P00001", "C00001", "1", "", ""]]))
    assert (again.recorded, again.corrected, again.unchanged) == (0, 0, 1)
    fixed = run(
        session, clock, dated(tmp_path, "c.csv", [["P00001", "C00001", "1", "2027-01-06", ""]])
    )
    assert (fixed.corrected, fixed.unchanged) == (1, 0)
    assert withdrawals(session) == [
        (True, date(2027, 1, 5), date(2026, 11, 2), False),
        (True, date(2027, 1, 6), date(2026, 11, 2), True),
    ]


def test_withdrawal_corrected_to_no_loses_its_day_and_keeps_the_charge(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    run(session, clock, dated(tmp_path, "a.csv", [WITHDREW_P1]))
    run(session, clock, dated(tmp_path, "b.csv", [["P00001", "C00001", "0", "", ""]]))
    assert withdrawals(session)[-1] == (False, None, date(2026, 11, 2), True)


def test_a_file_without_dates_leaves_recorded_dates_alone(
    session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    run(session, clock, dated(tmp_path, "a.csv", [WITHDREW_P1]))
    summary = run(
        session, clock, write_outcomes(tmp_path / "b.csv", [["P00001", "C00001", "yes", "1"]])
    )
    assert (summary.recorded, summary.unchanged, summary.date_columns) == (1, 1, [])
    assert withdrawals(session) == [(True, date(2027, 1, 5), date(2026, 11, 2), True)]


def test_today_in_the_trials_timezone_is_not_the_future(
    session: Session, enrolled: str, tmp_path: Path
) -> None:
    """23:30 UTC on 30 June is already 1 July in London, so a withdrawal on 1 July is today."""
    late = FixedClock(datetime(2027, 6, 30, 23, 30, tzinfo=UTC))
    run(session, late, dated(tmp_path, "a.csv", [["P00001", "C00001", "1", "2027-07-01", ""]]))
    assert withdrawals(session) == [(True, date(2027, 7, 1), None, True)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            ["P00003", "C00003", "1", "05/01/2027", "2026-11-02"],
            "withdrew_on: '05/01/2027' is not a date; write it as YYYY-MM-DD (for example "
            "2027-02-12); leave it blank if it is not known",
        ),
        (
            ["P00003", "C00003", "1", "2027-01-05", "last autumn"],
            "charged_on: 'last autumn' is not a date; write it as YYYY-MM-DD (for example "
            "2027-02-12); leave it blank if it is not known",
        ),
        (
            ["P00003", "C00003", "1", "2026-10-30", "2026-11-02"],
            "withdrew_on: '2026-10-30' is before the charge (charged_on '2026-11-02'): time is "
            "counted from the charge, so check both dates",
        ),
        (
            ["P00003", "C00003", "1", "2026-10-30", ""],
            "withdrew_on: '2026-10-30' is before the charge ('2026-10-31', recorded by an "
            "earlier import): time is counted from the charge, so check both dates",
        ),
        (
            ["P00003", "C00003", "0", "2027-01-05", "2026-11-02"],
            "withdrew_on: '2027-01-05' is given but 'withdrew' is 0 (no): give 'withdrew' 1 if "
            "it happened, or leave the date blank",
        ),
        (
            ["P00003", "C00003", "", "2027-01-05", ""],
            "withdrew_on: a date is given but 'withdrew' is blank: give 'withdrew' its value "
            "beside the date (1 if it happened), or leave the date blank",
        ),
        (
            ["P00003", "C00003", "1", "2027-01-11", "2026-11-02"],
            "withdrew_on: '2027-01-11' is after today (2027-01-10 in the trial's timezone): an "
            "outcome file records what has happened, so check the date",
        ),
        (
            ["P00003", "C00003", "0", "", "2027-02-01"],
            "charged_on: '2027-02-01' is after today (2027-01-10 in the trial's timezone): an "
            "outcome file records what has happened, so check the date",
        ),
    ],
)
def test_a_bad_date_is_refused_at_its_line_and_nothing_changes(
    session: Session,
    clock: FixedClock,
    enrolled: str,
    tmp_path: Path,
    row: list[str],
    message: str,
) -> None:
    run(session, clock, dated(tmp_path, "first.csv", [["P00003", "C00003", "0", "", "2026-10-31"]]))
    before = (row_counts(session), withdrawals(session))
    path = dated(tmp_path, "bad.csv", [["P00001", "C00001", "1", "2027-01-02", "2026-11-02"], row])
    with pytest.raises(ImportRejected) as caught:
        import_outcomes(session, clock, TRIAL, path, "test:staff")
    session.rollback()
    assert [str(p) for p in caught.value.problems] == [f"{path}:3: {message}"]
    assert (row_counts(session), withdrawals(session)) == before


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            ["participant_ref", "case_ref", "attended", "withdrew_on"],
            "header: column 'withdrew_on' is the date of 'withdrew', which the file does not "
            "have: add a 'withdrew' column (1 where a date is given)",
        ),
        (
            ["participant_ref", "case_ref", "withdrew", "charged_on"],
            "header: column 'charged_on' is the day time is counted from to an outcome's date, "
            "and the file has no outcome date (attended_on, withdrew_on): add one or leave "
            "'charged_on' out",
        ),
        (
            ["participant_ref", "case_ref", "withdrew", "withdrew_on", "convicted_on"],
            "header: column 'convicted_on' is not an outcome of trial 'witness-reminders-2027' "
            "(its outcomes: attended, withdrew)",
        ),
    ],
)
def test_a_date_column_that_cannot_be_used_is_refused_at_line_1(
    session: Session,
    clock: FixedClock,
    enrolled: str,
    tmp_path: Path,
    header: list[str],
    message: str,
) -> None:
    path, problems = refused_header(session, clock, tmp_path, header)
    assert problems == [f"{path}:1: {message}"]


def test_the_command_names_the_dates_and_refuses_a_bad_one_without_changing_anything(
    cli: Cli, session: Session, clock: FixedClock, enrolled: str, tmp_path: Path
) -> None:
    good = dated(tmp_path, "a.csv", [["P00001", "C00001", "yes", "2027-01-05", "2026-11-02"]])
    result = cli("outcomes", "import", TRIAL, str(good))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"{good}: imported (outcomes: withdrew; dates: withdrew_on, charged_on)"
    )
    bad = dated(tmp_path, "b.csv", [["P00001", "C00001", "yes", "2027-13-01", ""]])
    refused = cli.unchanged("outcomes", "import", TRIAL, str(bad))
    assert refused.exit_code == 1
    assert f"{bad}:2: withdrew_on: '2027-13-01' is not a date" in refused.output
