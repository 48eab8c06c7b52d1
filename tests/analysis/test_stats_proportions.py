"""Proportions: Wilson, Newcombe, risk and odds ratios, chi-square, Fisher against R."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.stats.proportions import compare_two_arms, wilson_interval

RTOL = 1e-6
P_ATOL = 1e-4


@pytest.mark.parametrize(("key", "alpha"), [("wilson", 0.05), ("wilson_90", 0.10)])
def test_wilson_interval_matches_prop_test(
    stats_reference: dict[str, Any], key: str, alpha: float
) -> None:
    for case in stats_reference[key]:
        ours = wilson_interval(case["events"], case["n"], alpha)
        assert ours.ci_low == pytest.approx(case["ci_low"], rel=RTOL, abs=1e-12)
        assert ours.ci_high == pytest.approx(case["ci_high"], rel=RTOL, abs=1e-12)


@pytest.mark.parametrize(
    "table", ["kerrison", "small", "zero_arm", "all_arm", "sms_vs_control", "letter_vs_control"]
)
def test_two_arm_comparison_matches_r(stats_reference: dict[str, Any], table: str) -> None:
    ref = stats_reference["two_by_two"][table]
    counts = (ref["events_arm"], ref["n_arm"], ref["events_control"], ref["n_control"])
    ours = compare_two_arms(*counts)
    rd = ours.risk_difference
    assert rd.estimate == pytest.approx(ref["rd"], rel=RTOL)
    assert rd.ci_low == pytest.approx(ref["newcombe_low"], rel=RTOL)
    assert rd.ci_high == pytest.approx(ref["newcombe_high"], rel=RTOL)
    assert ours.fisher_p == pytest.approx(ref["fisher_p"], abs=P_ATOL)
    if "chisq" not in ref:
        return
    assert ours.chi_square == pytest.approx(ref["chisq"], rel=RTOL)
    assert ours.chi_square_p == pytest.approx(ref["chisq_p"], abs=P_ATOL)
    assert ours.chi_square_p == pytest.approx(ref["prop_test_p"], abs=P_ATOL)
    yates = compare_two_arms(*counts, yates=True)
    assert yates.chi_square == pytest.approx(ref["yates_chisq"], rel=RTOL)
    assert yates.chi_square_p == pytest.approx(ref["yates_p"], abs=P_ATOL)
    assert ours.risk_ratio.estimate == pytest.approx(ref["rr"], rel=RTOL)
    assert ours.risk_ratio.ci_low == pytest.approx(ref["rr_low"], rel=RTOL)
    assert ours.risk_ratio.ci_high == pytest.approx(ref["rr_high"], rel=RTOL)
    # Woolf's interval is the Wald interval of the saturated logistic model.
    assert ours.odds_ratio.estimate == pytest.approx(ref["logit_or"], rel=RTOL)
    assert ours.odds_ratio.ci_low == pytest.approx(ref["logit_or_low"], rel=RTOL)
    assert ours.odds_ratio.ci_high == pytest.approx(ref["logit_or_high"], rel=RTOL)


def test_kerrison_2015_sms_reminder_trial_is_reproduced_to_published_rounding() -> None:
    # Kerrison RS et al. (2015) Br J Cancer 112:1005-1010: attended 327/456 SMS, 260/435 control;
    # published Pearson chi-square 14.12 and OR 1.71 (95% CI 1.29 to 2.26).
    result = compare_two_arms(327, 456, 260, 435)
    assert round(result.chi_square or 0.0, 2) == 14.12
    assert result.odds_ratio.estimate is not None
    assert round(result.odds_ratio.estimate, 2) == 1.71
    assert round(result.odds_ratio.ci_low or 0.0, 2) == 1.29
    assert round(result.odds_ratio.ci_high or 0.0, 2) == 2.26


def test_arm_with_zero_events_gives_defined_results_and_notes() -> None:
    result = compare_two_arms(0, 50, 5, 60)
    assert result.arm.proportion == 0.0
    assert result.arm.ci_low == 0.0
    assert result.risk_difference.ci_low is not None
    assert result.risk_ratio.estimate == 0.0
    assert result.risk_ratio.ci_low is None
    assert result.odds_ratio.estimate is None
    assert result.odds_ratio.note
    assert result.fisher_p is not None
    assert len(result.notes) == 2


def test_arm_with_all_events_gives_wilson_upper_limit_one() -> None:
    result = compare_two_arms(40, 40, 30, 45)
    assert result.arm.ci_high == 1.0
    assert result.odds_ratio.estimate is None
    assert result.risk_ratio.ci_high is not None


def test_everyone_with_the_same_outcome_leaves_chi_square_undefined() -> None:
    result = compare_two_arms(10, 10, 12, 12)
    assert result.chi_square is None
    assert result.chi_square_p is None
    assert result.fisher_p == 1.0
    assert result.risk_difference.estimate == 0.0
    assert any("chi-square" in note for note in result.notes)


def test_outcome_observed_for_nobody_returns_none_with_reason() -> None:
    assert wilson_interval(0, 0).proportion is None
    assert wilson_interval(0, 0).note
    result = compare_two_arms(0, 0, 3, 10)
    assert result.risk_difference.estimate is None
    assert result.risk_difference.note
    assert result.fisher_p is None
    assert result.chi_square is None


def test_impossible_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="events"):
        wilson_interval(5, 3)


@settings(deadline=None)
@given(
    n=st.integers(min_value=1, max_value=5000),
    data=st.data(),
    alpha=st.sampled_from([0.01, 0.05, 0.1, 0.2]),
)
def test_wilson_limits_have_score_test_p_equal_to_alpha(
    n: int, data: st.DataObject, alpha: float
) -> None:
    events = data.draw(st.integers(min_value=0, max_value=n))
    result = wilson_interval(events, n, alpha)
    p_hat = events / n
    for limit, at_edge in ((result.ci_low, events == 0), (result.ci_high, events == n)):
        assert limit is not None
        if at_edge:
            continue
        z = (p_hat - limit) / math.sqrt(limit * (1 - limit) / n)
        assert 2 * stats.norm.sf(abs(z)) == pytest.approx(alpha, rel=1e-6)


@settings(deadline=None)
@given(
    n1=st.integers(min_value=1, max_value=500),
    n2=st.integers(min_value=1, max_value=500),
    data=st.data(),
)
def test_newcombe_interval_contains_estimate_and_lies_within_minus_one_to_one(
    n1: int, n2: int, data: st.DataObject
) -> None:
    x1 = data.draw(st.integers(min_value=0, max_value=n1))
    x2 = data.draw(st.integers(min_value=0, max_value=n2))
    rd = compare_two_arms(x1, n1, x2, n2).risk_difference
    assert rd.estimate is not None and rd.ci_low is not None and rd.ci_high is not None
    assert -1.0 <= rd.ci_low <= rd.estimate <= rd.ci_high <= 1.0
