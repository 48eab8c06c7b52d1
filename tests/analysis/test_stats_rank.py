"""Rank and aliasing as R decides them, on the centred design; offset covariates estimated.

References: tests/analysis/reference/awkward/reference.json, made by make_reference.R there
(R 4.2.2, estimatr 1.0.0, sandwich 3.0.2, lmtest 0.9.40) from aliased.csv, which
make_data.py there simulates. One check is against an exact rational computation instead,
because R's own value for a date covariate is accurate to only about 2e-7.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.stats.design import build_design
from analysis.stats.logistic import LogisticFit, logistic_regression
from analysis.stats.rank import column_rank
from analysis.stats.regression import RobustFit, lm_robust
from tests.analysis.test_stats_reference_models import r_term, receipt_fit

AWKWARD = Path(__file__).parent / "reference" / "awkward"
RTOL = 1e-6
P_ATOL = 1e-4


@pytest.fixture(scope="module")
def aliased_trial() -> pd.DataFrame:
    frame = pd.read_csv(AWKWARD / "aliased.csv")
    frame["arm"] = pd.Categorical(frame["arm"], ["control", "sms", "letter"])
    frame["recv_sms"] = ((frame["arm"] == "sms") & (frame["delivered"] == 1)).astype(int)
    frame["recv_letter"] = ((frame["arm"] == "letter") & (frame["delivered"] == 1)).astype(int)
    return frame


def by_r_term(fit_terms: tuple[str, ...], expected: dict[str, Any]) -> list[int]:
    """Positions in R's output of our terms, which come in a different order."""
    assert sorted(r_term(t) for t in fit_terms) == sorted(expected["term"])
    return [expected["term"].index(r_term(t)) for t in fit_terms]


def assert_robust_fit_matches(
    fit: RobustFit, expected: dict[str, Any], fields: tuple[str, ...]
) -> None:
    order = by_r_term(fit.terms, expected)
    for name in fields:
        ours = np.array([getattr(c, name) for c in fit.coefficients], dtype=float)
        theirs = np.array(expected[name], dtype=float)[order]
        if name == "p_value":
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=P_ATOL, err_msg=name)
        else:
            np.testing.assert_allclose(ours, theirs, rtol=RTOL, err_msg=name)


def assert_logistic_matches(fit: LogisticFit, expected: dict[str, Any]) -> None:
    assert fit.note is None
    order = by_r_term(tuple(c.term for c in fit.odds_ratios), expected)
    rows = fit.odds_ratios

    def theirs(name: str) -> np.ndarray:
        return np.array(expected[name], dtype=float)[order]

    np.testing.assert_allclose([c.log_odds for c in rows], theirs("estimate"), rtol=RTOL)
    np.testing.assert_allclose([c.std_error for c in rows], theirs("std_error"), rtol=RTOL)
    np.testing.assert_allclose([c.p_value for c in rows], theirs("p_value"), atol=P_ATOL)
    # The interval on the log-odds scale; an intercept beside a date has odds of 0 or inf.
    slopes = [j for j, c in enumerate(rows) if c.term != "(Intercept)"]
    low = [math.log(rows[j].ci_low) for j in slopes]
    np.testing.assert_allclose(low, theirs("ci_low")[slopes], rtol=RTOL)


# The rank function itself.


def test_a_date_as_yyyymmdd_is_independent_of_the_intercept() -> None:
    rng = np.random.default_rng(1)
    n = 2_000
    date = 20260105.0 + rng.integers(0, 365, n)
    x = np.column_stack([np.ones(n), rng.integers(0, 2, n), date])
    assert column_rank(x).aliased == ()


def test_a_constant_offset_column_is_aliased_with_the_intercept() -> None:
    n = 500
    x = np.column_stack([np.ones(n), np.arange(n) % 2, np.full(n, 20260105.0)])
    assert column_rank(x).aliased == (2,)


def test_a_linear_function_of_an_earlier_column_is_aliased_and_the_earlier_kept() -> None:
    rng = np.random.default_rng(2)
    n = 300
    age = rng.normal(40, 12, n).round()
    x = np.column_stack([np.ones(n), age, 12 * age + 6, rng.normal(size=n)])
    rank = column_rank(x)
    assert (rank.independent, rank.aliased, rank.intercept) == ((0, 1, 3), (2,), 0)


def test_priority_decides_which_of_two_aliased_columns_is_dropped() -> None:
    rng = np.random.default_rng(3)
    n = 300
    age = rng.normal(40, 12, n).round()
    x = np.column_stack([np.ones(n), age, 12 * age + 6])
    assert column_rank(x, priority=[0, 2, 1]).aliased == (1,)


