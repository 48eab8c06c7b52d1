"""Subgroup analyses on awkward subgroups: the stratum, an arm missing from a level, thin levels.

References: tests/analysis/reference/awkward/reference.json, made by make_reference.R there
(R 4.2.2, estimatr 1.0.0: lm_robust HC2 with the arm x subgroup terms, the joint Wald test by
hand from its covariance) from subgroups.csv, which make_data.py there simulates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.effects import ModelSpec
from analysis.subgroups import SubgroupLevel, SubgroupResult, subgroup_results

AWKWARD = Path(__file__).parent / "reference" / "awkward"
SPEC = ModelSpec(
    control="control",
    treatments=("sms", "letter"),
    covariates=("age",),
    stratified=True,
    clustered=False,
    alpha=0.05,
    missing="drop",
)


@pytest.fixture(scope="module")
def awkward() -> dict[str, Any]:
    return json.loads((AWKWARD / "reference.json").read_text())


@pytest.fixture(scope="module")
def results() -> dict[str, SubgroupResult]:
    frame = pd.read_csv(AWKWARD / "subgroups.csv")
    frame["unit"] = frame["participant"]
    frame["stratum"] = frame["court"]
    found = subgroup_results(frame, "attended", SPEC, ["court", "region", "role", "language"])
    return {r.variable: r for r in found}


def level(result: SubgroupResult, name: str) -> SubgroupLevel:
    return next(lv for lv in result.levels if lv.level == name)


@pytest.mark.parametrize(
    ("variable", "key"),
    [("court", "subgroup_court"), ("region", "subgroup_region"), ("role", "subgroup_role")],
)
def test_the_interaction_test_drops_aliased_products_and_matches_r(
    results: dict[str, SubgroupResult], awkward: dict[str, Any], variable: str, key: str
) -> None:
    result, expected = results[variable], awkward[key]
    assert result.interaction_df == expected["df"]
    assert result.interaction_statistic == pytest.approx(expected["statistic"], rel=1e-6)
    assert result.interaction_p_value == pytest.approx(expected["p_value"], rel=1e-6)


def test_the_subgroup_that_is_the_stratum_gets_an_interaction_test(
    results: dict[str, SubgroupResult],
) -> None:
    assert results["court"].notes == ()
    assert results["court"].interaction_df == 4


def test_an_arm_missing_from_the_reference_level_still_gets_an_interaction_test(
    results: dict[str, SubgroupResult], awkward: dict[str, Any]
) -> None:
    assert awkward["subgroup_region"]["aliased"] == ["armletter:regionc"]
    assert results["region"].interaction_df == 3
    assert level(results["region"], "a").notes == ("letter: nobody in this level",)


@pytest.mark.parametrize(
    ("variable", "name", "key"),
    [
        ("court", "north", "subgroup_court_levels"),
        ("region", "a", "subgroup_region_levels"),
        ("region", "c", "subgroup_region_levels"),
    ],
)
def test_level_estimates_match_the_model_fitted_within_the_level(
    results: dict[str, SubgroupResult],
    awkward: dict[str, Any],
    variable: str,
    name: str,
    key: str,
) -> None:
    expected = awkward[key][name]
    for comparison in level(results[variable], name).comparisons:
        term = f"arm{comparison.arm}"
        if term not in expected["term"]:
            assert comparison.adjusted_risk_difference is None
            continue
        i = expected["term"].index(term)
        assert comparison.adjusted_risk_difference == pytest.approx(
            expected["estimate"][i], rel=1e-6
        )
        assert comparison.adjusted_std_error == pytest.approx(expected["std_error"][i], rel=1e-6)
        assert comparison.adjusted_p_value == pytest.approx(expected["p_value"][i], abs=1e-4)


def test_a_level_with_a_constant_outcome_gets_no_model_and_says_why(
    results: dict[str, SubgroupResult],
) -> None:
    other = level(results["role"], "other")
    assert other.notes == ("the outcome is 1 for everyone in this level: no model, no test",)
    for comparison in other.comparisons:
        assert comparison.adjusted_std_error is None and comparison.adjusted_p_value is None


def test_a_level_with_one_unit_in_an_arm_gets_no_model_and_no_interaction_test(
    results: dict[str, SubgroupResult],
) -> None:
    welsh = level(results["language"], "cy")
    assert welsh.notes == (
        "fewer than two randomisation units in this level for letter (1): the variation "
        "between units cannot be estimated, so no model",
    )
    assert all(c.adjusted_p_value is None for c in welsh.comparisons)
    assert results["language"].interaction_p_value is None
    assert results["language"].notes == (
        "interaction test not done: only one randomisation unit for letter in cy, so the "
        "variation between units there cannot be estimated",
    )
    english = level(results["language"], "en")
    assert all(c.adjusted_p_value is not None for c in english.comparisons)
