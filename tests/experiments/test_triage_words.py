"""The trial's `replies.triage_words`: optional, checked like the rest of the YAML, amendable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from experiments import trials
from experiments.definition import DEFAULT_TRIAGE_WORDS
from experiments.loader import LoadedTrial, canonical_form, load_trial_file
from nudge.clock import FixedClock
from nudge.errors import Problem
from tests.factories import launch

TRIAL = "witness-reminders-2027"


def with_replies(example_dir: Path, block: str) -> Path:
    """The example trial with a `replies:` block appended."""
    path = example_dir / "witness-reminders.yaml"
    path.write_text(path.read_text() + block)
    return path


def loaded(path: Path) -> LoadedTrial:
    result = load_trial_file(path)
    assert isinstance(result, LoadedTrial), result
    return result


def test_without_the_key_the_default_list_applies_and_the_canonical_form_is_unchanged(
    example_dir: Path,
) -> None:
    trial = loaded(example_dir / "witness-reminders.yaml")
    assert trial.definition.triage_words == DEFAULT_TRIAGE_WORDS
    assert "replies" not in canonical_form(trial)  # so launched trials keep their SHA-256


def test_the_trials_own_list_replaces_the_default(example_dir: Path) -> None:
    path = with_replies(example_dir, "replies:\n  triage_words: [scared, '  told   me ', 999]\n")
    assert loaded(path).definition.triage_words == ("scared", "told me", "999")


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("['!!']", "replies.triage_words[0]: a triage word needs at least one letter or digit"),
        (f"[{'x' * 61}]", "a triage word is a word or short phrase of at most 60 characters"),
        (
            "scared",
            "replies.triage_words: must be a list: each item on its own line starting with '- '",
        ),
    ],
)
def test_a_bad_word_list_is_refused_at_its_line(
    example_dir: Path, words: str, message: str
) -> None:
    path = with_replies(example_dir, f"replies:\n  triage_words: {words}\n")
    problems = load_trial_file(path)
    assert isinstance(problems, list)
    assert any(isinstance(p, Problem) and message.lower() in p.message.lower() for p in problems), (
        problems
    )
    line = len(path.read_text().splitlines())
    assert all(p.line == line for p in problems), problems


def test_a_live_trial_may_change_its_triage_words(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    launch(session, clock, example_dir / "witness-reminders.yaml")
    path = with_replies(example_dir, "replies:\n  triage_words: [parking, scared]\n")
    version = trials.amend_trial(
        session, clock, TRIAL, loaded(path), trials.Actor("test:rita"), reason="staff asked"
    )
    session.commit()
    assert version.changed_fields == ["replies"]
    current = trials.current_definition(session, trials.get_trial(session, TRIAL))
    assert current.triage_words == ("parking", "scared")


def test_the_documented_default_list_is_the_one_in_force() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "trial-definition.md").read_text()
    listed = docs.split("The default list:\n\n> ", 1)[1].split("\n", 1)[0]
    assert tuple(listed.split(", ")) == DEFAULT_TRIAGE_WORDS
