"""Logistic regression for a binary outcome: odds ratios with Wald intervals.

Without clusters the standard errors are the model-based ones (inverse Fisher information,
as R ``summary.glm``). With clusters they are cluster-robust with the small-sample factor
``G/(G-1) * (N-1)/(N-k)``, as Stata and R ``sandwich::vcovCL(type = "HC1")``; intervals and
p-values are normal-based Wald, as ``lmtest::coeftest`` gives for a glm.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy import stats

from analysis.stats import cr2
from analysis.stats._types import ArrayLike, FloatArray
from analysis.stats.regression import as_design, inverse_cross_product, term_names

# A fitted |log-odds| beyond this means the likelihood is flat along a separating direction.
SEPARATION_LOG_ODDS = 20.0


@dataclass(frozen=True)
class OddsRatio:
    """One logistic coefficient on the odds-ratio scale, with a Wald interval."""

    term: str
    log_odds: float
    std_error: float
    odds_ratio: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float


@dataclass(frozen=True)
class LogisticFit:
    """Result of :func:`logistic_regression`; ``odds_ratios`` is empty when ``note`` says why."""

    odds_ratios: tuple[OddsRatio, ...]
    vcov_type: str
    alpha: float
    n_obs: int
    n_clusters: int | None
    note: str | None = None

    def coefficient(self, term: str) -> OddsRatio | None:
        """The named coefficient, or ``None`` if the model could not be fitted."""
        for c in self.odds_ratios:
            if c.term == term:
                return c
        return None


def _separation_note(y: FloatArray, x: FloatArray, terms: Sequence[str]) -> str | None:
    """Name a 0/1 column within which every outcome is equal (quasi-complete separation)."""
    if np.all(y == y[0]):
        return "every participant had the same outcome; the odds ratio is not estimable"
    for j, term in enumerate(terms):
        col = x[:, j]
        if np.ptp(col) == 0.0 or not np.all((col == 0.0) | (col == 1.0)):
            continue
        for value in (0.0, 1.0):
            outcomes = y[col == value]
            if np.all(outcomes == outcomes[0]):
                side = "" if value == 1.0 else "not "
                return (
                    f"perfect separation: all participants {side}in {term} had outcome "
                    f"{int(outcomes[0])}; the odds ratio is not estimable"
                )
    return None


def _fit(y: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray] | str:
    """Maximum likelihood by IRLS; returns (beta, model covariance, fitted p) or a note."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sm.GLM(y, x, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=100)
    messages = {type(w.message).__name__ for w in caught}
    beta = np.asarray(result.params, dtype=np.float64)
    if messages or not result.converged or np.max(np.abs(beta)) > SEPARATION_LOG_ODDS:
        detail = ", ".join(sorted(messages)) or "no convergence or infinite estimates"
        return f"logistic model not estimable ({detail}); likely separation"
    cov = np.asarray(result.cov_params(), dtype=np.float64)
    return beta, cov, np.asarray(result.fittedvalues, dtype=np.float64)


def _cluster_vcov(
    x: FloatArray, resid: FloatArray, bread: FloatArray, clusters: ArrayLike
) -> tuple[FloatArray, int]:
    """``B (sum_g s_g s_g') B * G/(G-1) * (N-1)/(N-k)``, s_g the cluster's summed scores."""
    n, k = x.shape
    blocks = cr2.cluster_blocks(clusters)
    g = blocks.n_clusters
    if g < 2:
        raise ValueError("cluster-robust standard errors need at least 2 clusters")
    x_blocks = tuple(x[rows] for rows in blocks.rows)
    meat = cr2.cluster_meat(x_blocks, cr2.residual_blocks(resid, blocks))
    return bread @ meat @ bread * (g / (g - 1)) * ((n - 1) / (n - k)), g


def logistic_regression(
    y: ArrayLike,
    x: ArrayLike,
    *,
    terms: Sequence[str] | None = None,
    clusters: ArrayLike | None = None,
    alpha: float = 0.05,
) -> LogisticFit:
    """Fit a logistic regression and report each coefficient as an odds ratio.

    Parameters
    ----------
    y : 0/1 outcome of shape (n,).
    x : full-rank design of shape (n, k) with intercept (see ``build_design``).
    terms : column names.
    clusters : cluster labels; when given, SEs are cluster-robust (HC1 factor, see module).
    alpha : two-sided level of the Wald intervals ``exp(beta +/- z_{1-alpha/2} se)``.

    Returns
    -------
    LogisticFit
        With ``odds_ratios == ()`` and a ``note`` when the model is not estimable (an arm or
        covariate level with all or no events, or non-convergence); no warning escapes.

    References
    ----------
    Agresti A (2013) Categorical Data Analysis, 3rd ed., ch. 5. Cameron AC, Miller DL (2015)
    A practitioner's guide to cluster-robust inference. J Hum Resour 50:317-372. Zeileis A
    et al. (2020) J Stat Softw 95(1) (sandwich::vcovCL).
    """
    y_arr, x_arr = as_design(y, x)
    if not np.all((y_arr == 0.0) | (y_arr == 1.0)):
        raise ValueError("logistic regression needs a 0/1 outcome")
    names = term_names(terms, x_arr.shape[1])
    inverse_cross_product(x_arr, names)  # raises a clear error for collinear columns
    n = y_arr.shape[0]
    vcov_type = "model" if clusters is None else "cluster-robust HC1"
    note = _separation_note(y_arr, x_arr, names)
    fitted = note or _fit(y_arr, x_arr)
    if isinstance(fitted, str):
        return LogisticFit((), vcov_type, alpha, n, None, fitted)
    beta, cov, p_hat = fitted
    n_clusters = None
    if clusters is not None:
        cov, n_clusters = _cluster_vcov(x_arr, y_arr - p_hat, cov, clusters)
    se = np.sqrt(np.diag(cov))
    z = beta / se
    crit = float(stats.norm.ppf(1.0 - alpha / 2.0))
    rows = tuple(
        OddsRatio(
            term=t,
            log_odds=float(beta[j]),
            std_error=float(se[j]),
            odds_ratio=float(np.exp(beta[j])),
            ci_low=float(np.exp(beta[j] - crit * se[j])),
            ci_high=float(np.exp(beta[j] + crit * se[j])),
            z=float(z[j]),
            p_value=float(2.0 * stats.norm.sf(abs(z[j]))),
        )
        for j, t in enumerate(names)
    )
    return LogisticFit(rows, vcov_type, alpha, n, n_clusters)
