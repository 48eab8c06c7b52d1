"""Declaring case milestones: free names beside the built-in hearing, refused where written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from experiments import trials
from experiments.definition import TrialDefinition
from experiments.loader import LoadedTrial, canonical_form, load_trial_file, sha256_of
from nudge.clock import FixedClock
from nudge.errors import TrialStateError
from tests.conftest import EXAMPLE_TRIAL as TRIAL
from tests.experiments.test_definition_rules import BASE, problems_for
from tests.factories import launch
from tests.milestone_factories import milestone_trial


def loaded(tmp_path: Path, text: str) -> LoadedTrial:
    path = tmp_path / "trial.yaml"
    path.write_text(text, encoding="utf-8")
    result = load_trial_file(path)
    assert isinstance(result, LoadedTrial), result
    return result


def test_a_trial_that_declares_no_milestones_keeps_its_sha256(tmp_path: Path) -> None:
    """Launched trials from before milestones existed hash as they did; an empty list is none."""
    before = canonical_form(loaded(tmp_path, BASE))
    assert "milestones" not in before
    assert sha256_of(canonical_form(loaded(tmp_path, BASE + "milestones: []\n"))) == sha256_of(
        before
    )


def test_milestones_are_names_or_names_with_the_export_column_that_carries_them(
    tmp_path: Path,
) -> None:
    text = BASE + "milestones: [charged, {name: verdict, column: verdict_date}, sentence]\n"
    trial = loaded(tmp_path, text)
    assert trial.definition.milestone_names == ("charged", "verdict", "sentence")
    assert trial.definition.milestone_columns() == {"verdict_date": "verdict"}
    stored = canonical_form(trial)
    assert stored["milestones"] == [
        {"name": "charged"},
        {"name": "verdict", "column": "verdict_date"},
        {"name": "sentence"},
    ]
    # The launched version is rebuilt from its canonical form: it must mean the same trial.
    again = TrialDefinition.model_validate(json.loads(json.dumps(stored)))
    assert again.milestones == trial.definition.milestones
    assert sha256_of(stored) != sha256_of(canonical_form(loaded(tmp_path, BASE)))


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            "milestones: [charged, hearing]\n",
            "trial.yaml:17:23: milestones[1].name: 'hearing' is the built-in hearing, which "
            "every case has (its date comes from hearing_start and nudge hearings update); give "
            "this milestone another name, such as trial_listed",
        ),
        (
            "milestones:\n  - Charged\n",
            "trial.yaml:18:5: milestones[0].name: 'Charged' is not a milestone name: use "
            "lower-case letters, digits, - and _ (at most 100 characters), e.g. charged or "
            "trial_listed",
        ),
        (
            f"milestones: [{'x' * 101}]\n",
            "trial.yaml:17:14: milestones[0].name: '" + "x" * 101 + "' is not a milestone name",
        ),
        (
            "milestones: [charged, verdict, charged]\n",
            "trial.yaml:17:32: milestones[2].name: milestone 'charged' is used more than once",
        ),
        (
            "milestones:\n  - {name: charged, column: hearing_start}\n",
            "trial.yaml:18:29: milestones[0].column: 'hearing_start' is one of the export's own "
            "columns; name the column that holds the date of charged",
        ),
        (
            "milestones:\n  - {name: charged, column: day}\n  - {name: verdict, column: day}\n",
            "trial.yaml:19:29: milestones[1].column: 'day' already carries charged; each "
            "milestone needs its own column",
        ),
        (
            "milestones:\n  - {name: charged, column: ' '}\n",
            "trial.yaml:18:29: milestones[0].column: a column must not be blank",
        ),
        (
            "milestones:\n  - {name: charged, when: soon}\n",
            "trial.yaml:18:21: milestones[0]: unknown key 'when' (allowed here: column, name)",
        ),
    ],
    ids=[
        "hearing is reserved",
        "not lower case",
        "too long",
        "declared twice",
        "an export column of its own",
        "one column for two",
        "blank column",
        "unknown key",
    ],
)
def test_a_bad_declaration_is_refused_where_it_is_written(
    tmp_path: Path, block: str, expected: str
) -> None:
    problems = problems_for(tmp_path, BASE + block)
    assert any(p.startswith(expected) for p in problems), problems


def test_milestones_are_design_so_a_launched_trial_cannot_gain_them(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    """Messages are timed from milestones: declaring one after launch changes the design."""
    launch(session, clock, example_dir / "witness-reminders.yaml")
    amended = load_trial_file(milestone_trial(example_dir))
    assert isinstance(amended, LoadedTrial)
    with pytest.raises(TrialStateError) as refused:
        trials.amend_trial(
            session, clock, TRIAL, amended, trials.Actor("test:researcher"), reason="add dates"
        )
    assert "milestones" in str(refused.value)
