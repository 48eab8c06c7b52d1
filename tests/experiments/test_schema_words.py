"""Schema errors in words: what the value must be, and what it was, never pydantic's phrasing."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.loader import load_trial_text
from tests.experiments.test_definition_rules import BASE

CASES = {
    "an id with capitals": (
        ("id: t1", "id: Trial One"),
        "id: must be lower-case letters, digits, - or _ and start with a letter or digit "
        "(not 'Trial One')",
    ),
    "an id too long": (
        ("id: t1", "id: " + "t" * 101),
        "id: must be at most 100 characters long (this one has 101)",
    ),
    "a number for text": (
        ("timezone: Europe/London", "timezone: 5"),
        "timezone: must be text (not the number 5)",
    ),
    "a fraction for a whole number": (
        ("days_before: 2", "days_before: 1.5"),
        "arms[1].messages[0].send.days_before: must be a whole number, such as 2 "
        "(not the number 1.5)",
    ),
    "below the least": (
        ("days_before: 2", "days_before: -1"),
        "arms[1].messages[0].send.days_before: must be at least 0 (not the number -1)",
    ),
    "not one of the choices": (
        ("channel: sms", "channel: email"),
        "arms[1].messages[0].channel: must be 'sms' or 'letter' (not 'email')",
    ),
    "words for true or false": (
        ("control: true", "control: maybe"),
        "arms[0].control: must be true or false (not 'maybe')",
    ),
    "a mapping where a list belongs": (
        ("outcomes:\n  - {id: attended, primary: true}", "outcomes: {id: attended}"),
        "outcomes: must be a list: each item on its own line starting with '- ', or [a, b] "
        "(not a mapping)",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_schema_error_says_what_the_value_must_be_and_what_it_was(case: str) -> None:
    (old, new), expected = CASES[case]
    text = BASE.replace(old, new)
    assert text != BASE
    result = load_trial_text(text, "trial.yaml", Path("."))
    assert isinstance(result, list)
    messages = [problem.message for problem in result]
    assert messages == [expected]
    assert not any("should" in m or "pattern" in m or "Input" in m for m in messages)
