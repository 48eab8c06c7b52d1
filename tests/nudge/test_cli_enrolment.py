"""The enrolment commands as staff use them: summaries, dry runs, rejects, exports, balance."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.conftest import Cli
from tests.experiments.test_paused_arm_exclusion import excluding
from tests.factories import person, write_people

TRIAL = "witness-reminders-2027"


def test_enrol_prints_a_one_screen_summary(cli: Cli, tmp_path: Path) -> None:
    cli.launch_example()
    path = write_people(
        tmp_path / "people.csv", [person(i) for i in range(1, 6)] + [person(6, age="16")]
    )
    result = cli("enrol", TRIAL, str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{path}: imported",
        "  read                        6",
        "  enrolled                    6",
        "  randomised                  5  (5 new unit(s); 0 joined their unit's arm)",
        "  ineligible                  1",
        "    age min 18.0                        1",
        "  already enrolled            0  (0 with changed contact details)",
        "  hearings moved              0",
        "  rejected                    0",
        "  messages planned           12  (re-planned 0 after moves; cancelled 0)",
    ]


def test_dry_run_reports_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.launch_example()
    path = write_people(tmp_path / "people.csv", [person(1), person(2)])
    result = cli("enrol", TRIAL, str(path), "--dry-run")
    assert "dry run, nothing was written" in result.output
    assert "  randomised                  2" in result.output
    assert cli("balance", TRIAL).output.splitlines()[-1] == "no one is randomised yet"


def test_a_bad_file_prints_every_bad_row_and_imports_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.launch_example()
    path = write_people(
        tmp_path / "people.csv",
        [person(1), person(2, phone="0117 496 0000"), person(3, contact_sms="perhaps")],
    )
    result = cli("enrol", TRIAL, str(path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path}:3: phone: '0117 496 0000' is not a UK mobile number (mobiles start 07)",
        f"{path}:4: contact_sms: 'perhaps' is not yes or no",
        f"{path}: 2 row(s) rejected, so nothing was imported; fix them, or import the good "
        "rows with --skip-invalid",
    ]
    assert cli("balance", TRIAL).output.splitlines()[-1] == "no one is randomised yet"


def test_skip_invalid_imports_the_good_rows_and_writes_the_rejects_beside_the_file(
    cli: Cli, tmp_path: Path
) -> None:
    cli.launch_example()
    path = write_people(
        tmp_path / "people.csv", [person(1), person(2, phone='=HYPERLINK("http://x")')]
    )
    result = cli("enrol", TRIAL, str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "  randomised                  1" in result.output
    rejects = tmp_path / "people.rejects.csv"
    assert f"rejected rows and their reasons: {rejects}" in result.output
    with rejects.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["line"], r["participant_ref"]) for r in rows] == [("3", "P00002")]
    assert rows[0]["phone"] == '\'=HYPERLINK("http://x")'  # never a live formula
    assert rows[0]["reason"].startswith("phone: '=HYPERLINK")


def test_assignments_export_has_one_row_per_randomised_participant(
    cli: Cli, tmp_path: Path
) -> None:
    cli.launch_example()
    cli("enrol", TRIAL, str(write_people(tmp_path / "p.csv", [person(1), person(2)])))
    out = tmp_path / "assignments.csv"
    result = cli("assignments", "export", TRIAL, "--out", str(out))
    assert result.output.strip() == f"wrote 2 assignment(s) to {out}"
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "participant_ref",
        "case_ref",
        "unit",
        "stratum",
        "block",
        "position",
        "arm",
        "assigned_at",
        "open_arms",
    ]
    assert [(r["participant_ref"], r["unit"], r["stratum"], r["open_arms"]) for r in rows] == [
        ("P00001", "C00001", "court=BRS", ""),  # every arm open
        ("P00002", "C00002", "court=BRS", ""),
    ]
    assert rows[0]["assigned_at"] == "2027-01-10T12:00:00+00:00"  # local time (GMT in January)


def test_after_an_arm_is_excluded_the_summary_and_the_export_say_who_went_to_fewer_arms(
    cli: Cli, tmp_path: Path, example_dir: Path
) -> None:
    definition = str(excluding(example_dir))
    assert cli("trial", "create", definition).exit_code == 0
    assert cli("trial", "launch", TRIAL).exit_code == 0
    first = write_people(tmp_path / "first.csv", [person(i) for i in range(1, 7)])
    before = cli("enrol", TRIAL, str(first))
    assert "among fewer arms" not in before.output  # every arm open: no line at all
    paused = cli("trial", "pause", TRIAL, "--arm", "social_norm", "--reason", "DMC review")
    assert paused.exit_code == 0, paused.output
    # Eight people in six cases: two cases' second witnesses join their case's arm.
    later = [person(i) for i in range(7, 13)]
    later += [person(i, case_ref=f"C{i - 6:05d}") for i in (13, 14)]  # cases C00007, C00008
    during = cli("enrol", TRIAL, str(write_people(tmp_path / "second.csv", later)))
    assert during.exit_code == 0, during.output
    lines = during.output.splitlines()
    randomised = lines.index(
        "  randomised                  8  (6 new unit(s); 2 joined their unit's arm)"
    )
    assert lines[randomised + 1] == (
        "  among fewer arms            8  (6 new unit(s); social_norm paused and closed to new "
        "participants)"
    )
    out = tmp_path / "assignments.csv"
    assert cli("assignments", "export", TRIAL, "--out", str(out)).exit_code == 0
    with out.open() as handle:
        rows = {r["participant_ref"]: r for r in csv.DictReader(handle)}
    assert {rows[f"P{i:05d}"]["open_arms"] for i in range(1, 7)} == {""}
    assert {rows[f"P{i:05d}"]["open_arms"] for i in range(7, 15)} == {"control,practical"}
    assert {rows[f"P{i:05d}"]["arm"] for i in range(7, 15)} <= {"control", "practical"}


def test_balance_prints_counts_and_the_sample_ratio_check(cli: Cli, tmp_path: Path) -> None:
    cli.launch_example()
    cli("enrol", TRIAL, str(write_people(tmp_path / "p.csv", [person(i) for i in range(1, 13)])))
    lines = cli("balance", TRIAL).output.splitlines()
    assert lines[-4] == "units per arm: control 4, practical 4, social_norm 4"
    assert lines[-3] == (
        "sample-ratio check on units: chi-square 0.000, p = 1.0000 (consistent with the plan)"
    )
    assert (
        lines[-2] == "shared across arms: 0 people share 0 mobile number(s), 0 share 0 address(es)"
    )


def test_hearings_update_moves_and_vacates_and_keeps_history(cli: Cli, tmp_path: Path) -> None:
    cli.launch_example()
    cli("enrol", TRIAL, str(write_people(tmp_path / "p.csv", [person(1), person(2)])))
    update = tmp_path / "hearings.csv"
    update.write_text(
        "case_ref,hearing_start,status\nC00001,2027-04-01T10:00,adjourned\nC00002,,vacated\n"
    )
    result = cli("hearings", "update", TRIAL, str(update))
    lines = result.output.splitlines()
    assert lines[0] == (
        f"{update}: read 2, moved 1, vacated or concluded 1, other status changes 1, unchanged 0"
    )
    assert lines[1].startswith("messages: re-planned ")  # counts: tests/messages/test_outbox.py
    again = cli("hearings", "update", TRIAL, str(update))
    assert again.output.splitlines()[0].endswith("unchanged 2")


def test_hearings_update_with_a_bad_row_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.launch_example()
    cli("enrol", TRIAL, str(write_people(tmp_path / "p.csv", [person(1)])))
    update = tmp_path / "hearings.csv"
    update.write_text(
        "case_ref,hearing_start,status\nC00001,2027-04-01T10:00,adjourned\n"
        "C00009,,vacated\nC00001,,postponed\n"
    )
    result = cli("hearings", "update", TRIAL, str(update))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{update}:3: case_ref: 'C00009' is not a case enrolled in this trial",
        f"{update}:4: case_ref: 'C00001' is already on line 2",
        f"{update}: 2 row(s) rejected, so nothing was changed",
    ]
    # The good first row was not applied either: the same move still counts as a move.
    update.write_text("case_ref,hearing_start,status\nC00001,2027-04-01T10:00,adjourned\n")
    assert "moved 1," in cli("hearings", "update", TRIAL, str(update)).output
