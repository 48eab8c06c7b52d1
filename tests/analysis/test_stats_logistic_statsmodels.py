"""The Newton-Raphson logistic fit agrees with statsmodels' GLM, an independent implementation.

The analysis uses statsmodels' proportion intervals and power, but not its GLM, whose IRLS
was too slow for a large trial (BENCHMARKS.md): the GLM is the cross-check here, to 1e-8, on
unclustered and clustered data (its cluster covariance has Stata's small-sample factor,
the same as ``sandwich::vcovCL(type = "HC1")``), and on separated data, where both must
fail to give a finite maximum likelihood estimate.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from analysis.stats.logistic import SEPARATION_LOG_ODDS, logistic_regression

RTOL = 1e-8


def simulated_trial(
    seed: int, n: int, arms: int, clusters: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A trial with arms, a numeric and a binary covariate, and optional clusters."""
    rng = np.random.default_rng(seed)
    unit = np.arange(n) if clusters is None else rng.integers(0, clusters, n)
    arm = rng.integers(0, arms, unit.max() + 1)[unit]
    age = rng.normal(45, 15, n)
    prior = rng.binomial(1, 0.25, n)
    logit = -0.3 + 0.25 * arm - 0.01 * (age - 45) - 0.6 * prior
    y = rng.binomial(1, 1 / (1 + np.exp(-logit))).astype(float)
    dummies = [(arm == a).astype(float) for a in range(1, arms)]
    x = np.column_stack([np.ones(n), *dummies, age, prior])
    return y, x, (None if clusters is None else unit)


def statsmodels_fit(
    y: np.ndarray, x: np.ndarray, clusters: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    model = sm.GLM(y, x, family=sm.families.Binomial())
    if clusters is None:
        result = model.fit(tol=1e-14, maxiter=100)
    else:
        result = model.fit(
            tol=1e-14, maxiter=100, cov_type="cluster", cov_kwds={"groups": clusters}
        )
    return np.asarray(result.params), np.asarray(result.bse)


@pytest.mark.parametrize(
    ("seed", "n", "arms", "clusters"),
    [
        (1, 400, 2, None),
        (2, 5_000, 4, None),
        (3, 3_000, 3, 1_200),
        (4, 20_000, 4, 12_000),
        (5, 150, 3, 40),
    ],
)
def test_estimates_and_standard_errors_equal_statsmodels(
    seed: int, n: int, arms: int, clusters: int | None
) -> None:
    y, x, groups = simulated_trial(seed, n, arms, clusters)
    fit = logistic_regression(y, x, clusters=groups)
    params, bse = statsmodels_fit(y, x, groups)
    assert fit.note is None
    np.testing.assert_allclose([c.log_odds for c in fit.odds_ratios], params, rtol=RTOL)
    np.testing.assert_allclose([c.std_error for c in fit.odds_ratios], bse, rtol=RTOL)
    assert fit.n_clusters == (None if groups is None else len(np.unique(groups)))


def test_a_rare_outcome_still_matches_statsmodels() -> None:
    rng = np.random.default_rng(9)
    n = 50_000
    arm = rng.integers(0, 2, n)
    y = rng.binomial(1, np.where(arm == 1, 0.004, 0.002)).astype(float)
    x = np.column_stack([np.ones(n), arm.astype(float), rng.normal(size=n)])
    fit = logistic_regression(y, x)
    params, bse = statsmodels_fit(y, x, None)
    np.testing.assert_allclose([c.log_odds for c in fit.odds_ratios], params, rtol=RTOL)
    np.testing.assert_allclose([c.std_error for c in fit.odds_ratios], bse, rtol=RTOL)


def statsmodels_finds_no_finite_estimate(y: np.ndarray, x: np.ndarray) -> bool:
    """What the analysis used to conclude from statsmodels: a warning, or no finite MLE."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sm.GLM(y, x, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=100)
    too_large = np.max(np.abs(result.params)) > SEPARATION_LOG_ODDS
    return bool(caught) or not result.converged or bool(too_large)


@pytest.mark.parametrize(
    "case", ["complete by a covariate", "quasi-complete by a covariate", "zero events in a level"]
)
def test_separated_data_give_a_note_where_statsmodels_finds_no_estimate(case: str) -> None:
    rng = np.random.default_rng(11)
    n = 300
    score = rng.normal(size=n)
    arm = rng.integers(0, 2, n).astype(float)
    if case == "complete by a covariate":
        y = (score > 0).astype(float)
    elif case == "quasi-complete by a covariate":
        score = np.round(score)  # ties at 0 have both outcomes; above 0 all 1, below all 0
        y = np.where(score > 0, 1.0, np.where(score < 0, 0.0, rng.binomial(1, 0.5, n)))
    else:
        y = np.where(arm == 1.0, 0.0, rng.binomial(1, 0.5, n))
    x = np.column_stack([np.ones(n), arm, score])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = logistic_regression(y, x, terms=["(Intercept)", "arm[sms]", "score"])
    assert statsmodels_finds_no_finite_estimate(y, x)
    assert fit.odds_ratios == ()
    assert fit.note is not None and "not estimable" in fit.note
