"""Sample size and detectable effect against R power.prop.test, and their round trip."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats.power import (
    minimum_detectable_effect,
    power_two_proportions,
    sample_size_two_proportions,
)


def test_sample_size_matches_power_prop_test(stats_reference: dict[str, Any]) -> None:
    for case in stats_reference["power"]["n_cases"]:
        ours = sample_size_two_proportions(
            case["p1"], case["p2"] - case["p1"], alpha=case["alpha"], power=case["power"]
        )
        assert ours.n_exact == pytest.approx(case["n"], rel=1e-6)
        assert ours.n_per_arm == int(-(-case["n"] // 1))


def test_detectable_rate_matches_power_prop_test(stats_reference: dict[str, Any]) -> None:
    for case in stats_reference["power"]["p2_cases"]:
        ours = minimum_detectable_effect(
            case["n"], case["p1"], alpha=case["alpha"], power=case["power"]
        )
        assert ours.treated == pytest.approx(case["p2"], rel=1e-6)


def test_power_matches_power_prop_test(stats_reference: dict[str, Any]) -> None:
    for case in stats_reference["power"]["power_cases"]:
        ours = power_two_proportions(case["n"], case["p1"], case["p2"], case["alpha"])
        assert ours == pytest.approx(case["power"], rel=1e-6)


def test_undetectable_effect_returns_none_with_reason() -> None:
    result = minimum_detectable_effect(2, 0.9, power=0.99)
    assert result.effect is None
    assert result.note


def test_zero_effect_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        sample_size_two_proportions(0.5, 0.0)


@settings(deadline=None)
@given(
    baseline=st.floats(min_value=0.05, max_value=0.9),
    effect=st.floats(min_value=0.01, max_value=0.09),
    power=st.floats(min_value=0.5, max_value=0.95),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_sample_size_and_detectable_effect_round_trip(
    baseline: float, effect: float, power: float, alpha: float
) -> None:
    size = sample_size_two_proportions(baseline, effect, alpha=alpha, power=power)
    assert power_two_proportions(size.n_exact, baseline, size.treated, alpha) == pytest.approx(
        power, rel=1e-9
    )
    back = minimum_detectable_effect(size.n_exact, baseline, alpha=alpha, power=power)
    assert back.effect == pytest.approx(effect, rel=1e-7)
    rounded = minimum_detectable_effect(size.n_per_arm, baseline, alpha=alpha, power=power)
    assert rounded.effect is not None and rounded.effect <= effect + 1e-12
