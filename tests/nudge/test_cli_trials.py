"""The trial commands as a researcher types them: messages, exit codes, JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import EXAMPLE, Cli


def test_validate_prints_the_sms_report_and_exits_zero(cli: Cli) -> None:
    result = cli("trial", "validate", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert "valid: trial 'witness-reminders-2027', 3 arms, 2 outcome(s)" in result.output
    assert "practical_7d            en        GSM-7" in result.output
    # Everyone in the arm: the 7-day text (2 segments), the letter and the text after the
    # hearing (2 segments); the moved and vacated texts only if it happens, so listed apart.
    assert "  social_norm               4 SMS segment(s), 1 letter(s)      1.01" in result.output
    assert (
        "  Event texts (on: a hearing moved or vacated, a milestone) are extra, only for those "
        "it happens to: practical 4 SMS segment(s), social_norm 4 SMS segment(s) if all went."
    ) in result.output


def test_validate_prints_every_problem_with_its_location_and_exits_one(
    cli: Cli, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE.read_text()
        .replace("Europe/London", "Europe/Nowhere")
        .replace("block_sizes: [3, 6]", "block_sizes: [3, 4]")
    )
    shutil.copytree(EXAMPLE.parent / "letters", tmp_path / "letters")
    result = cli("trial", "validate", str(bad))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert (
        f"{bad}:7:11: timezone: unknown timezone 'Europe/Nowhere' (use an IANA name such as "
        "Europe/London)" in lines
    )
    assert (
        f"{bad}:18:20: randomisation.block_sizes[1]: 4 is not a multiple of the total arm "
        "weight 3" in lines
    )
    assert "Traceback" not in result.output


def test_validate_a_missing_file_says_so_without_a_traceback(cli: Cli) -> None:
    result = cli("trial", "validate", "nowhere.yaml")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "nowhere.yaml: no such file"


def test_create_launch_and_show_as_json(cli: Cli) -> None:
    assert cli("trial", "create", str(EXAMPLE)).exit_code == 0
    launched = cli("trial", "launch", "witness-reminders-2027")
    assert launched.exit_code == 0 and "version 2 is frozen" in launched.output
    shown = json.loads(cli("trial", "show", "witness-reminders-2027", "--json").output)
    assert shown["status"] == "live"
    assert shown["arms"] == ["control", "practical", "social_norm"]
    assert [v["kind"] for v in shown["versions"]] == ["created", "launched"]
    assert shown["definition"]["randomisation"]["seed"] == "concealed until the trial closes"
    listed = json.loads(cli("trial", "list", "--json").output)
    assert [(t["id"], t["status"], t["enrolled"]) for t in listed] == [
        ("witness-reminders-2027", "live", 0)
    ]


def test_a_design_change_after_launch_exits_one_naming_the_field(
    cli: Cli, example_dir: Path
) -> None:
    cli("trial", "create", str(EXAMPLE))
    cli("trial", "launch", "witness-reminders-2027")
    changed = example_dir / "witness-reminders.yaml"
    changed.write_text(changed.read_text().replace("alpha: 0.05", "alpha: 0.1"))
    result = cli("trial", "amend", "witness-reminders-2027", str(changed), "--reason", "power")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "'analysis.alpha' is part of the launched design and cannot change (was 0.05, now 0.1); "
        "a different design needs a new trial"
    )


def test_amend_requires_a_reason(cli: Cli) -> None:
    result = cli("trial", "amend", "witness-reminders-2027", str(EXAMPLE))
    assert result.exit_code == 2
    assert "Missing option '--reason'" in result.output


def test_an_unknown_trial_is_a_clear_message(cli: Cli) -> None:
    result = cli("trial", "launch", "nope")
    assert (result.exit_code, result.output.strip()) == (1, "no trial 'nope' (no trials yet)")


def test_create_refuses_an_invalid_file_and_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntitle: y\n")
    result = cli("trial", "create", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:1:1: missing required key 'timezone'" in result.output
    assert json.loads(cli("trial", "list", "--json").output) == []


def test_list_with_no_trials_says_how_to_start(cli: Cli) -> None:
    assert "no trials yet: create one with nudge trial create FILE" in cli("trial", "list").output


def test_the_seed_is_released_once_the_trial_closes(cli: Cli) -> None:
    cli("trial", "create", str(EXAMPLE))
    draft = json.loads(cli("trial", "show", "witness-reminders-2027", "--json").output)
    assert draft["definition"]["randomisation"]["seed"] == 20270101  # nobody enrolled yet
    cli("trial", "launch", "witness-reminders-2027")
    cli("trial", "close", "witness-reminders-2027", "--reason", "follow-up complete")
    closed = json.loads(cli("trial", "show", "witness-reminders-2027", "--json").output)
    assert closed["definition"]["randomisation"]["seed"] == 20270101
