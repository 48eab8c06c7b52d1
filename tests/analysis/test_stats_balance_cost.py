"""Sample-ratio mismatch, standardised differences and cost per additional event."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from analysis.stats.balance import srm_check, standardised_mean_differences
from analysis.stats.cost import cost_per_additional_event
from analysis.stats.proportions import IntervalEstimate


def test_srm_p_value_matches_chisq_test(stats_reference: dict[str, Any]) -> None:
    ref = stats_reference["srm"]
    arms = ("control", "sms", "letter")
    equal = srm_check(
        dict(zip(arms, ref["counts"], strict=True)), dict(zip(arms, ref["weights"], strict=True))
    )
    assert equal.p_value == pytest.approx(ref["p_value"], abs=1e-4)
    assert not equal.flagged
    unequal = srm_check(
        dict(zip(arms, ref["counts2"], strict=True)), dict(zip(arms, ref["weights2"], strict=True))
    )
    assert unequal.p_value == pytest.approx(ref["p_value2"], abs=1e-4)
    assert unequal.expected["control"] == pytest.approx(1020.0)


def test_srm_flags_a_clear_mismatch() -> None:
    result = srm_check({"control": 1000, "sms": 1200}, {"control": 1, "sms": 1})
    assert result.flagged
    assert result.p_value < 0.001


def test_standardised_differences_use_the_pooled_sd_of_the_two_arms() -> None:
    frame = pd.DataFrame(
        {
            "arm": ["control"] * 4 + ["sms"] * 4,
            "age": [20, 30, 40, 50, 30, 40, 50, 60],
            "prior": [0, 0, 1, 1, 1, 1, 1, 0],
            "role": ["victim", "witness", "victim", None, "witness", "witness", "victim", "other"],
        }
    )
    rows = standardised_mean_differences(
        frame, arm="arm", control="control", covariates=["age", "prior", "role"]
    )
    by_key = {(r.covariate, r.level): r for r in rows}
    sd = math.sqrt((frame.age[:4].var() + frame.age[4:].var()) / 2)
    assert by_key[("age", None)].smd == pytest.approx(10 / sd)
    assert by_key[("prior", None)].smd == pytest.approx(0.25 / math.sqrt((0.25 + 0.1875) / 2))
    victim = by_key[("role", "victim")]
    assert victim.mean_control == pytest.approx(2 / 3)
    assert victim.mean_arm == pytest.approx(1 / 4)
    assert by_key[("role", "other")].mean_control == 0.0


def test_smd_of_a_constant_covariate_is_zero_or_explained() -> None:
    frame = pd.DataFrame({"arm": ["control", "control", "sms", "sms"], "x": [1, 1, 1, 1]})
    (row,) = standardised_mean_differences(frame, arm="arm", control="control", covariates=["x"])
    assert row.smd == 0.0


def test_cost_per_additional_event_transforms_the_risk_difference_interval() -> None:
    result = cost_per_additional_event(0.12, 0.0, IntervalEstimate(0.06, 0.03, 0.09))
    assert result.estimate == pytest.approx(2.0)
    assert result.ci_low == pytest.approx(0.12 / 0.09)
    assert result.ci_high == pytest.approx(4.0)


def test_cost_per_event_has_no_interval_when_the_effect_may_be_zero() -> None:
    result = cost_per_additional_event(0.12, 0.0, IntervalEstimate(0.02, -0.01, 0.05))
    assert result.estimate == pytest.approx(6.0)
    assert result.ci_low is None
    assert result.note


def test_cost_per_event_is_undefined_without_a_risk_difference() -> None:
    result = cost_per_additional_event(0.1, 0.0, IntervalEstimate(None, None, None, "no data"))
    assert result.estimate is None
    assert result.note == "no data"
