"""Cluster-robust summaries against R (reference/clustered/make_reference.R: survey, estimatr)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.stats import lm_robust
from analysis.stats.bayes import bayes_comparison
from analysis.stats.clustered import (
    ArmUnits,
    cluster_design_effect,
    clustered_proportion,
    clustered_risk_ratio,
    cr2_difference,
    observed_icc,
    rao_scott_test,
    units_by_arm,
)

HERE = Path(__file__).parent / "reference" / "clustered"
ARMS = ("control", "sms", "letter")


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads((HERE / "clustered.json").read_text())


@pytest.fixture(scope="module")
def units() -> dict[str, ArmUnits]:
    """Each arm's unit totals on the complete cases of clustered.csv."""
    data = pd.read_csv(HERE / "clustered.csv").dropna(subset=["attended"])
    arm = pd.Categorical(data["arm"], categories=list(ARMS)).codes.astype(np.intp)
    unit = pd.factorize(data["unit"])[0].astype(np.intp)
    found = units_by_arm(data["attended"].to_numpy(float), arm, unit, len(ARMS))
    return dict(zip(ARMS, found, strict=True))


@pytest.mark.parametrize("arm", ARMS)
def test_an_arms_interval_is_wilson_at_the_korn_graubard_effective_size(
    arm: str, units: dict[str, ArmUnits], reference: dict[str, Any]
) -> None:
    ours, r = clustered_proportion(units[arm]), reference["arms"][arm]
    assert (ours.estimate.n, ours.estimate.events, ours.units) == (
        r["n"],
        r["events"],
        r["clusters"],
    )
    assert ours.variance == pytest.approx(r["variance"], rel=1e-9)
    assert ours.design_effect == pytest.approx(r["design_effect"], rel=1e-9)
    assert ours.effective_n == pytest.approx(r["effective_n"], rel=1e-9)
    assert ours.estimate.ci_low == pytest.approx(r["ci_low"], rel=1e-9)
    assert ours.estimate.ci_high == pytest.approx(r["ci_high"], rel=1e-9)


def test_a_design_effect_below_one_is_floored_at_one(
    units: dict[str, ArmUnits], reference: dict[str, Any]
) -> None:
    assert reference["arms"]["sms"]["design_effect_raw"] < 1.0
    assert clustered_proportion(units["sms"]).design_effect == 1.0


@pytest.mark.parametrize("arm", ["sms", "letter"])
def test_the_unadjusted_difference_is_estimatrs_cr2_model_without_covariates(
    arm: str, units: dict[str, ArmUnits], reference: dict[str, Any]
) -> None:
    ours, r = cr2_difference(units[arm], units["control"]), reference["cr2_difference"][arm]
    assert ours.estimate == pytest.approx(r["estimate"], rel=1e-9)
    assert ours.std_error == pytest.approx(r["std_error"], rel=1e-9)
    assert ours.df == pytest.approx(r["df"], rel=1e-9)
    assert ours.interval.ci_low == pytest.approx(r["ci_low"], rel=1e-9)
    assert ours.interval.ci_high == pytest.approx(r["ci_high"], rel=1e-9)
    assert ours.p_value == pytest.approx(r["p_value"], rel=1e-9)


def test_the_closed_form_cr2_difference_equals_lm_robust_on_uneven_units() -> None:
    rng = np.random.default_rng(7)
    unit = np.repeat(np.arange(60), rng.integers(1, 7, 60))
    arm = (unit % 3).astype(np.intp)
    y = rng.binomial(1, 0.3 + 0.1 * arm).astype(float)
    found = units_by_arm(y, arm, unit.astype(np.intp), 3)
    x = np.column_stack([np.ones(y.size), arm == 1, arm == 2]).astype(float)
    fit = lm_robust(y, x, terms=["(Intercept)", "a1", "a2"], clusters=unit)
    for k, term in ((1, "a1"), (2, "a2")):
        ours, theirs = cr2_difference(found[k], found[0]), fit.coefficient(term)
        assert ours.std_error == pytest.approx(theirs.std_error, rel=1e-10)
        assert ours.df == pytest.approx(theirs.df, rel=1e-8)
        assert ours.interval.ci_low == pytest.approx(theirs.ci_low, rel=1e-8)