def test_a_dummy_set_summing_to_the_intercept_loses_its_last_member() -> None:
    level = np.repeat([0, 1, 2], 50)
    x = np.column_stack([np.ones(150), level == 0, level == 1, level == 2]).astype(float)
    assert column_rank(x).aliased == (3,)


def test_without_an_intercept_rank_is_decided_on_the_uncentred_columns() -> None:
    level = np.repeat([0, 1, 2], 50)
    x = np.column_stack([level == 0, level == 1, level == 2, np.zeros(150)]).astype(float)
    rank = column_rank(x)
    assert (rank.intercept, rank.aliased) == (None, (3,))


def test_an_offset_collinear_with_another_offset_is_still_found() -> None:
    rng = np.random.default_rng(4)
    n = 5_000
    date = 20260105.0 + rng.integers(0, 365, n)
    x = np.column_stack([np.ones(n), date, date + 0.5 * (np.arange(n) % 2), date - 10.0])
    assert column_rank(x).aliased == (3,)


# The strict models accept and estimate offset covariates accurately.


def attendance_fit(model: Any, trial: pd.DataFrame, design: Any, clustered: bool) -> Any:
    """`model` (lm_robust or logistic_regression) of attendance on `design`, with standard
    errors clustered by household or not."""
    clusters = trial["household"] if clustered else None
    return model(trial["attended"], design.x, terms=design.terms, clusters=clusters)


def offset_design(trial: pd.DataFrame):
    return build_design(
        trial,
        arm="arm",
        control="control",
        covariates=["age", "hearing_date", "district"],
        strata="court",
    )


@pytest.mark.parametrize(("key", "clustered"), [("offset_lm_hc2", False), ("offset_lm_cr2", True)])
def test_lm_robust_accepts_a_date_covariate_and_matches_r_intercept_included(
    awkward: dict[str, Any], aliased_trial: pd.DataFrame, key: str, clustered: bool
) -> None:
    fit = attendance_fit(lm_robust, aliased_trial, offset_design(aliased_trial), clustered)
    fields = ("estimate", "std_error", "df", "ci_low", "ci_high", "p_value")
    assert_robust_fit_matches(fit, awkward[key], fields)


def test_hc2_with_a_date_covariate_equals_the_exact_rational_computation(
    aliased_trial: pd.DataFrame,
) -> None:
    rows = aliased_trial.iloc[:120]
    design = offset_design(rows)
    y = rows["attended"].to_numpy(dtype=float)
    fit = lm_robust(y, design.x, terms=design.terms)
    np.testing.assert_allclose(
        [c.std_error for c in fit.coefficients], exact_hc2_se(design.x, y), rtol=1e-10
    )


def exact_hc2_se(x: np.ndarray, y: np.ndarray) -> list[float]:
    """HC2 standard errors in exact rational arithmetic (integer-valued data only)."""
    n, k = x.shape
    xs = [[Fraction(int(v)) for v in row] for row in x]
    ys = [Fraction(int(v)) for v in y]
    xtx = [[sum(r[a] * r[b] for r in xs) for b in range(k)] for a in range(k)]
    bread = rational_inverse(xtx)
    xty = [sum(r[a] * v for r, v in zip(xs, ys, strict=True)) for a in range(k)]
    beta = [sum(bread[a][b] * xty[b] for b in range(k)) for a in range(k)]
    vcov = [[Fraction(0)] * k for _ in range(k)]
    for r, v in zip(xs, ys, strict=True):
        bx = [sum(bread[a][b] * r[b] for b in range(k)) for a in range(k)]
        resid = v - sum(r[j] * beta[j] for j in range(k))
        weight = resid * resid / (1 - sum(r[a] * bx[a] for a in range(k)))
        for a in range(k):
            for b in range(k):
                vcov[a][b] += weight * bx[a] * bx[b]
    return [math.sqrt(vcov[j][j]) for j in range(k)]


def rational_inverse(matrix: list[list[Fraction]]) -> list[list[Fraction]]:
    m = len(matrix)
    rows = [row[:] + [Fraction(int(i == j)) for j in range(m)] for i, row in enumerate(matrix)]
    for c in range(m):
        pivot = next(r for r in range(c, m) if rows[r][c] != 0)
        rows[c], rows[pivot] = rows[pivot], rows[c]
        rows[c] = [v / rows[c][c] for v in rows[c]]
        for r in range(m):
            if r != c and rows[r][c] != 0:
                factor = rows[r][c]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[c], strict=True)]
    return [row[m:] for row in rows]


