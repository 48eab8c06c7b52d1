"""An arm's whole journey, in the order a case meets its messages (messages/journey.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from experiments.definition import MessageSpec, TrialDefinition
from experiments.loader import LoadedTrial, load_trial_file
from messages.journey import anchor_order, arm_journey, step_words
from tests.conftest import EXAMPLE
from tests.messages.whole_journey import whole_journey


def definition_of(path: Path) -> TrialDefinition:
    loaded = load_trial_file(path)
    assert isinstance(loaded, LoadedTrial), loaded
    return loaded.definition


def journey_of(definition: TrialDefinition, arm_id: str) -> list[tuple[str, list[str]]]:
    """(anchor, the steps' words with their template) per stage, marking the anchor itself."""
    arm = next(a for a in definition.arms if a.id == arm_id)
    return [
        (
            stage.anchor,
            [f"{s.when}: {s.template}" for s in stage.before]
            + ["*"]
            + [f"{s.when}: {s.template}" for s in stage.after],
        )
        for stage in arm_journey(definition, arm)
    ]


def test_the_journey_runs_from_charge_to_verdict_whatever_order_the_messages_are_written_in(
    tmp_path: Path,
) -> None:
    definition = definition_of(whole_journey(tmp_path))
    assert journey_of(definition, "practical") == [
        ("charged", ["*", "2 days after the charged milestone, 10:00: after_charge"]),
        ("trial_listed", ["*", "when the trial listed milestone is recorded: trial_set"]),
        (
            "hearing",
            [
                "when the hearing moves: moved",
                "when the hearing is vacated, withdrawn or discontinued: vacated",
                "7 days before the hearing, 18:00: practical_7d",
                "1 day before the hearing, 18:00: practical_1d",
                "*",
                "2 hours after the hearing: thanks",
            ],
        ),
        ("verdict", ["*", "2 hours after the verdict milestone: thanks"]),
    ]


def test_each_step_keeps_its_place_in_the_arm_its_channel_and_its_languages(
    tmp_path: Path,
) -> None:
    definition = definition_of(whole_journey(tmp_path))
    arm = next(a for a in definition.arms if a.id == "social_norm")
    [hearing] = arm_journey(definition, arm)
    assert [(s.position, s.channel, s.template, s.languages) for s in hearing.steps] == [
        (3, "sms", "moved", ("en", "cy")),
        (2, "letter", "social_norm_letter", ("en", "cy")),
        (1, "sms", "social_norm_7d", ("en", "cy")),
    ]
    assert hearing.steps[1].when == "14 days before the hearing, to arrive by then"
    assert (hearing.title, hearing.after) == ("The hearing", ())


def test_an_arm_without_messages_has_no_journey() -> None:
    definition = definition_of(EXAMPLE)
    control = next(a for a in definition.arms if a.control)
    assert arm_journey(definition, control) == ()


@pytest.mark.parametrize(
    ("milestones", "order"),
    [
        # The hearing decides the case: it comes just before the verdict that ends it.
        (
            ["charged", "trial_listed", "witness_warned", "verdict", "sentence"],
            ["charged", "trial_listed", "witness_warned", "hearing", "verdict", "sentence"],
        ),
        (["verdict"], ["hearing", "verdict"]),
        # No milestone that ends a case: the hearing is the last thing known to happen.
        (["charged", "trial_listed"], ["charged", "trial_listed", "hearing"]),
        ([], ["hearing"]),
    ],
)
def test_the_hearing_falls_before_the_milestone_that_ends_a_case(
    milestones: list[str], order: list[str]
) -> None:
    assert anchor_order(milestones) == order


def spec(channel: str = "sms", **given: Any) -> MessageSpec:
    return MessageSpec.model_validate({"channel": channel, "template": "t", **given})


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (spec(send={"days_before": 7, "at": "18:00"}), "7 days before the hearing, 18:00"),
        # A text timed in days without `at` goes at 10:00, and the journey says so.
        (spec(send={"days_after": 1, "of": "charged"}), "1 day after the charged milestone, 10:00"),
        (spec(send={"hours_after": 2, "of": "verdict"}), "2 hours after the verdict milestone"),
        (spec(send={"hours_before": 36}), "36 hours before the hearing"),
        (
            spec("letter", send={"days_after": 3, "of": "verdict"}),
            "3 days after the verdict milestone, posted on the first working day from then",
        ),
        (spec(on="hearing_moved"), "when the hearing moves"),
        (spec(on="milestone witness_warned"), "when the witness warned milestone is recorded"),
    ],
)
def test_each_steps_timing_reads_as_words(message: MessageSpec, words: str) -> None:
    assert step_words(message) == words


def test_days_and_hours_from_one_anchor_interleave_by_their_length(tmp_path: Path) -> None:
    path = whole_journey(tmp_path)
    path.write_text(
        path.read_text()
        .replace("send: {hours_after: 2, of: hearing}", "send: {hours_after: 30, of: hearing}")
        .replace(
            "      - {channel: sms, template: moved, on: hearing_moved}\n"
            "      - {channel: sms, template: vacated",
            "      - {channel: sms, template: moved, send: {days_after: 1, of: hearing}}\n"
            "      - {channel: sms, template: vacated",
        )
    )
    definition = definition_of(path)
    [hearing] = [s for s in journey_of(definition, "practical") if s[0] == "hearing"]
    assert hearing[1][-3:] == [
        "*",
        "1 day after the hearing, 10:00: moved",
        "30 hours after the hearing: thanks",
    ]