@pytest.mark.parametrize("arm", ["sms", "letter"])
def test_the_chi_square_is_rao_scott_corrected_as_svychisq(
    arm: str, units: dict[str, ArmUnits], reference: dict[str, Any]
) -> None:
    ours, r = rao_scott_test(units[arm], units["control"]), reference["rao_scott"][arm]
    assert ours.pearson == pytest.approx(r["pearson"], rel=1e-9)
    assert ours.design_effect == pytest.approx(r["design_effect"], rel=1e-9)
    assert ours.statistic == pytest.approx(r["statistic"], rel=1e-9)
    assert ours.ddf == r["ddf"]
    assert ours.p_value == pytest.approx(r["p_value"], rel=1e-9)


@pytest.mark.parametrize("arm", ["sms", "letter"])
def test_the_risk_ratio_interval_is_svyglms_quasi_poisson_on_the_cluster_design(
    arm: str, units: dict[str, ArmUnits], reference: dict[str, Any]
) -> None:
    ours, r = clustered_risk_ratio(units[arm], units["control"]), reference["risk_ratio"][arm]
    assert ours.estimate == pytest.approx(r["estimate"], rel=1e-9)
    assert ours.ci_low == pytest.approx(r["ci_low"], rel=1e-9)
    assert ours.ci_high == pytest.approx(r["ci_high"], rel=1e-9)


@pytest.mark.parametrize("arm", ["sms", "letter"])
def test_the_probability_to_beat_control_uses_effective_counts(
    arm: str, reference: dict[str, Any]
) -> None:
    a, c, r = reference["arms"][arm], reference["arms"]["control"], reference["bayes"][arm]
    ours = bayes_comparison(
        a["events"], a["n"], c["events"], c["n"],
        deff_arm=a["design_effect"], deff_control=c["design_effect"],
    )  # fmt: skip
    assert ours.prob_better == pytest.approx(r["prob_better"], abs=1e-9)
    assert ours.expected_loss == pytest.approx(r["expected_loss"], abs=1e-9)
    assert "effective counts" in ours.prior


def test_the_observed_icc_is_the_anova_estimator_with_arms_fixed(
    units: dict[str, ArmUnits], reference: dict[str, Any]
) -> None:
    ours, r = observed_icc(tuple(units.values())), reference["icc"]
    assert ours.icc == pytest.approx(r["icc"], rel=1e-9)
    assert ours.size_weighted_mean == pytest.approx(r["size_weighted_mean"], rel=1e-12)
    assert cluster_design_effect(ours.icc, ours.size_weighted_mean) == pytest.approx(
        r["design_effect"], rel=1e-9
    )


def one_unit(events: int, size: int) -> ArmUnits:
    return ArmUnits(np.array([float(events)]), np.array([float(size)]))


def test_an_arm_that_is_a_single_unit_gets_no_interval_test_or_probability() -> None:
    single, control = one_unit(9, 12), ArmUnits(np.array([3.0, 4.0, 2.0]), np.array([6.0] * 3))
    rate = clustered_proportion(single)
    assert rate.estimate.proportion == 0.75 and rate.estimate.ci_low is None
    assert "fewer than 2 randomisation units" in (rate.estimate.note or "")
    difference = cr2_difference(single, control)
    assert difference.estimate == pytest.approx(0.75 - 0.5)
    assert difference.interval.ci_low is None and difference.p_value is None
    assert clustered_risk_ratio(single, control).ci_low is None
    assert rao_scott_test(single, control).p_value is None


def test_an_outcome_without_variation_gets_no_degenerate_ratio_interval() -> None:
    full = ArmUnits(np.array([3.0, 2.0]), np.array([3.0, 2.0]))
    ratio = clustered_risk_ratio(full, full)
    assert ratio.estimate == 1.0 and ratio.ci_low is None and ratio.ci_high is None
    assert "standard error is 0" in (ratio.note or "")