@pytest.mark.parametrize(
    ("key", "clustered"), [("offset_logit_model", False), ("offset_logit_cluster", True)]
)
def test_logistic_accepts_a_date_covariate_and_matches_glm(
    awkward: dict[str, Any], aliased_trial: pd.DataFrame, key: str, clustered: bool
) -> None:
    design = offset_design(aliased_trial)
    fit = attendance_fit(logistic_regression, aliased_trial, design, clustered)
    assert_logistic_matches(fit, awkward[key])


def test_a_steep_district_effect_is_not_mistaken_for_separation(
    awkward: dict[str, Any], aliased_trial: pd.DataFrame
) -> None:
    expected = awkward["steep_logit_model"]
    assert expected["estimate"][0] < -20  # the intercept, on the raw district number
    design = build_design(
        aliased_trial, arm="arm", control="control", covariates=["age", "district"], strata="court"
    )
    fit = logistic_regression(aliased_trial["attended_steep"], design.x, terms=design.terms)
    assert_logistic_matches(fit, expected)


def test_iv_accepts_a_date_covariate_and_matches_iv_robust(
    awkward: dict[str, Any], aliased_trial: pd.DataFrame
) -> None:
    fit = receipt_fit(aliased_trial, ["age", "hearing_date", "district"], clustered=True)
    assert_robust_fit_matches(fit, awkward["offset_iv_cr2"], ("estimate", "std_error"))


# The design drops aliased columns as R's lm does, and the models then match R.


def redundant_design(trial: pd.DataFrame):
    return build_design(
        trial,
        arm="arm",
        control="control",
        covariates=["court_cov", "age", "age_months", "court_size"],
        strata="court",
        outcome="attended",
    )


def test_the_design_drops_the_columns_r_drops_covariates_before_strata(
    awkward: dict[str, Any], aliased_trial: pd.DataFrame
) -> None:
    design = redundant_design(aliased_trial)
    assert [r_term(t) for t in design.aliased] == awkward["aliased_by_lm"]
    assert awkward["aliased_by_glm"] == awkward["aliased_by_lm"]
    assert design.terms == (
        "(Intercept)",
        "arm[sms]",
        "arm[letter]",
        "age",
        "court[north]",
        "court[south]",
        "court[west]",
    )


@pytest.mark.parametrize(
    ("key", "clustered"), [("aliased_lm_hc2", False), ("aliased_lm_cr2", True)]
)
def test_lm_robust_on_the_reduced_design_matches_r(
    awkward: dict[str, Any], aliased_trial: pd.DataFrame, key: str, clustered: bool
) -> None:
    design = redundant_design(aliased_trial)
    fit = attendance_fit(lm_robust, aliased_trial, design, clustered)
    fields = ("estimate", "std_error", "df", "ci_low", "ci_high", "p_value")
    assert_robust_fit_matches(fit, awkward[key], fields)


@pytest.mark.parametrize(
    ("key", "clustered"), [("aliased_logit_model", False), ("aliased_logit_cluster", True)]
)
def test_logistic_on_the_reduced_design_matches_glm(
    awkward: dict[str, Any], aliased_trial: pd.DataFrame, key: str, clustered: bool
) -> None:
    design = redundant_design(aliased_trial)
    fit = attendance_fit(logistic_regression, aliased_trial, design, clustered)
    assert_logistic_matches(fit, awkward[key])
    if clustered:
        assert {c.df for c in fit.odds_ratios} == {aliased_trial["household"].nunique() - 1}


def test_the_strict_models_still_refuse_an_aliased_design_naming_the_columns(
    aliased_trial: pd.DataFrame,
) -> None:
    age = aliased_trial["age"].to_numpy(dtype=float)
    x = np.column_stack([np.ones(len(age)), age, 12 * age + 6])
    terms = ["(Intercept)", "age", "age_months"]
    for fit in (lm_robust, logistic_regression):
        with pytest.raises(ValueError, match="collinear with earlier columns: age_months"):
            fit(aliased_trial["attended"], x, terms=terms)


def test_the_designs_cross_product_is_that_of_its_reduced_matrix(
    aliased_trial: pd.DataFrame,
) -> None:
    design = redundant_design(aliased_trial)
    assert design.cross_product is not None
    np.testing.assert_allclose(design.cross_product, design.x.T @ design.x, rtol=1e-12)
    y = aliased_trial["attended"]
    given = lm_robust(y, design.x, terms=design.terms, cross_product=design.cross_product)
    computed = lm_robust(y, design.x, terms=design.terms)
    for a, b in zip(given.coefficients, computed.coefficients, strict=True):
        assert a.std_error == pytest.approx(b.std_error, rel=1e-12)
