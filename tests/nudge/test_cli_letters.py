"""`nudge letters batch` as the print room runs it: a summary, clear refusals, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from nudge.db import make_engine
from nudge.models import Participant
from tests.conftest import Cli
from tests.factories import person, write_people

TRIAL = "witness-reminders-2027"


@pytest.fixture
def enrolled(db_url: str, tmp_path: Path) -> Cli:
    cli = Cli(db_url, tmp_path).launch_example()
    cli("enrol", TRIAL, str(write_people(tmp_path / "p.csv", [person(i) for i in range(1, 13)])))
    cli.env["NUDGE_NOW"] = "2027-02-12T09:30:00Z"
    return cli


def test_a_batch_prints_says_what_it_did_and_a_second_run_finds_nothing(
    enrolled: Cli, db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "print"
    result = enrolled("letters", "batch", TRIAL, "--date", "2027-02-12", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"letters of {TRIAL} for posting on Friday 12 February 2027"
    assert lines[1].startswith("  printed ") and "duplex" in lines[1]
    assert lines[2] == f"  PDF:      {out / f'{TRIAL}-letters-2027-02-12.pdf'}"
    assert lines[3].startswith(f"  manifest: {out / f'{TRIAL}-letters-2027-02-12-manifest.csv'}")
    engine = make_engine(db_url)
    with Session(engine) as session:
        people = session.exec(select(Participant)).all()
    engine.dispose()
    for who in people:  # nothing personal on the screen
        for secret in (who.last_name, who.address[0], who.phone, who.postcode):
            assert secret and secret not in result.output
    again = enrolled("letters", "batch", TRIAL, "--date", "2027-02-12", "--out", str(out))
    assert again.exit_code == 0
    assert again.output.splitlines()[1] == (
        "  nothing to print: no letter due that day is still waiting to be posted"
    )
    assert len(list(out.iterdir())) == 2


def test_a_dry_run_lists_counts_and_writes_nothing(enrolled: Cli, tmp_path: Path) -> None:
    out = tmp_path / "print"
    result = enrolled.unchanged(
        "letters", "batch", TRIAL, "--date", "2027-02-12", "--out", str(out), "--dry-run"
    )
    assert result.exit_code == 0
    assert result.output.splitlines()[0].endswith("(dry run: nothing written or marked)")
    assert result.output.splitlines()[1].startswith("  would print ")
    assert not out.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["no-such-trial", "--date", "2027-02-12"],
            f"no trial 'no-such-trial' (trials here: {TRIAL})",
        ),
        (
            [TRIAL, "--date", "2027-02-30"],
            "--date: '2027-02-30' is not a date; write it as YYYY-MM-DD (for example 2027-02-12)",
        ),
        (
            [TRIAL, "--date", "2027-02-15"],
            "--date 2027-02-15 is after today (2027-02-12 in Europe/London): letters are printed "
            "and marked posted on their posting day; add --dry-run to see what that day will print",
        ),
    ],
)
def test_a_bad_trial_or_date_is_refused_clearly_and_changes_nothing(
    enrolled: Cli, tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = enrolled.unchanged("letters", "batch", *arguments, "--out", str(tmp_path / "print"))
    assert result.exit_code == 1
    assert result.output.strip() == message
    assert not (tmp_path / "print").exists()


def test_an_unwritable_out_directory_is_refused_clearly_and_changes_nothing(
    enrolled: Cli, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = blocker / "print"
    result = enrolled.unchanged(
        "letters", "batch", TRIAL, "--date", "2027-02-12", "--out", str(out)
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"cannot write the print files to {out}: Not a directory; give --out a directory you "
        "can write to (nothing was printed or marked)"
    )
