"""`send:` from any anchor and `on:` events in a definition: today's form keeps its meaning and
its SHA-256, and each mistake gets a message saying where and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.definition import MessageSpec
from tests.experiments.test_definition_rules import BASE, problems_for

MESSAGE = '{channel: sms, template: reminder, send: {days_before: 2, at: "18:00"}}'


def with_message(message: str) -> str:
    """The base definition with its one message written as `message`."""
    return BASE.replace(MESSAGE, message)


def canonical(message: dict[str, object]) -> str:
    return json.dumps(MessageSpec.model_validate(message).model_dump(mode="json", by_alias=True))


def test_todays_send_and_an_explicit_of_hearing_store_the_same_canonical_form() -> None:
    stored_before = {"channel": "sms", "template": "t", "send": {"days_before": 7, "at": "18:00"}}
    explicit = {"channel": "sms", "template": "t", "send": {"days_before": 7, "of": "hearing"}}
    # What a launched trial's canonical JSON holds, so its SHA-256 cannot change.
    assert canonical(stored_before) == json.dumps(stored_before)
    assert json.loads(canonical(explicit)) == {
        "channel": "sms",
        "template": "t",
        "send": {"days_before": 7, "at": None},
    }


def test_an_event_message_stores_only_what_was_written() -> None:
    assert json.loads(canonical({"channel": "sms", "template": "t", "on": "hearing_moved"})) == {
        "channel": "sms",
        "template": "t",
        "on": "hearing_moved",
    }


def test_the_new_keys_are_valid_in_a_definition(tmp_path: Path) -> None:
    journey = with_message(
        '{channel: sms, template: reminder, send: {days_before: 2, of: hearing, at: "18:00"}}\n'
        "      - {channel: sms, template: reminder, send: {hours_after: 2, of: hearing}}\n"
        "      - {channel: sms, template: reminder, on: hearing_moved}\n"
        "      - {channel: sms, template: reminder, on: hearing_vacated}\n"
        "      - {channel: letter, template: reminder, send: {days_after: 3}}"
    )
    assert problems_for(tmp_path, journey) == []


REFUSED = {
    "two offsets": (
        "{channel: sms, template: reminder, send: {days_before: 2, hours_before: 3}}",
        "trial.yaml:11:50: arms[1].messages[0].send: give exactly one of days_before, "
        "days_after, hours_before, hours_after (this one has days_before, hours_before)",
    ),
    "no offset": (
        '{channel: sms, template: reminder, send: {at: "18:00"}}',
        "trial.yaml:11:50: arms[1].messages[0].send: give exactly one of days_before, "
        "days_after, hours_before, hours_after (this one has none)",
    ),
    "both send and on": (
        "{channel: sms, template: reminder, send: {days_before: 2}, on: hearing_moved}",
        "trial.yaml:11:9: arms[1].messages[0]: a message needs exactly one of send: (a time, "
        'e.g. {days_before: 7, at: "18:00"}) or on: (hearing_moved, hearing_vacated, or '
        '"milestone NAME")',
    ),
    "an event that is not one": (
        "{channel: sms, template: reminder, on: hearing_adjourned}",
        "trial.yaml:11:9: arms[1].messages[0]: on: 'hearing_adjourned' is not an event; use "
        'hearing_moved, hearing_vacated, or "milestone NAME" with a milestone the trial declares',
    ),
    "a milestone not declared": (
        "{channel: sms, template: reminder, send: {days_after: 2, of: charged}}",
        "trial.yaml:11:70: arms[1].messages[0].send.of: 'charged' is not the hearing or a "
        "milestone the trial declares (it can use: hearing); declare it under milestones",
    ),
    "an event of a milestone not declared": (
        '{channel: sms, template: reminder, on: "milestone verdict"}',
        "trial.yaml:11:48: arms[1].messages[0].on: 'milestone verdict' is not the hearing or a "
        "milestone the trial declares (it can use: hearing); declare it under milestones",
    ),
    "a time of day for hours": (
        '{channel: sms, template: reminder, send: {hours_after: 2, at: "18:00"}}',
        "trial.yaml:11:71: arms[1].messages[0].send.at: hours_after counts hours from the "
        "moment itself; remove 'at', or count in days (days_before, days_after) to send at a time",
    ),
    "a letter on an event": (
        "{channel: letter, template: reminder, on: hearing_moved}",
        "trial.yaml:11:51: arms[1].messages[0].on: a letter takes days to arrive, so it is not "
        "sent on an event; use channel: sms, or time it with send: {days_after: ..., of: ...}",
    ),
    "a letter in hours": (
        "{channel: letter, template: reminder, send: {hours_before: 48}}",
        "trial.yaml:11:68: arms[1].messages[0].send.hours_before: a letter is posted on a working "
        "day, not at an hour; count in days (days_before, days_after)",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_mistake_in_a_schedule_is_refused_where_it_is(tmp_path: Path, case: str) -> None:
    message, expected = REFUSED[case]
    assert expected in problems_for(tmp_path, with_message(message))
