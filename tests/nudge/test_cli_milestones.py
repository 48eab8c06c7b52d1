"""`nudge milestones update` as staff use it: all or nothing, a dry run, corrections kept."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from nudge.models import AuditEvent, Case, CaseMilestone
from tests.conftest import EXAMPLE_TRIAL as TRIAL
from tests.conftest import Cli
from tests.factories import person
from tests.milestone_factories import milestone_trial, write_people_with_milestones

HEADER = "case_ref,milestone,occurred_at\n"


@pytest.fixture
def live(cli: Cli, example_dir: Path, tmp_path: Path) -> Cli:
    """The milestone trial launched; three cases enrolled, C00001 charged on 5 January."""
    assert cli("trial", "create", str(milestone_trial(example_dir))).exit_code == 0
    assert cli("trial", "launch", TRIAL).exit_code == 0
    rows = [person(1, charge_date="2027-01-05"), person(2), person(3)]
    enrolled = cli("enrol", TRIAL, str(write_people_with_milestones(tmp_path / "p.csv", rows)))
    assert "  milestones recorded         1  (and 0 corrected)" in enrolled.output
    return cli


def milestones_file(tmp_path: Path, rows: str, name: str = "milestones.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def history(engine: Engine) -> list[tuple[str, str, str, str, bool, bool]]:
    """Every milestone record: case, name, local date, source, correction?, still current?"""
    with Session(engine) as session:
        query = (
            select(Case.case_ref, CaseMilestone)
            .join(CaseMilestone, CaseMilestone.case_id == Case.id)  # type: ignore[arg-type]
            .order_by(CaseMilestone.id)  # type: ignore[arg-type]
        )
        return [
            (
                ref,
                m.name,
                m.occurred_at.isoformat(),
                m.source,
                m.is_correction,
                m.replaced_at is None,
            )
            for ref, m in session.exec(query)
        ]


def test_a_file_records_first_dates_and_corrections_and_is_audited(
    live: Cli, tmp_path: Path, engine: Engine
) -> None:
    path = milestones_file(
        tmp_path,
        "C00001,charged,2027-01-04\nC00002,Trial_Listed,2027-01-08T15:30\nC00003,verdict,"
        "2027-01-09 16:45\n",
    )
    result = live("milestones", "update", TRIAL, str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{path}: recorded 2, corrected 1, unchanged 0 (read 3)",
        # The verdict ends C00003's case: its people's hearing reminders stop.
        "messages: planned 0, re-planned 0, cancelled 2",
    ]
    source = "milestones:milestones.csv"
    assert history(engine) == [
        ("C00001", "charged", "2027-01-05T00:00:00+00:00", "enrol:p.csv", False, False),
        ("C00001", "charged", "2027-01-04T00:00:00+00:00", source, True, True),
        ("C00002", "trial_listed", "2027-01-08T15:30:00+00:00", source, False, True),
        ("C00003", "verdict", "2027-01-09T16:45:00+00:00", source, False, True),
    ]
    with Session(engine) as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "milestones.updated")
        ).one()
    assert (event.actor.startswith("cli:"), event.trial_id, event.subject) == (
        True,
        TRIAL,
        "milestones.csv",
    )
    assert event.details == {"read": 3, "recorded": 2, "corrected": 1, "unchanged": 0}


def test_the_same_file_again_changes_nothing_and_says_so(
    live: Cli, tmp_path: Path, engine: Engine
) -> None:
    path = milestones_file(tmp_path, "C00001,charged,2027-01-04\nC00002,verdict,2027-01-09\n")
    live("milestones", "update", TRIAL, str(path))
    recorded = history(engine)
    again = live("milestones", "update", TRIAL, str(path))
    assert again.exit_code == 0, again.output
    assert again.output.splitlines() == [
        f"{path}: no changes (read 2; every date was already recorded)"
    ]
    assert history(engine) == recorded


def test_a_dry_run_shows_what_would_change_and_changes_nothing(live: Cli, tmp_path: Path) -> None:
    path = milestones_file(tmp_path, "C00001,charged,2027-01-04T09:15\nC00002,verdict,2027-01-09\n")
    result = live.unchanged("milestones", "update", TRIAL, str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{path}: dry run, nothing was written; these dates would change (Europe/London time):",
        "  C00001  charged: 2027-01-05 00:00 -> 2027-01-04 09:15 (correction)",
        "  C00002  verdict: 2027-01-09 00:00 (first record)",
        "it would have: recorded 1, corrected 1, unchanged 0 (read 2)",
        "messages it would have: planned 0, re-planned 0, cancelled 0",
    ]


def test_a_file_with_a_byte_order_mark_or_in_windows_1252_is_read(
    live: Cli, tmp_path: Path, engine: Engine
) -> None:
    with_bom = tmp_path / "bom.csv"
    with_bom.write_bytes(codecs.BOM_UTF8 + (HEADER + "C00002,verdict,2027-01-09\n").encode())
    assert "recorded 1," in live("milestones", "update", TRIAL, str(with_bom)).output
    windows = tmp_path / "windows.csv"
    windows.write_bytes((HEADER + "C00003,verdict,09/01/2027 10:00\n").encode("cp1252"))
    assert "recorded 1," in live("milestones", "update", TRIAL, str(windows)).output
    assert [(ref, name) for ref, name, *_ in history(engine)][-2:] == [
        ("C00002", "verdict"),
        ("C00003", "verdict"),
    ]


BAD_ROWS = {
    "an unknown case": (
        "C00009,verdict,2027-01-09",
        "case_ref: 'C00009' is not a case enrolled in this trial",
    ),
    "an undeclared milestone": (
        "C00002,sentenced,2027-01-09",
        "milestone: 'sentenced' is not a milestone of trial 'witness-reminders-2027' (it "
        "declares: charged, trial_listed, verdict)",
    ),
    "the hearing": (
        "C00002,hearing,2027-01-09",
        "milestone: 'hearing' is the hearing itself: its date changes with nudge hearings update",
    ),
    "a bad timestamp": (
        "C00002,verdict,09/13/2027",
        "occurred_at: '09/13/2027' is not a real date, or date and time",
    ),
    "no date": (
        "C00002,verdict,",
        "occurred_at: missing; give the date it happened, e.g. 2027-02-03",
    ),
    "a date in the future": (
        "C00002,verdict,2027-01-11",
        "occurred_at: '2027-01-11' is in the future (it is now 2027-01-10 12:00 in "
        "Europe/London); record a milestone once it has happened",
    ),
    "a row repeated": (
        "C00001,charged,2027-01-04",
        "milestone: charged of case 'C00001' is already on line 2; give each case's milestone once",
    ),
    "a short row": ("C00002,verdict", "row: has 2 cells but the header has 3 columns"),
}


@pytest.mark.parametrize("kind", BAD_ROWS)
def test_a_bad_row_rejects_the_file_and_changes_nothing(
    live: Cli, tmp_path: Path, kind: str
) -> None:
    row, message = BAD_ROWS[kind]
    path = milestones_file(tmp_path, f"C00001,charged,2027-01-04\n{row}\n")
    result = live.unchanged("milestones", "update", TRIAL, str(path))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{path}:3: {message}"), lines
    assert lines[1:] == [f"{path}: 1 row(s) rejected, so nothing was changed"]


def test_a_file_without_the_columns_is_refused_at_its_header(live: Cli, tmp_path: Path) -> None:
    path = tmp_path / "milestones.csv"
    path.write_text("case_ref,verdict\nC00001,2027-01-09\n")
    result = live.unchanged("milestones", "update", TRIAL, str(path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path}:1: header: missing column 'milestone'",
        f"{path}:1: header: missing column 'occurred_at'",
        f"{path}: nothing was changed",
    ]


def test_a_draft_trial_takes_no_milestones(cli: Cli, example_dir: Path, tmp_path: Path) -> None:
    cli("trial", "create", str(milestone_trial(example_dir)))
    path = milestones_file(tmp_path, "C00001,charged,2027-01-04\n")
    result = cli.unchanged("milestones", "update", TRIAL, str(path))
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"trial '{TRIAL}' is draft; milestones are recorded only in a live trial"
    )
