"""Labels in the trial definition: optional, validated where they are written, amendable after
launch, and absent from the canonical form when not given (old launched trials keep their hash)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from analysis.labels import Labels
from experiments import trials
from experiments.definition import TrialDefinition
from experiments.loader import LoadedTrial, canonical_form, load_trial_file, sha256_of
from nudge.clock import FixedClock
from tests.experiments.test_definition_rules import BASE, problems_for
from tests.experiments.test_trial_lifecycle import ACTOR, edited, load

LABELLED = BASE.replace(
    "  - {id: attended, primary: true}\n",
    "  - {id: attended, primary: true, label: attendance}\n",
) + (
    "population:\n"
    "  eligibility:\n"
    "    - {field: contact_sms, equals: true, label: did not agree to texts}\n"
    "    - {field: age, min: 18}\n"
    "analysis:\n"
    "  covariates: [prior_fta, age]\n"
    "  columns:\n"
    "    prior_fta: {type: flag, label: previous failure to attend}\n"
    "    age: numeric\n"
    "    contact_sms: flag\n"
)


def loaded(tmp_path: Path, text: str) -> TrialDefinition:
    path = tmp_path / "trial.yaml"
    path.write_text(text, encoding="utf-8")
    result = load_trial_file(path)
    assert isinstance(result, LoadedTrial), result
    return result.definition


def test_labels_on_outcomes_columns_and_rules_are_accepted_beside_the_shorthand(
    tmp_path: Path,
) -> None:
    assert problems_for(tmp_path, LABELLED) == []
    labels = Labels.of(loaded(tmp_path, LABELLED))
    assert labels.outcome("attended") == "attendance"
    assert labels.column("prior_fta") == "previous failure to attend"
    assert labels.column("age") == "age"  # shorthand, no label: the name read aloud
    rules = labels.definition.population.eligibility
    assert [labels.exclusion(r) for r in rules] == [
        "did not agree to texts",
        "age under 18 or not recorded",
    ]


BAD = {
    "blank": (
        'label: "  "',
        "trial.yaml:16:42: outcomes[0].label: a label must not be blank; give a few words, or "
        "leave label out",
    ),
    "too long": (
        "label: " + "a" * 81,
        "trial.yaml:16:42: outcomes[0].label: a label is a short phrase of at most 80 characters "
        "(this one has 81); put the longer text in description",
    ),
    "a tab": (
        'label: "attend\\tance"',
        "trial.yaml:16:42: outcomes[0].label: a label is one line of plain text: remove the "
        "control character U+0009",
    ),
    "a line break": (
        'label: "attend\\nance"',
        "trial.yaml:16:42: outcomes[0].label: a label is one line of plain text: remove the "
        "control character U+000A",
    ),
    "not text": (
        "label: [attendance]",
        "trial.yaml:16:42: outcomes[0].label: must be text (not a list)",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_label_is_refused_at_its_line_and_column(tmp_path: Path, case: str) -> None:
    label, expected = BAD[case]
    text = BASE.replace(
        "{id: attended, primary: true}", f"{{id: attended, primary: true, {label}}}"
    )
    assert problems_for(tmp_path, text) == [expected]


def test_a_column_label_without_its_type_is_refused_with_the_way_to_write_it(
    tmp_path: Path,
) -> None:
    text = BASE + "analysis:\n  covariates: [prior_fta]\n  columns:\n    prior_fta: {label: x}\n"
    assert problems_for(tmp_path, text) == [
        "trial.yaml:20:16: analysis.columns.prior_fta: give the column's type with its label, "
        "e.g. {type: flag, label: previous failure to attend} (numeric, categorical or flag)"
    ]


def test_a_bad_rule_label_is_refused_where_it_is_written(tmp_path: Path) -> None:
    text = BASE + 'population:\n  eligibility:\n    - {field: age, min: 18, label: ""}\n'
    assert problems_for(tmp_path, text) == [
        "trial.yaml:19:36: population.eligibility[0].label: a label must not be blank; give a "
        "few words, or leave label out"
    ]


def test_a_definition_without_labels_has_the_canonical_form_it_had_before_labels(
    tmp_path: Path,
) -> None:
    """A launched trial's stored canonical form (no label keys) loads and dumps unchanged."""
    text = BASE + "population:\n  eligibility:\n    - {field: age, min: 18}\n"
    path = tmp_path / "trial.yaml"
    path.write_text(text, encoding="utf-8")
    result = load_trial_file(path)
    assert isinstance(result, LoadedTrial)
    stored = canonical_form(result)
    assert "label" not in json.dumps(stored)
    again = TrialDefinition.model_validate(json.loads(json.dumps(stored)))
    assert again.model_dump(mode="json", by_alias=True) | {"templates": stored["templates"]} == (
        stored
    )
    assert sha256_of(stored) == sha256_of(canonical_form(result))


def test_a_launched_trial_accepts_new_labels_by_amendment(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    unlabelled = edited(example_dir, ", label: attendance", "")
    trials.create_trial(session, clock, unlabelled, ACTOR)
    trials.launch_trial(session, clock, "witness-reminders-2027", ACTOR)
    labelled = load(example_dir / "witness-reminders.yaml")
    version = trials.amend_trial(
        session, clock, "witness-reminders-2027", labelled, ACTOR, reason="name the outcome"
    )
    assert version.changed_fields == ["outcomes[0].label"]
    current = trials.current_definition(
        session, trials.get_trial(session, "witness-reminders-2027")
    )
    assert Labels.of(current).outcome("attended") == "attendance"
