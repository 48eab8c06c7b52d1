"""`nudge outcomes import` and `nudge analyse`, as a trial manager and an analyst run them."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session

from experiments.enrol import enrol_file
from nudge.clock import FixedClock
from tests.analysis.test_outcomes import write_outcomes
from tests.analysis.test_report import reference_csv, reference_definition
from tests.conftest import EXAMPLE, Cli
from tests.factories import launch, person, row_counts, write_people

TRIAL = "witness-reminders-2027"


def enrolled(session: Session, clock: FixedClock, tmp_path: Path, n: int = 12) -> None:
    launch(session, clock, EXAMPLE)
    people = [person(i, role="victim" if i % 2 else "witness") for i in range(1, n + 1)]
    enrol_file(session, clock, TRIAL, write_people(tmp_path / "people.csv", people), "t")
    session.commit()


def test_outcomes_import_prints_what_it_did(
    cli: Cli, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    enrolled(session, clock, tmp_path)
    path = write_outcomes(tmp_path / "o.csv", [["P00001", "C00001", "yes", "no"]])
    result = cli("outcomes", "import", TRIAL, str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{path}: imported (outcomes: attended, withdrew)",
        "  read                1  row(s)",
        "  recorded            2  value(s) observed for the first time",
        "  corrected           0  value(s) changed (the old ones kept)",
        "  unchanged           0  value(s)",
        "  rejected            0  row(s)",
    ]


def test_a_dry_run_writes_nothing(
    cli: Cli, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    enrolled(session, clock, tmp_path)
    before = row_counts(session)
    path = write_outcomes(tmp_path / "o.csv", [["P00001", "C00001", "yes", "no"]])
    result = cli("outcomes", "import", TRIAL, str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert (
        "dry run, nothing was written" in result.output and "recorded            2" in result.output
    )
    assert row_counts(session) == before


def test_a_rejected_import_prints_each_problem_and_exits_1(
    cli: Cli, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    enrolled(session, clock, tmp_path)
    before = row_counts(session)
    path = write_outcomes(tmp_path / "o.csv", [["P00001", "C00001", "often", ""]])
    result = cli("outcomes", "import", TRIAL, str(path))
    assert result.exit_code == 1
    assert (
        f"{path}:2: attended: 'often' is not yes or no (1/0, true/false; blank if not observed)"
        in result.output
    )
    assert row_counts(session) == before


def test_analyse_a_trial_in_the_database_as_text_and_json(
    cli: Cli, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    enrolled(session, clock, tmp_path, n=30)
    rows = [[f"P{i:05d}", f"C{i:05d}", "yes" if i % 3 else "no", ""] for i in range(1, 31)]
    assert (
        cli("outcomes", "import", TRIAL, str(write_outcomes(tmp_path / "o.csv", rows))).exit_code
        == 0
    )
    text = cli("analyse", TRIAL)
    assert text.exit_code == 0, text.output
    assert "Outcome: attendance (primary outcome)" in text.output  # the example's label
    assert "Business as usual" in text.output and "Randomised cases per arm" in text.output
    as_json = cli("analyse", TRIAL, "--json")
    data = json.loads(as_json.output)
    assert data["trial"] == TRIAL and [o["id"] for o in data["outcomes"]] == [
        "attended",
        "withdrew",
    ]


def test_analyse_a_flat_file_says_what_it_found_in_plain_english(cli: Cli, tmp_path: Path) -> None:
    data, definition = reference_csv(tmp_path), reference_definition(tmp_path)
    text = definition.read_text()
    text = text.replace(
        "{id: attended, primary: true}", "{id: attended, primary: true, label: attendance}"
    )
    text = text.replace(
        "prior_fta: flag", "prior_fta: {type: flag, label: previous failure to attend}"
    )
    definition.write_text(text)
    result = cli("analyse", "--data", str(data), "--trial", str(definition))
    assert result.exit_code == 0, result.output
    assert (
        "SMS reminder raised attendance by 12.8 points (95% CI 6.0 to 19.6) compared "
        "with Business as usual; this is unlikely to be chance (p < 0.001)." in result.output
    )
    assert (
        "Letter against Business as usual: no clear evidence of a difference in attendance "
        "(estimate +4.6 points, 95% CI -2.2 to 11.4, p = 0.183)." in result.output
    )
    assert "Adjusted for: age, previous failure to attend and role." in result.output
    assert "Outcome: attendance (primary outcome)" in result.output
    assert "Randomised households per arm: Business as usual " in result.output
    assert "prior_fta" not in result.output and "attended" not in result.output
    as_json = cli("analyse", "--data", str(data), "--trial", str(definition), "--json")
    assert json.loads(as_json.output)["outcomes"][0]["comparisons"][0]["arm"] == "sms"


def test_an_invalid_definition_is_refused_with_its_located_problems(
    cli: Cli, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\ntitle: X\ntimezone: Europe/London\narms: []\noutcomes: []\n")
    result = cli("analyse", "--data", str(reference_csv(tmp_path)), "--trial", str(broken))
    assert result.exit_code == 1
    assert f"{broken}:4:" in result.output and "problem(s)" in result.output


def test_analyse_needs_a_trial_or_a_data_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("analyse")
    assert result.exit_code == 1
    assert "give either TRIAL" in result.output
