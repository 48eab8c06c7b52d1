"""Column types: declared under analysis.columns, inferred without data, frozen at launch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from experiments import trials
from experiments.columns import column_types
from experiments.loader import LoadedTrial, load_trial_file
from nudge.clock import FixedClock
from nudge.errors import TrialStateError
from tests.conftest import EXAMPLE, Cli
from tests.experiments.test_definition_rules import BASE, problems_for

ACTOR = trials.Actor("test:researcher")
RULES = """\
population:
  strata: [court]
  eligibility:
    - {field: age, min: 18}
    - {field: consented, equals: true}
"""


def loaded(tmp_path: Path, text: str) -> LoadedTrial:
    path = tmp_path / "trial.yaml"
    path.write_text(text)
    result = load_trial_file(path)
    assert isinstance(result, LoadedTrial), result
    return result


def test_an_undeclared_column_is_typed_by_what_the_definition_says_about_it(
    tmp_path: Path,
) -> None:
    analysis = "analysis: {covariates: [age, consented, role, contact_sms, band]}\n"
    typed = column_types(loaded(tmp_path, BASE + RULES + analysis).definition)
    assert {name: t.type for name, t in typed.items()} == {
        "court": "categorical",
        "age": "numeric",
        "consented": "flag",
        "role": "categorical",
        "contact_sms": "flag",
        "band": "categorical",
    }
    assert typed["age"].reason == "the rule 'age min 18.0' compares it as a number"
    assert not any(t.declared for t in typed.values())


def test_a_declared_type_wins_over_any_inference(tmp_path: Path) -> None:
    analysis = "analysis: {covariates: [age], columns: {age: categorical}}\n"
    typed = column_types(loaded(tmp_path, BASE + RULES + analysis).definition)
    assert typed["age"].type == "categorical" and typed["age"].declared


def test_validate_warns_about_each_undeclared_column_with_the_type_it_infers(
    tmp_path: Path,
) -> None:
    analysis = "analysis:\n  covariates: [age, band]\n  columns: {court: categorical}\n"
    assert problems_for(tmp_path, BASE + RULES + analysis) == [
        "trial.yaml:23:16: warning: analysis.covariates[0]: 'age' has no declared type, so it "
        "is analysed as a number because the rule 'age min 18.0' compares it as a number; "
        "declare it under analysis.columns, e.g. age: numeric",
        "trial.yaml:23:21: warning: analysis.covariates[1]: 'band' has no declared type, so it "
        "is analysed as categorical because nothing in the definition says otherwise "
        "(categorical is the safe choice: it assumes no order and no straight line); declare "
        "it under analysis.columns, e.g. band: categorical",
    ]


def test_nudge_trial_validate_prints_the_warning_and_still_exits_zero(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "trial.yaml"
    path.write_text(BASE + "analysis: {covariates: [prior_fta]}\n")
    result = cli("trial", "validate", str(path))
    assert result.exit_code == 0, result.output
    assert (
        f"{path}:17:25: warning: analysis.covariates[0]: 'prior_fta' has no declared type, so "
        "it is analysed as categorical because nothing in the definition says otherwise"
    ) in result.output
    assert "valid: trial 't1'" in result.output


COLUMN_CASES = {
    "unknown type": (
        "analysis: {covariates: [age], columns: {age: number}}\n",
        [
            "trial.yaml:17:46: analysis.columns.age.type: must be 'numeric', 'categorical' or "
            "'flag' (not 'number')"
        ],
    ),
    "bins on a categorical column": (
        "analysis:\n  subgroups: [band]\n  columns:\n    band: {type: categorical, bins: [1, 2]}\n",
        [
            "trial.yaml:20:37: analysis.columns.band.bins: only a numeric column is cut into "
            "levels ('band' is categorical)"
        ],
    ),
    "bins not ascending": (
        "analysis:\n  subgroups: [age]\n  columns:\n    age: {type: numeric, bins: [40, 25]}\n",
        [
            "trial.yaml:20:37: analysis.columns.age.bins[1]: cut points must be strictly "
            "ascending (40 then 25)"
        ],
    ),
    "a cut point that is not finite": (
        "analysis:\n  subgroups: [age]\n  columns:\n    age: {type: numeric, bins: [25, .inf]}\n",
        ["trial.yaml:20:37: analysis.columns.age.bins[1]: inf is not a finite number"],
    ),
    "no cut points": (
        "analysis:\n  subgroups: [age]\n  columns:\n    age: {type: numeric, bins: []}\n",
        ["trial.yaml:20:32: analysis.columns.age.bins: list at least one cut point, e.g. [25, 40]"],
    ),
    "a numeric subgroup without cut points": (
        "analysis:\n  subgroups: [age]\n  columns:\n    age: numeric\n",
        [
            "trial.yaml:20:10: analysis.columns.age: 'age' is a numeric subgroup (declared "
            "numeric): give the cut points between its levels, decided before the data are "
            "seen, e.g. age: {type: numeric, bins: [25, 40]} under analysis.columns (or declare "
            "it categorical)"
        ],
    ),
    "a declared column the trial does not use": (
        "analysis:\n  covariates: [age]\n  columns:\n    age: numeric\n    agee: numeric\n",
        [
            "trial.yaml:21:5: analysis.columns.agee: 'agee' is not a covariate, stratum, "
            "subgroup or rule field of this trial; did you mean 'age'?"
        ],
    ),
}


@pytest.mark.parametrize("case", COLUMN_CASES, ids=list(COLUMN_CASES))
def test_a_bad_columns_entry_gets_a_located_message(tmp_path: Path, case: str) -> None:
    analysis, expected = COLUMN_CASES[case]
    assert problems_for(tmp_path, BASE + analysis) == expected


def test_an_inferred_numeric_subgroup_is_refused_until_its_cut_points_are_declared(
    tmp_path: Path,
) -> None:
    problems = problems_for(tmp_path, BASE + RULES + "analysis: {subgroups: [age]}\n")
    assert problems[-1] == (
        "trial.yaml:22:24: analysis.subgroups[0]: 'age' is a numeric subgroup (the rule 'age "
        "min 18.0' compares it as a number): give the cut points between its levels, decided "
        "before the data are seen, e.g. age: {type: numeric, bins: [25, 40]} under "
        "analysis.columns (or declare it categorical)"
    )


def test_cut_points_on_a_column_that_is_no_subgroup_are_a_warning(tmp_path: Path) -> None:
    analysis = "analysis:\n  covariates: [age]\n  columns:\n    age: {type: numeric, bins: [25]}\n"
    assert problems_for(tmp_path, BASE + analysis) == [
        "trial.yaml:20:32: warning: analysis.columns.age.bins: 'age' is not a subgroup, so its "
        "cut points are not used"
    ]


def test_the_example_declares_every_column_it_analyses() -> None:
    example = load_trial_file(EXAMPLE)
    assert isinstance(example, LoadedTrial)
    typed = column_types(example.definition)
    assert all(t.declared for t in typed.values())
    assert {n: t.type for n, t in typed.items()} == {
        "court": "categorical",
        "age_band": "categorical",
        "vulnerable": "flag",
        "prior_fta": "flag",
        "role": "categorical",
    }


LAUNCHABLE = BASE + RULES + "analysis:\n  covariates: [age, band]\n  columns: {band: categorical}\n"


def launched(session: Session, clock: FixedClock, tmp_path: Path) -> dict[str, object]:
    trials.create_trial(session, clock, loaded(tmp_path, LAUNCHABLE), ACTOR)
    version = trials.launch_trial(session, clock, "t1", ACTOR)
    session.commit()
    return dict(json.loads(version.canonical_json))


def test_launch_freezes_the_inferred_types_into_the_version_and_its_hash(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    data = launched(session, clock, tmp_path)
    assert data["analysis"]["columns"] == {  # type: ignore[index]
        "age": {"type": "numeric", "bins": None},
        "band": {"type": "categorical", "bins": None},
        "court": {"type": "categorical", "bins": None},
    }
    frozen = trials.current_version(session, trials.get_trial(session, "t1"))
    assert frozen.source_yaml == LAUNCHABLE  # the researcher's file, as written
    definition = trials.current_definition(session, trials.get_trial(session, "t1"))
    assert all(t.declared for t in column_types(definition).values())


def test_an_amendment_after_launch_keeps_the_frozen_types(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launched(session, clock, tmp_path)
    retitled = loaded(tmp_path, LAUNCHABLE.replace("Test trial", "Renamed trial"))
    version = trials.amend_trial(session, clock, "t1", retitled, ACTOR, reason="title")
    assert version.changed_fields == ["title"]
    assert json.loads(version.canonical_json)["analysis"]["columns"]["age"]["type"] == "numeric"


def test_declaring_a_different_type_after_launch_is_a_design_change(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launched(session, clock, tmp_path)
    retyped = loaded(tmp_path, LAUNCHABLE.replace("{band: categorical}", "{age: categorical}"))
    with pytest.raises(TrialStateError, match="'analysis.columns.age.type' is part of the"):
        trials.amend_trial(session, clock, "t1", retyped, ACTOR, reason="types")
