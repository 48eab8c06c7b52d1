"""Random-effects meta-analysis against R's metafor, and the cases metafor answers differently.

Reference values: tests/analysis/reference/meta/reference.json, written by make_reference.R
(rma(method = "REML", test = "knha"), rma(method = "DL"), predict) from the hand-written
trials.csv; versions in the JSON. Both R and Nudge iterate REML's Fisher scoring until tau^2
changes by at most 1e-12, so the tolerance is 1e-6 relative (1e-12 absolute for values that
are 0, such as tau^2 at its boundary).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats.meta import (
    IDENTICAL,
    ONE_TRIAL,
    TrialEffect,
    random_effects,
    reml_tau2,
)

HERE = Path(__file__).parent / "reference" / "meta"
RELATIVE = 1e-6
ABSOLUTE = 1e-12


def reference() -> dict[str, Any]:
    scenarios: dict[str, Any] = json.loads((HERE / "reference.json").read_text("utf-8"))[
        "scenarios"
    ]
    return scenarios


SCENARIOS = reference()


def trials_of(case: dict[str, Any]) -> list[TrialEffect]:
    return [
        TrialEffect(f"trial {i + 1}", y, se)
        for i, (y, se) in enumerate(zip(case["estimate"], case["se"], strict=True))
    ]


def close(ours: float | None, theirs: float) -> bool:
    return ours is not None and ours == pytest.approx(theirs, rel=RELATIVE, abs=ABSOLUTE)


def test_the_reference_covers_two_three_five_and_twelve_trials_with_and_without_spread() -> None:
    sizes = {case["k"] for case in SCENARIOS.values()}
    assert sizes == {2, 3, 5, 12}
    assert any(case["reml"]["tau2"] == 0 for case in SCENARIOS.values())
    assert any(case["reml"]["tau2"] > 0.001 for case in SCENARIOS.values())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_reml_between_trial_variance_matches_metafor(name: str) -> None:
    case = SCENARIOS[name]
    result = random_effects(trials_of(case))
    assert close(result.reml.tau2, case["reml"]["tau2"])
    assert close(result.reml.i2, case["reml"]["i2"])


@pytest.mark.parametrize("name", sorted(set(SCENARIOS) - {"five_identical"}))
def test_hartung_knapp_pooled_effect_matches_metafor(name: str) -> None:
    case, ref = SCENARIOS[name], SCENARIOS[name]["reml"]
    pooled = random_effects(trials_of(case)).reml
    for ours, key in [
        (pooled.estimate, "estimate"),
        (pooled.se, "se"),
        (pooled.ci_low, "ci_low"),
        (pooled.ci_high, "ci_high"),
        (pooled.statistic, "t"),
        (pooled.p_value, "p"),
    ]:
        assert close(ours, ref[key]), key
    assert pooled.df == ref["df"] == case["k"] - 1


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_dersimonian_laird_matches_metafor(name: str) -> None:
    case, ref = SCENARIOS[name], SCENARIOS[name]["dl"]
    pooled = random_effects(trials_of(case)).dl
    for ours, key in [
        (pooled.tau2, "tau2"),
        (pooled.estimate, "estimate"),
        (pooled.se, "se"),
        (pooled.ci_low, "ci_low"),
        (pooled.ci_high, "ci_high"),
        (pooled.statistic, "z"),
        (pooled.p_value, "p"),
        (pooled.i2, "i2"),
    ]:
        assert close(ours, ref[key]), key
    assert pooled.df is None


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_cochran_q_and_its_p_value_match_metafor(name: str) -> None:
    case = SCENARIOS[name]
    heterogeneity = random_effects(trials_of(case)).heterogeneity
    assert close(heterogeneity.q, case["q"])
    assert close(heterogeneity.p_value, case["q_p"])
    assert heterogeneity.df == case["q_df"]


@pytest.mark.parametrize("name", sorted(set(SCENARIOS) - {"five_identical"}))
def test_prediction_interval_matches_metafor_predict(name: str) -> None:
    case, ref = SCENARIOS[name], SCENARIOS[name]["reml"]
    prediction = random_effects(trials_of(case)).prediction
    assert close(prediction.low, ref["pi_low"])
    assert close(prediction.high, ref["pi_high"])
    assert prediction.df == case["k"] - 1


def test_heterogeneous_trials_get_a_prediction_interval_wider_than_the_pooled_one() -> None:
    result = random_effects(trials_of(SCENARIOS["twelve_heterogeneous"]))
    assert result.prediction.low is not None and result.reml.ci_low is not None
    assert result.prediction.low < result.reml.ci_low
    assert result.reml.tau2 is not None and result.reml.tau2 > 0


def test_homogeneous_trials_put_tau2_at_its_boundary_of_zero() -> None:
    for name in ("two_homogeneous", "three_homogeneous", "twelve_homogeneous"):
        result = random_effects(trials_of(SCENARIOS[name]))
        assert result.reml.tau2 == 0.0
        assert result.dl.tau2 == 0.0
        assert result.reml.i2 == 0.0


def test_identical_estimates_pool_to_that_value_without_a_collapsed_interval() -> None:
    case = SCENARIOS["five_identical"]
    # metafor's Hartung-Knapp SE is 0 here: its interval is the single point 0.04.
    assert case["reml"]["se"] == 0
    result = random_effects(trials_of(case))
    assert result.reml.estimate == pytest.approx(0.04)
    assert result.reml.se is None and result.reml.ci_low is None
    assert result.reml.reason == IDENTICAL
    assert result.prediction.low is None and result.prediction.reason == IDENTICAL
    assert close(result.dl.ci_low, case["dl"]["ci_low"])


def test_one_trial_is_not_pooled_and_says_so() -> None:
    result = random_effects([TrialEffect("only", 0.05, 0.02)])
    assert result.k == 1
    assert result.note == ONE_TRIAL
    assert result.reml.estimate is None and result.reml.reason == ONE_TRIAL
    assert result.dl.estimate is None
    assert result.heterogeneity.q is None and result.heterogeneity.reason == ONE_TRIAL
    assert result.prediction.low is None


def test_two_trials_are_pooled_with_a_warning_about_one_degree_of_freedom() -> None:
    result = random_effects(trials_of(SCENARIOS["two_heterogeneous"]))
    assert result.reml.df == 1
    assert result.note is not None and "1 degree of freedom" in result.note


@pytest.mark.parametrize("se", [0.0, -0.01, float("nan"), float("inf")])
def test_a_standard_error_that_cannot_weight_a_trial_is_refused_naming_the_trial(
    se: float,
) -> None:
    trials = [TrialEffect("Kent 2026", 0.04, 0.02), TrialEffect("Essex 2027", 0.05, se)]
    with pytest.raises(ValueError, match="'Essex 2027'.*standard error"):
        random_effects(trials)


def test_no_trials_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        random_effects([])


def test_reml_estimate_maximises_the_restricted_likelihood() -> None:
    """Independently of metafor: the REML score is zero at an interior estimate."""
    case = SCENARIOS["five_heterogeneous"]
    y, v = np.array(case["estimate"]), np.array(case["se"]) ** 2
    tau2, iterations = reml_tau2(y, v)
    assert iterations < 100

    def score(t: float) -> float:
        w = 1 / (v + t)
        mu = np.sum(w * y) / w.sum()
        return float(np.sum(w**2 * (y - mu) ** 2) - (w.sum() - np.sum(w**2) / w.sum()))

    assert abs(score(tau2)) < 1e-6 * np.sum((1 / (v + tau2)) ** 2)
    assert score(tau2 * 0.9) > 0 > score(tau2 * 1.1)


def test_when_full_fisher_steps_oscillate_half_steps_reach_metafors_estimate() -> None:
    case = SCENARIOS["five_full_steps_oscillate"]
    assert case["stepadj"] == 0.5  # metafor's full steps did not converge on these trials
    y, v = np.array(case["estimate"]), np.array(case["se"]) ** 2
    tau2, _ = reml_tau2(y, v)
    assert close(tau2, case["reml"]["tau2"])


def test_pooled_effect_does_not_depend_on_the_order_of_the_trials() -> None:
    trials = trials_of(SCENARIOS["twelve_heterogeneous"])
    forward, backward = random_effects(trials), random_effects(trials[::-1])
    assert forward.reml.estimate == pytest.approx(backward.reml.estimate, rel=1e-12)
    assert forward.reml.tau2 == pytest.approx(backward.reml.tau2, rel=1e-9)


@given(
    st.lists(
        st.tuples(st.floats(-0.3, 0.3), st.floats(0.005, 0.1)), min_size=2, max_size=15
    ).filter(lambda pairs: max(y for y, _ in pairs) - min(y for y, _ in pairs) > 1e-4),
    st.floats(-0.2, 0.2),
    st.floats(0.5, 4),
)
@settings(deadline=None, max_examples=60)
def test_shifting_and_rescaling_the_estimates_moves_the_pooled_effect_with_them(
    pairs: list[tuple[float, float]], shift: float, scale: float
) -> None:
    """Without a reference: the model is location- and scale-equivariant, so tau^2 scales by
    the square, the pooled effect and its interval move with the data, and p is unchanged."""
    base = random_effects([TrialEffect(str(i), y, se) for i, (y, se) in enumerate(pairs)])
    moved = random_effects(
        [TrialEffect(str(i), (y + shift) * scale, se * scale) for i, (y, se) in enumerate(pairs)]
    )
    assert base.reml.tau2 is not None and moved.reml.tau2 is not None
    assert moved.reml.tau2 == pytest.approx(base.reml.tau2 * scale**2, rel=1e-6, abs=1e-10)
    assert base.reml.estimate is not None and base.reml.ci_low is not None
    assert moved.reml.estimate == pytest.approx((base.reml.estimate + shift) * scale, abs=1e-8)
    assert moved.reml.ci_low == pytest.approx((base.reml.ci_low + shift) * scale, abs=1e-6)
    assert moved.heterogeneity.q == pytest.approx(base.heterogeneity.q, rel=1e-9, abs=1e-9)
    assert moved.dl.tau2 == pytest.approx((base.dl.tau2 or 0) * scale**2, rel=1e-9, abs=1e-12)
