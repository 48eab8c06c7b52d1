"""Bidirectional controls refused wherever text comes in; letters refuse what they cannot print."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from experiments.enrol import enrol_file
from nudge.clock import FixedClock
from nudge.errors import ImportRejected
from tests.conftest import EXAMPLE
from tests.experiments.test_definition_rules import BASE, assert_refused_at, problems_for
from tests.factories import launch, person, row_counts, write_people

RLO = "\u202e"
LETTER = BASE.replace(
    '      - {channel: sms, template: reminder, send: {days_before: 2, at: "18:00"}}\n',
    '      - {channel: sms, template: reminder, send: {days_before: 2, at: "18:00"}}\n'
    "      - {channel: letter, template: letter, send: {days_before: 10}}\n",
).replace("outcomes:\n", "  letter:\n    en: {file: letter.md}\noutcomes:\n")

CASES = {
    "a title": (
        BASE.replace("title: Test trial", f"title: Test {RLO}trial"),
        "trial.yaml:2:8: title: contains the bidirectional control character U+202E "
        "(right-to-left override)",
    ),
    "an arm's title": (
        BASE.replace("    title: SMS\n", f"    title: SMS {RLO}\n"),
        "trial.yaml:9:12: arms[1].title: contains the bidirectional control character U+202E",
    ),
    "an SMS template": (
        BASE.replace("court on {{ hearing_date }}", f"court on {RLO}{{{{ hearing_date }}}}"),
        "trial.yaml:14:9: templates.reminder.en: contains the bidirectional control character",
    ),
}


@pytest.mark.parametrize("where", CASES, ids=list(CASES))
def test_a_bidirectional_control_in_a_definition_is_refused_where_it_is(
    tmp_path: Path, where: str
) -> None:
    assert_refused_at(tmp_path, *CASES[where])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            f"Dear {{{{ first_name }}}},\n\nYour hearing is on {RLO}{{{{ hearing_date }}}}.\n",
            "templates.letter.en: contains the bidirectional control character U+202E",
        ),
        (
            "Dear {{ first_name }},\n\nSee you in court \U0001f44d\n",
            "templates.letter.en: line 3 of the letter has U+1F44D (thumbs up sign), an emoji",
        ),
        (
            "Dear {{ first_name }},\n\nSee you in court \U0001f600\n",
            "templates.letter.en: line 3 of the letter has U+1F600 (grinning face), an emoji",
        ),
    ],
)
def test_a_letter_with_a_bidirectional_control_or_an_emoji_is_refused(
    tmp_path: Path, body: str, expected: str
) -> None:
    (tmp_path / "letter.md").write_text(body, encoding="utf-8")
    problems = [p.split(": ", 1)[1] for p in problems_for(tmp_path, LETTER)]
    assert any(p.startswith(expected) for p in problems), problems


def test_a_plain_letter_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "letter.md").write_text("Dear {{ first_name }}, croeso ŵ ŷ.\n", encoding="utf-8")
    assert problems_for(tmp_path, LETTER) == []


def test_an_export_with_a_bidirectional_control_is_refused_at_its_cell_and_changes_nothing(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    trial = launch(session, clock, EXAMPLE)
    before = row_counts(session)
    rows = [person(1), person(2, first_name=f"Testy{RLO}ytseT")]
    path = write_people(tmp_path / "people.csv", rows)
    with pytest.raises(ImportRejected) as caught:
        enrol_file(session, clock, trial, path, "test")
    session.rollback()
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: first_name: contains the bidirectional control character U+202E "
        "(right-to-left override), which can make a text or letter display differently from "
        "what is sent; remove it and export again"
    ]
    assert row_counts(session) == before
