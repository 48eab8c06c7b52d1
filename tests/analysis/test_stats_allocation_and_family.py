"""Power with unequal allocation and clustering, the pre-registered Holm family, costs of harm.

Reference values: reference/clustered/make_reference.R (uniroot on the power function and
p.adjust with n = family size).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats import bayes_comparison, compare_two_arms
from analysis.stats.cost import CostStatus, cost_per_additional_event
from analysis.stats.multiplicity import adjust_p_values
from analysis.stats.power import (
    minimum_detectable_effect,
    power_two_proportions,
    sample_size_two_proportions,
)
from analysis.stats.proportions import IntervalEstimate

HERE = Path(__file__).parent / "reference" / "clustered"


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads((HERE / "clustered.json").read_text())


@pytest.mark.parametrize("case", ["equal", "half", "double"])
def test_sample_size_follows_the_allocation_ratio(reference: dict[str, Any], case: str) -> None:
    r = reference["power"][case]
    ours = sample_size_two_proportions(r["baseline"], r["effect"], ratio=r["ratio"])
    assert ours.n_exact == pytest.approx(r["n_control"], rel=1e-8)
    assert ours.n_treated == int(-(-r["ratio"] * r["n_control"] // 1))


def test_equal_allocation_is_still_power_prop_test(reference: dict[str, Any]) -> None:
    r = reference["power"]["equal"]
    assert sample_size_two_proportions(0.75, 0.05).n_exact == pytest.approx(
        r["power_prop_test"], rel=1e-8
    )


def test_a_smaller_arm_needs_a_larger_control_than_one_to_one(reference: dict[str, Any]) -> None:
    assert reference["power"]["half"]["n_control"] > reference["power"]["equal"]["n_control"]


def test_the_detectable_effect_follows_unequal_arms(reference: dict[str, Any]) -> None:
    r = reference["power"]["mde_unequal"]
    ours = minimum_detectable_effect(r["n_control"], r["baseline"], ratio=r["ratio"])
    assert ours.effect == pytest.approx(r["effect"], rel=1e-7)


def test_the_detectable_effect_uses_effective_sizes_under_clustering(
    reference: dict[str, Any],
) -> None:
    r = reference["power"]["mde_clustered"]
    ours = minimum_detectable_effect(300 / r["design_effect"], r["baseline"])
    assert ours.effect == pytest.approx(r["effect"], rel=1e-7)


@settings(deadline=None)
@given(
    baseline=st.floats(min_value=0.05, max_value=0.85),
    effect=st.floats(min_value=0.02, max_value=0.1),
    ratio=st.floats(min_value=0.2, max_value=5.0),
)
def test_unequal_sample_size_and_detectable_effect_round_trip(
    baseline: float, effect: float, ratio: float
) -> None:
    size = sample_size_two_proportions(baseline, effect, ratio=ratio)
    reached = power_two_proportions(size.n_exact, baseline, baseline + effect, ratio=ratio)
    assert reached == pytest.approx(0.8, rel=1e-9)
    back = minimum_detectable_effect(size.n_exact, baseline, ratio=ratio)
    assert back.effect == pytest.approx(effect, rel=1e-7)


@pytest.mark.parametrize("method", ["holm", "bonferroni"])
def test_an_untestable_comparison_still_counts_in_the_preregistered_family(
    reference: dict[str, Any], method: str
) -> None:
    r = reference["holm_family"]
    ours = adjust_p_values([r["p"][0], None, r["p"][1]], method, family_size=r["family"])
    assert ours[1] is None
    assert [ours[0], ours[2]] == pytest.approx(r[method], abs=1e-12)


def test_a_family_smaller_than_the_p_values_given_is_refused() -> None:
    with pytest.raises(ValueError, match="family_size"):
        adjust_p_values([0.01, 0.02, 0.03], "holm", family_size=2)


def test_a_harmful_arm_that_costs_more_has_no_cost_per_extra_event() -> None:
    fewer = IntervalEstimate(-0.1, -0.15, -0.05)
    cost = cost_per_additional_event(0.5, 0.0, fewer)
    assert (cost.estimate, cost.ci_low, cost.ci_high) == (None, None, None)
    assert cost.status is CostStatus.HARMFUL and cost.incremental_cost == 0.5
    assert cost.note == (
        "not applicable: the arm had fewer events than control and cost more per participant"
    )


def test_a_harmful_arm_that_saves_money_is_not_called_a_cost_per_extra_event() -> None:
    cost = cost_per_additional_event(0.0, 0.4, IntervalEstimate(-0.1, -0.15, -0.05))
    assert cost.estimate is None and cost.status is CostStatus.HARMFUL
    assert "cost less per participant (a saving, bought with fewer events)" in (cost.note or "")


def test_an_arm_with_more_events_for_no_more_money_is_dominant() -> None:
    cost = cost_per_additional_event(0.0, 0.0, IntervalEstimate(0.1, 0.05, 0.15))
    assert cost.estimate is None and cost.status is CostStatus.DOMINANT
    assert cost.incremental_cost == 0.0 and str(cost.incremental_cost) == "0.0"


def test_a_zero_cost_difference_is_never_negative_zero() -> None:
    cost = cost_per_additional_event(0.2, 0.2, IntervalEstimate(-0.1, -0.2, 0.01))
    assert str(cost.incremental_cost) == "0.0"


def test_everyone_with_the_event_in_both_arms_gives_no_risk_ratio_interval() -> None:
    two = compare_two_arms(30, 30, 40, 40)
    assert two.risk_ratio.estimate == 1.0
    assert (two.risk_ratio.ci_low, two.risk_ratio.ci_high) == (None, None)
    assert "standard error is 0" in (two.risk_ratio.note or "")


def test_when_fewer_events_are_better_the_bayesian_summaries_turn_round() -> None:
    """P(arm below control) is 1 - P(arm above), and the two expected losses differ by the
    posterior means' difference: E[(c - a)+] - E[(a - c)+] = E[c - a]."""
    higher = bayes_comparison(30, 100, 40, 100)
    lower = bayes_comparison(70, 100, 60, 100)  # the same arms, counting events not had
    assert lower.prob_better == pytest.approx(1.0 - higher.prob_better, abs=1e-12)
    mean_arm, mean_control = 31 / 102, 41 / 102
    assert higher.expected_loss - lower.expected_loss == pytest.approx(
        mean_control - mean_arm, abs=1e-12
    )


def test_when_fewer_events_are_better_the_cost_is_per_event_avoided() -> None:
    fewer = IntervalEstimate(-0.10, -0.15, -0.05)
    cost = cost_per_additional_event(0.30, 0.10, fewer, lower_is_better=True)
    assert (cost.per, cost.status) == ("event avoided", CostStatus.ESTIMATED)
    assert (cost.estimate, cost.ci_low, cost.ci_high) == pytest.approx((2.0, 0.2 / 0.15, 4.0))
    more = cost_per_additional_event(
        0.30, 0.10, IntervalEstimate(0.1, 0.05, 0.15), lower_is_better=True
    )
    assert more.status == CostStatus.HARMFUL and more.estimate is None
    assert (
        more.note
        == "not applicable: the arm had more events than control and cost more per participant"
    )
