"""The primary, logistic and CACE models on awkward but ordinary trials, against R.

References: tests/analysis/reference/awkward/reference.json, made by make_reference.R there
(R 4.2.2, estimatr 1.0.0, sandwich 3.0.2, lmtest 0.9.40, AER 1.2.10) from the CSV files that
make_data.py there simulates.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.effects import ArmEffect, Effects, ModelSpec, estimate_effects

AWKWARD = Path(__file__).parent / "reference" / "awkward"
RTOL = 1e-6
P_ATOL = 1e-4


def trial(name: str, unit: str, stratum: str | None = None) -> pd.DataFrame:
    frame = pd.read_csv(AWKWARD / f"{name}.csv")
    frame["unit"] = frame[unit]
    frame["stratum"] = frame[stratum] if stratum else "all"
    return frame


def spec(**overrides: Any) -> ModelSpec:
    values: dict[str, Any] = {
        "control": "control",
        "treatments": ("sms", "letter"),
        "covariates": (),
        "stratified": True,
        "clustered": True,
        "alpha": 0.05,
        "missing": "drop",
    }
    values.update(overrides)
    return ModelSpec(**values)


def r_value(expected: dict[str, Any], term: str, field: str) -> float:
    return float(expected[field][expected["term"].index(term)])


def assert_adjusted_matches(effect: ArmEffect, expected: dict[str, Any], term: str) -> None:
    assert effect.adjusted_risk_difference == pytest.approx(
        r_value(expected, term, "estimate"), rel=RTOL
    )
    assert effect.adjusted_std_error == pytest.approx(
        r_value(expected, term, "std_error"), rel=RTOL
    )
    assert effect.adjusted_ci_low == pytest.approx(r_value(expected, term, "ci_low"), rel=RTOL)
    assert effect.adjusted_ci_high == pytest.approx(r_value(expected, term, "ci_high"), rel=RTOL)
    assert effect.adjusted_p_value == pytest.approx(r_value(expected, term, "p_value"), abs=P_ATOL)


def assert_odds_ratio_matches(effect: ArmEffect, expected: dict[str, Any], term: str) -> None:
    assert effect.odds_ratio is not None and effect.or_ci_low is not None
    assert math.log(effect.odds_ratio) == pytest.approx(
        r_value(expected, term, "estimate"), rel=RTOL
    )
    assert math.log(effect.or_ci_low) == pytest.approx(r_value(expected, term, "ci_low"), rel=RTOL)
    assert effect.or_p_value == pytest.approx(r_value(expected, term, "p_value"), abs=P_ATOL)


def redundant_effects() -> Effects:
    covariates = ("court_cov", "age", "age_months", "court_size")
    return estimate_effects(
        trial("aliased", "household", "court"), "attended", spec(covariates=covariates)
    )


def test_redundant_covariates_leave_the_primary_model_estimated_as_r_estimates_it(
    awkward: dict[str, Any],
) -> None:
    effects = redundant_effects()
    for arm in ("sms", "letter"):
        assert_adjusted_matches(effects.arms[arm], awkward["aliased_lm_cr2"], f"arm{arm}")
        assert_odds_ratio_matches(effects.arms[arm], awkward["aliased_logit_cluster"], f"arm{arm}")
        assert effects.arms[arm].cace == pytest.approx(
            r_value(awkward["aliased_iv_cr2"], f"recv_{arm}", "estimate"), rel=RTOL
        )
        assert effects.arms[arm].cace_std_error == pytest.approx(
            r_value(awkward["aliased_iv_cr2"], f"recv_{arm}", "std_error"), rel=RTOL
        )
    assert effects.covariates_used == ("age",)


def test_every_dropped_column_is_named_in_plain_words() -> None:
    effects = redundant_effects()
    assert effects.aliased == (
        "court_cov[north]",
        "court_cov[south]",
        "court_cov[west]",
        "age_months",
        "court_size",
    )
    notes = "\n".join(effects.notes)
    for covariate in ("court_cov", "age_months", "court_size"):
        assert f"covariate {covariate} left out of the models: it is an exact linear" in notes
    assert "constant" not in notes


def test_a_date_covariate_is_adjusted_for_and_matches_r(awkward: dict[str, Any]) -> None:
    covariates = ("age", "hearing_date", "district")
    effects = estimate_effects(
        trial("aliased", "household", "court"), "attended", spec(covariates=covariates)
    )
    assert effects.covariates_used == covariates
    for arm in ("sms", "letter"):
        assert_adjusted_matches(effects.arms[arm], awkward["offset_lm_cr2"], f"arm{arm}")
        assert_odds_ratio_matches(effects.arms[arm], awkward["offset_logit_cluster"], f"arm{arm}")


def few_units_effects() -> Effects:
    return estimate_effects(
        trial("few_units", "case"),
        "attended",
        spec(treatments=("sms", "letter", "post"), stratified=False),
    )


def test_an_arm_that_is_a_single_case_gets_its_estimate_but_no_p_value_or_interval(
    awkward: dict[str, Any],
) -> None:
    effects = few_units_effects()
    letter = effects.arms["letter"]
    expected = awkward["few_units_lm_cr2"]
    # R reports p = 1e-5 and an interval excluding zero: the one case carries no variance.
    assert r_value(expected, "armletter", "ci_low") > 0
    assert letter.adjusted_risk_difference == pytest.approx(
        r_value(expected, "armletter", "estimate"), rel=RTOL
    )
    assert (letter.adjusted_std_error, letter.adjusted_ci_low, letter.adjusted_p_value) == (
        None,
        None,
        None,
    )
    assert effects.too_few_units == ("letter",)
    assert any(
        note.startswith("letter: only 1 randomisation unit") and "no standard error" in note
        for note in effects.notes
    )
    assert_adjusted_matches(effects.arms["sms"], expected, "armsms")


def test_arms_below_the_plans_minimum_of_clusters_are_listed_and_warned_about(
    awkward: dict[str, Any],
) -> None:
    effects = few_units_effects()
    assert effects.units == awkward["few_units_units"]
    assert effects.below_min_clusters == ("letter", "post")
    assert (
        "post: only 5 randomisation units in the analysed rows, fewer than the 10 per arm the "
        "plan asks for: its interval and p-value rest on few clusters and may be unreliable"
    ) in effects.notes
    assert_adjusted_matches(effects.arms["post"], awkward["few_units_lm_cr2"], "armpost")


def test_a_control_arm_of_one_case_withholds_inference_for_every_arm() -> None:
    frame = trial("few_units", "case")
    frame = frame[(frame["arm"] != "control") | (frame["case"] == "C001")]
    effects = estimate_effects(
        frame, "attended", spec(treatments=("sms", "letter", "post"), stratified=False)
    )
    assert effects.too_few_units == ("control", "letter")
    for effect in effects.arms.values():
        assert effect.adjusted_risk_difference is not None
        assert effect.adjusted_p_value is None and effect.adjusted_ci_low is None
    assert any("no standard error, interval or p-value for any arm" in n for n in effects.notes)


def test_an_unclustered_arm_of_one_participant_gets_no_inference_but_no_cluster_warning() -> None:
    frame = trial("few_units", "case")
    frame = frame[frame["arm"] != "letter"]
    lone = frame.iloc[[0]].assign(arm="letter")  # one participant in the letter arm
    frame = pd.concat([frame, lone], ignore_index=True)
    frame["unit"] = [f"P{i}" for i in range(len(frame))]
    effects = estimate_effects(
        frame,
        "attended",
        spec(treatments=("sms", "letter", "post"), stratified=False, clustered=False),
    )
    assert effects.too_few_units == ("letter",) and effects.below_min_clusters == ()
    assert effects.arms["letter"].adjusted_p_value is None
    assert effects.arms["sms"].adjusted_p_value is not None


def cace_effects(delivery: str, clustered: bool = True) -> Effects:
    frame = trial("cace", "household", "court")
    frame["delivered"] = frame[delivery]
    return estimate_effects(frame, "attended", spec(covariates=("age",), clustered=clustered))


@pytest.mark.parametrize(("clustered", "key"), [(True, "cr2"), (False, "hc2")])
def test_an_arm_that_reached_nobody_leaves_the_other_arms_cace_estimated(
    awkward: dict[str, Any], clustered: bool, key: str
) -> None:
    effects = cace_effects("delivered_one_sided", clustered)
    expected = awkward[f"cace_one_sided_{key}"]
    assert effects.arms["sms"].cace == pytest.approx(
        r_value(expected, "recv_sms", "estimate"), rel=RTOL
    )
    assert effects.arms["sms"].cace_std_error == pytest.approx(
        r_value(expected, "recv_sms", "std_error"), rel=RTOL
    )
    assert effects.arms["letter"].cace is None
    notes = "\n".join(effects.notes)
    assert "letter: nobody in this arm was recorded as reached" in notes
    assert "non-compliance is one-sided" in notes


def test_reached_controls_give_the_two_sided_estimator_per_arm(awkward: dict[str, Any]) -> None:
    effects = cace_effects("delivered_two_sided")
    for arm in ("sms", "letter"):
        expected = awkward["cace_two_sided"][arm]
        cace = effects.arms[arm]
        assert cace.cace == pytest.approx(
            r_value(expected["cr2"], "delivered_two_sided", "estimate"), rel=RTOL
        )
        assert cace.cace == pytest.approx(expected["aer_estimate"], rel=RTOL)
        assert cace.cace_std_error == pytest.approx(
            r_value(expected["cr2"], "delivered_two_sided", "std_error"), rel=RTOL
        )
    notes = "\n".join(effects.notes)
    assert "two-sided non-compliance" in notes and "one-sided" not in notes


def test_reached_controls_unclustered_match_the_hc2_standard_error(
    awkward: dict[str, Any],
) -> None:
    effects = cace_effects("delivered_two_sided", clustered=False)
    for arm in ("sms", "letter"):
        expected = awkward["cace_two_sided"][arm]["hc2"]
        assert effects.arms[arm].cace_std_error == pytest.approx(
            r_value(expected, "delivered_two_sided", "std_error"), rel=RTOL
        )
