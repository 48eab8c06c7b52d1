"""Previewing an arm's messages as a participant would receive them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import EXAMPLE, Cli
from tests.messages.whole_journey import whole_journey


def test_preview_renders_each_sms_with_its_size_and_cost(cli: Cli) -> None:
    cli("trial", "create", str(EXAMPLE))
    result = cli("messages", "preview", "witness-reminders-2027", "--arm", "practical")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    lines = lines[
        lines.index("1. SMS 7 days before the hearing at 18:00: template practical_7d (en)") :
    ]
    assert lines[0] == "1. SMS 7 days before the hearing at 18:00: template practical_7d (en)"
    assert lines[1] == "   GSM-7, 126 characters, 1 segment(s), GBP 0.04"
    assert lines[2] == (
        "   | Hi Alex, you are due at Bristol Crown Court on Thursday 4 March at "
        "10am. Questions? Call 0117 496 0000. Reply STOP to opt out."
    )
    # The reminders and the text after the hearing (1 + 1 + 2 segments) go to everyone in the
    # arm; a moved or vacated text only to those whose hearing moves or is vacated.
    assert lines[-2:] == [
        "cost per participant: GBP 0.16",
        "and for those it happens to, each event text: hearing_moved GBP 0.08, "
        "hearing_vacated GBP 0.08",
    ]


def test_preview_in_welsh_uses_the_welsh_text_and_dates(cli: Cli) -> None:
    cli("trial", "create", str(EXAMPLE))
    result = cli(
        "messages", "preview", "witness-reminders-2027", "--arm", "social_norm", "--language", "cy"
    )
    assert "Dydd Iau 4 Mawrth am 10yb" in result.output
    assert "2. LETTER 14 days before the hearing: template social_norm_letter (cy)" in result.output
    assert "   | Annwyl Alex Example," in result.output


def test_a_language_the_template_lacks_falls_back_to_english(cli: Cli) -> None:
    cli("trial", "create", str(EXAMPLE))
    result = cli(
        "messages", "preview", "witness-reminders-2027", "--arm", "practical", "--language", "pl"
    )
    assert "template practical_7d (en)" in result.output


def test_an_unknown_arm_names_the_arms_there_are(cli: Cli) -> None:
    cli("trial", "create", str(EXAMPLE))
    result = cli("messages", "preview", "witness-reminders-2027", "--arm", "nope")
    assert (result.exit_code, result.output.strip()) == (
        1,
        "trial 'witness-reminders-2027' has no arm 'nope' (arms: control, practical, social_norm)",
    )


def test_the_control_arm_sends_nothing(cli: Cli) -> None:
    cli("trial", "create", str(EXAMPLE))
    result = cli("messages", "preview", "witness-reminders-2027", "--arm", "control")
    assert result.output.strip() == "arm 'control' sends no messages"


def test_preview_starts_with_the_whole_journey_in_the_order_a_case_meets_it(
    cli: Cli, tmp_path: Path
) -> None:
    cli("trial", "create", str(whole_journey(tmp_path)))
    result = cli("messages", "preview", "witness-reminders-2027", "--arm", "practical")
    assert result.exit_code == 0, result.output
    journey = result.output.split("\n\n")[0].splitlines()
    assert journey == [
        "journey (messages in the order a case meets them):",
        "   -- Charged --",
        "   2 days after the charged milestone, 10:00: SMS after_charge (en), message 5",
        "   -- Trial listed --",
        "   when the trial listed milestone is recorded: SMS trial_set (en), message 4",
        "   when the hearing moves: SMS moved (en, cy), message 6",
        "   when the hearing is vacated, withdrawn or discontinued: SMS vacated (en), message 7",
        "   7 days before the hearing, 18:00: SMS practical_7d (en, cy), message 1",
        "   1 day before the hearing, 18:00: SMS practical_1d (en, cy), message 2",
        "   -- The hearing --",
        "   2 hours after the hearing: SMS thanks (en), message 8",
        "   -- Verdict --",
        "   2 hours after the verdict milestone: SMS thanks (en), message 3",
    ]
