"""The example trial with a message at every kind of place in a case's journey: the arm
previews and the overview's timelines are checked against it."""

from __future__ import annotations

from pathlib import Path

from tests.messages.journeys import PRACTICAL_1D, journey_example
from tests.messages.test_milestone_journeys import TEMPLATES
from tests.milestone_factories import MILESTONES


def whole_journey(folder: Path) -> Path:
    """journey_example's texts (moved, vacated, thanks after the hearing), and in the practical
    arm a text two days after charge, one when a trial is listed and one after the verdict, in
    `messages:` order unlike the journey's."""
    path = journey_example(folder)
    text = path.read_text().replace(
        PRACTICAL_1D,
        PRACTICAL_1D
        + "      - {channel: sms, template: thanks, send: {hours_after: 2, of: verdict}}\n"
        + '      - {channel: sms, template: trial_set, on: "milestone trial_listed"}\n'
        + "      - {channel: sms, template: after_charge,\n"
        + '         send: {days_after: 2, of: charged, at: "10:00"}}\n',
    )
    text = text.replace("  social_norm_letter:\n", TEMPLATES + "  social_norm_letter:\n")
    path.write_text(text + MILESTONES)
    return path
