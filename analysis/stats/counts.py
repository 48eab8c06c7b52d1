"""Poisson model of a count outcome with robust standard errors: R ``glm(family = poisson)``.

``log E[Y] = x'beta``; ``exp(beta)`` of an arm is its rate ratio against control (the ratio
of mean counts, other terms fixed). The Poisson assumption that the variance equals the mean
is not relied on: the standard errors are the sandwich of R ``sandwich::vcovHC(fit, type =
"HC0")`` without clusters and ``sandwich::vcovCL(fit, cluster, type = "HC0")`` (with its
default ``G / (G - 1)`` adjustment) with clusters. Intervals and p-values are Wald: normal
without clusters (as ``lmtest::coeftest``), t on ``G - 1`` df with clusters.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.stats import cr2
from analysis.stats._types import ArrayLike

METHOD = "Poisson model with robust (sandwich HC0) standard errors, as R's glm and sandwich"
METHOD_CLUSTERED = (
    "Poisson model with cluster-robust standard errors (sandwich::vcovCL, HC0 with G/(G-1)) "
    "and t on G-1 df"
)


@dataclass(frozen=True)
class RateRatio:
    term: str
    log_rate_ratio: float
    std_error: float | None
    rate_ratio: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


@dataclass(frozen=True)
class PoissonFit:
    terms: tuple[RateRatio, ...]
    n_obs: int
    n_clusters: int | None

    def coefficient(self, term: str) -> RateRatio | None:
        return next((t for t in self.terms if t.term == term), None)


def robust_poisson(
    y: ArrayLike,
    x: ArrayLike,
    *,
    terms: Sequence[str],
    clusters: cr2.Clusters | None = None,
    alpha: float = 0.05,
) -> PoissonFit:
    """Fit the Poisson model of counts ``y`` on ``x`` (with its intercept column).

    Raises ValueError for a negative count, a fit that does not converge, or fewer than two
    clusters.
    """
    import statsmodels.api as sm

    y_arr = np.asarray(y, dtype=np.float64)
    x_arr = np.asarray(x, dtype=np.float64)
    if (y_arr < 0).any():
        raise ValueError("a count cannot be negative")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sm.GLM(y_arr, x_arr, family=sm.families.Poisson()).fit(tol=1e-12, maxiter=100)
    if not result.converged:
        raise ValueError("the Poisson model did not converge")
    beta = np.asarray(result.params, dtype=np.float64)
    mu = np.exp(x_arr @ beta)
    bread = np.linalg.inv((x_arr * mu[:, None]).T @ x_arr)
    scores = x_arr * (y_arr - mu)[:, None]
    n_clusters = None
    if clusters is None:
        meat = scores.T @ scores
        df = None
        crit = float(stats.norm.ppf(1.0 - alpha / 2.0))
    else:
        blocks = cr2.cluster_blocks(clusters)
        n_clusters = blocks.n_clusters
        if n_clusters < 2:
            raise ValueError("cluster-robust standard errors need at least 2 clusters")
        summed = np.zeros((n_clusters, scores.shape[1]))
        np.add.at(summed, np.asarray(blocks.codes), scores)
        meat = summed.T @ summed * (n_clusters / (n_clusters - 1))
        df = float(n_clusters - 1)
        crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    vcov = bread @ meat @ bread
    out = []
    for j, term in enumerate(terms):
        b = float(beta[j])
        variance = float(vcov[j, j])
        if not np.isfinite(variance) or variance <= 0.0:
            out.append(RateRatio(term, b, None, float(np.exp(b)), None, None, None))
            continue
        se = float(np.sqrt(variance))
        z = b / se
        p = float(2 * (stats.norm.sf(abs(z)) if df is None else stats.t.sf(abs(z), df)))
        out.append(
            RateRatio(
                term,
                b,
                se,
                float(np.exp(b)),
                float(np.exp(b - crit * se)),
                float(np.exp(b + crit * se)),
                p,
            )
        )
    return PoissonFit(tuple(out), int(y_arr.size), n_clusters)
