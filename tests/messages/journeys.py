"""The example trial with a journey beyond the reminders, as tests/messages/test_journeys.py and
test_crash_journeys.py follow it: a text when the hearing moves (both treatment arms), one when
it is called off and a thank-you two hours after it (practical information)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from messages.dispatch import DispatchResult, dispatch_due
from messages.intake import HearingsUpdate, update_hearings_and_replan
from messages.providers.console import ConsoleProvider
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE, EXAMPLE_TRIAL
from tests.factories import fast_example

PRACTICAL_1D = (
    '      - {channel: sms, template: practical_1d, send: {days_before: 1, at: "18:00"}}\n'
)
SOCIAL_LETTER = "      - {channel: letter, template: social_norm_letter, send: {days_before: 14}}\n"
JOURNEY_TEMPLATES = """\
  moved:
    en: "Hi {{ first_name }}, your date at {{ court_name }} has changed from
      {{ previous_hearing_date }} at {{ previous_hearing_time }} to {{ hearing_date }} at
      {{ hearing_time }}. Call {{ care_unit_phone }}. Reply STOP to opt out."
    cy: "Helo {{ first_name }}, mae eich dyddiad yn {{ court_name }} wedi newid o
      {{ previous_hearing_date }} am {{ previous_hearing_time }} i {{ hearing_date }} am
      {{ hearing_time }}. Ffoniwch {{ care_unit_phone }}. Atebwch STOP i optio allan."
  vacated:
    en: "Hi {{ first_name }}, you no longer need to come to {{ court_name }} on
      {{ hearing_date }} at {{ hearing_time }}. We will tell you of any new date. Call
      {{ care_unit_phone }}. Reply STOP to opt out."
  thanks:
    en: "Thank you for coming to {{ court_name }} today, {{ first_name }}. If you would like
      support, call {{ care_unit_phone }}. Reply STOP to opt out."
"""


# The example's own journey texts (moved, vacated, the day after the hearing): these tests
# follow the journey of docs/messages.md instead, so they are taken out first.
EXAMPLE_JOURNEY = (
    "template: hearing_moved,",
    "template: hearing_vacated,",
    "template: after_hearing,",
)


def journey_example(folder: Path) -> Path:
    """A copy of the example trial (sending fast) with its own journey texts replaced by the
    journey's messages."""
    definition = fast_example(folder, EXAMPLE)
    lines = definition.read_text().splitlines(keepends=True)
    text = "".join(line for line in lines if not any(m in line for m in EXAMPLE_JOURNEY))
    text = re.sub(r"  (hearing_moved|hearing_vacated|after_hearing):\n(    .*\n)+", "", text)
    text = text.replace(
        PRACTICAL_1D,
        PRACTICAL_1D
        + "      - {channel: sms, template: moved, on: hearing_moved}\n"
        + "      - {channel: sms, template: vacated, on: hearing_vacated}\n"
        + "      - {channel: sms, template: thanks, send: {hours_after: 2, of: hearing}}\n",
    )
    text = text.replace(
        SOCIAL_LETTER,
        SOCIAL_LETTER + "      - {channel: sms, template: moved, on: hearing_moved}\n",
    )
    text = text.replace("  social_norm_letter:\n", JOURNEY_TEMPLATES + "  social_norm_letter:\n")
    definition.write_text(text)
    return definition


def court_list(
    session: Session, clock: FixedClock, path: Path, *rows: tuple[str, str, str]
) -> HearingsUpdate:
    """Import a court-list update of (case_ref, local start or "", status) rows and commit."""
    lines = ["case_ref,hearing_start,status", *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")
    update = update_hearings_and_replan(session, clock, EXAMPLE_TRIAL, path, "test")
    session.commit()
    return update


def send_console(engine: Engine, clock: FixedClock, outbox: Path) -> DispatchResult:
    """One dispatch run through the console provider, writing the texts into `outbox`."""
    return dispatch_due(engine, clock, ConsoleProvider(outbox, clock), worker="w")


def sent_bodies(outbox: Path) -> dict[int, list[str]]:
    """Every text the console provider wrote, by our message id (a list: twice would show)."""
    bodies: dict[int, list[str]] = {}
    for path in sorted(outbox.glob("sms-*.jsonl")):
        for line in path.read_text().splitlines():
            text = json.loads(line)
            bodies.setdefault(text["message_id"], []).append(text["body"])
    return bodies


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant of 2027 in UTC."""
    return datetime(2027, month, day, hour, minute, tzinfo=UTC)
