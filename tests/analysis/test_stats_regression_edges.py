"""Regression edge cases, and the vectorised CR2 against a dense textbook computation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from analysis.stats.iv import iv_robust
from analysis.stats.logistic import logistic_regression
from analysis.stats.regression import lm_robust


def dense_cr2(y: np.ndarray, x: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CR2 SEs and Bell-McCaffrey df straight from the N x N formulas (small n only)."""
    n = len(y)
    bread = np.linalg.inv(x.T @ x)
    hat = x @ bread @ x.T
    resid = y - hat @ y
    groups = [np.flatnonzero(clusters == g) for g in np.unique(clusters)]
    adjust = []
    for rows in groups:
        values, vectors = np.linalg.eigh(np.eye(len(rows)) - hat[np.ix_(rows, rows)])
        root = np.where(values > 1e-12, 1 / np.sqrt(np.clip(values, 1e-12, None)), 0.0)
        adjust.append((vectors * root) @ vectors.T)
    meat = sum(
        np.outer(x[r].T @ a @ resid[r], x[r].T @ a @ resid[r])
        for r, a in zip(groups, adjust, strict=True)
    )
    se = np.sqrt(np.diag(bread @ meat @ bread))
    df = []
    for j in range(x.shape[1]):
        g_mat = np.zeros((n, len(groups)))
        for col, (rows, a) in enumerate(zip(groups, adjust, strict=True)):
            g_mat[rows, col] = a @ x[rows] @ bread[:, j]
        m = g_mat.T @ (np.eye(n) - hat) @ g_mat
        df.append(np.trace(m) ** 2 / np.sum(m * m))
    return se, np.array(df)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_cr2_equals_the_dense_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 1, 1, 2, 2, 3, 5], size=60)
    clusters = np.repeat(rng.permutation(60), sizes)
    n = len(clusters)
    arm = rng.integers(0, 3, 60)[clusters]
    x = np.column_stack(
        [np.ones(n), arm == 1, arm == 2, rng.normal(size=n), rng.binomial(1, 0.3, n)]
    ).astype(float)
    y = rng.binomial(1, 0.5, n).astype(float)
    se, df = dense_cr2(y, x, clusters)
    fit = lm_robust(y, x, clusters=clusters)
    np.testing.assert_allclose([c.std_error for c in fit.coefficients], se, rtol=1e-9)
    np.testing.assert_allclose([c.df for c in fit.coefficients], df, rtol=1e-9)


def test_row_order_and_cluster_labels_do_not_change_the_fit() -> None:
    rng = np.random.default_rng(7)
    clusters = np.repeat(np.arange(40), rng.choice([1, 2, 3], size=40))
    n = len(clusters)
    x = np.column_stack([np.ones(n), rng.integers(0, 2, 40)[clusters]]).astype(float)
    y = rng.binomial(1, 0.4, n).astype(float)
    order = rng.permutation(n)
    labels = np.array([f"household-{c}" for c in clusters])
    a = lm_robust(y, x, clusters=clusters).coefficients[1]
    b = lm_robust(y[order], x[order], clusters=labels[order]).coefficients[1]
    assert b.std_error == pytest.approx(a.std_error, rel=1e-10)
    assert b.df == pytest.approx(a.df, rel=1e-10)


def test_collinear_and_constant_columns_raise_a_clear_error() -> None:
    rng = np.random.default_rng(0)
    n = 50
    age = rng.normal(40, 10, n)
    x = np.column_stack([np.ones(n), age, 2 * age, np.full(n, 3.0)])
    with pytest.raises(ValueError, match="collinear with earlier columns: twice_age, three"):
        lm_robust(rng.normal(size=n), x, terms=["(Intercept)", "age", "twice_age", "three"])
    with pytest.raises(ValueError, match="all zero: z"):
        lm_robust(rng.normal(size=n), np.column_stack([np.ones(n), np.zeros(n)]), terms=["1", "z"])


def test_single_cluster_per_arm_gives_no_test_rather_than_a_false_one() -> None:
    rng = np.random.default_rng(1)
    arm = np.repeat([0, 1, 2], 10)
    x = np.column_stack([np.ones(30), arm == 1, arm == 2]).astype(float)
    fit = lm_robust(rng.binomial(1, 0.5, 30).astype(float), x, clusters=arm)
    for c in fit.coefficients:
        assert c.p_value is None
        assert c.ci_low is None
        assert c.note and "degenerate" in c.note


def test_one_cluster_is_an_error() -> None:
    x = np.column_stack([np.ones(10), np.arange(10.0)])
    with pytest.raises(ValueError, match="at least 2 clusters"):
        lm_robust(np.arange(10.0), x, clusters=np.zeros(10))


def test_a_leverage_one_row_keeps_hc2_finite() -> None:
    rng = np.random.default_rng(3)
    n = 40
    rare = np.zeros(n)
    rare[0] = 1.0
    x = np.column_stack([np.ones(n), rng.integers(0, 2, n), rare])
    fit = lm_robust(rng.binomial(1, 0.5, n).astype(float), x)
    assert all(np.isfinite(c.std_error) for c in fit.coefficients)


def test_missing_values_in_the_design_are_rejected() -> None:
    x = np.column_stack([np.ones(5), [1.0, np.nan, 0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="finite"):
        lm_robust(np.ones(5), x)


def test_outcome_observed_for_nobody_is_rejected_with_a_reason() -> None:
    with pytest.raises(ValueError, match="more rows than columns"):
        lm_robust(np.empty(0), np.empty((0, 2)))


@pytest.mark.parametrize("events_in_arm", [0, 30])
def test_logistic_with_an_arm_of_all_or_no_events_returns_a_note_not_a_warning(
    events_in_arm: int,
) -> None:
    rng = np.random.default_rng(5)
    arm = np.repeat([0, 1], 30)
    y = np.where(arm == 1, 1.0 if events_in_arm else 0.0, rng.binomial(1, 0.5, 60))
    x = np.column_stack([np.ones(60), arm, rng.normal(size=60)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = logistic_regression(y, x, terms=["(Intercept)", "arm[sms]", "age"])
    assert fit.odds_ratios == ()
    assert fit.note and "separation" in fit.note
    assert fit.coefficient("arm[sms]") is None


def test_logistic_separated_by_a_continuous_covariate_returns_a_note() -> None:
    score = np.linspace(-1, 1, 40)
    y = (score > 0).astype(float)
    x = np.column_stack([np.ones(40), np.tile([0.0, 1.0], 20), score])
    fit = logistic_regression(y, x)
    assert fit.odds_ratios == ()
    assert fit.note


def test_iv_without_any_receipt_in_an_arm_is_not_identified() -> None:
    rng = np.random.default_rng(2)
    arm = np.repeat([0, 1, 2], 20)
    received = np.where(arm == 1, rng.binomial(1, 0.8, 60), 0).astype(float)
    nobody_received_letter = np.zeros(60)
    x = np.column_stack([np.ones(60), received, nobody_received_letter])
    z = np.column_stack([arm == 1, arm == 2]).astype(float)
    with pytest.raises(ValueError, match="do not identify"):
        iv_robust(
            rng.binomial(1, 0.5, 60).astype(float),
            x,
            z,
            endogenous=["recv_sms", "recv_letter"],
            terms=["(Intercept)", "recv_sms", "recv_letter"],
        )


def test_iv_with_the_whole_first_stage_given_equals_iv_with_the_excluded_instruments() -> None:
    rng = np.random.default_rng(4)
    n = 300
    clusters = rng.integers(0, 120, n)
    arm = rng.integers(0, 3, 120)[clusters]
    z = np.column_stack([arm == 1, arm == 2]).astype(float)
    age = rng.normal(40, 10, n)
    received = z * rng.binomial(1, 0.8, (n, 2))
    y = rng.binomial(1, 0.4 + 0.1 * received[:, 0], n).astype(float)
    x = np.column_stack([np.ones(n), received, age])
    first = np.column_stack([np.ones(n), z, age])
    terms = ["(Intercept)", "recv_sms", "recv_letter", "age"]
    common = {"endogenous": ["recv_sms", "recv_letter"], "terms": terms, "clusters": clusters}
    a = iv_robust(y, x, z, **common)  # type: ignore[arg-type]
    b = iv_robust(y, x, first, instruments_include_exogenous=True, **common)  # type: ignore[arg-type]
    for c, d in zip(a.coefficients, b.coefficients, strict=True):
        assert d.estimate == pytest.approx(c.estimate, rel=1e-10)
        assert d.std_error == pytest.approx(c.std_error, rel=1e-10)
        assert d.df == pytest.approx(c.df, rel=1e-10)
