"""Proportional-odds (ordered logit) model of a scale outcome: R ``MASS::polr``.

``logit P(Y <= k) = zeta_k - x'beta``: a positive coefficient moves answers up the scale, and
``exp(beta)`` is the odds ratio of a higher answer (any cut point) for that arm against
control. Fitted by maximum likelihood with statsmodels' ``OrderedModel`` (logit). Without
clusters the standard errors are the model's (inverse observed information, as ``polr``'s
``vcov``); with clusters they are the cluster-robust sandwich of R ``sandwich::vcovCL``
(type HC0 with the ``G / (G - 1)`` adjustment, its default for ``polr``). Intervals and
p-values are Wald: normal without clusters, t on ``G - 1`` df with clusters (as
``lmtest::coeftest(fit, vcovCL, df = G - 1)``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.stats import cr2
from analysis.stats._types import ArrayLike

METHOD = "proportional-odds (ordered logit) model, as R's MASS::polr"
METHOD_CLUSTERED = (
    "proportional-odds (ordered logit) model, as R's MASS::polr, with cluster-robust "
    "standard errors (sandwich::vcovCL, HC0 with G/(G-1)) and t on G-1 df"
)


@dataclass(frozen=True)
class OrdinalTerm:
    """One coefficient of the proportional-odds model, as an odds ratio of a higher answer."""

    term: str
    log_odds: float
    std_error: float | None
    odds_ratio: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


@dataclass(frozen=True)
class OrdinalFit:
    terms: tuple[OrdinalTerm, ...]
    cut_points: tuple[float, ...]
    n_obs: int
    n_clusters: int | None
    converged: bool

    def coefficient(self, term: str) -> OrdinalTerm | None:
        return next((t for t in self.terms if t.term == term), None)


def proportional_odds(
    y: ArrayLike,
    x: ArrayLike,
    *,
    terms: Sequence[str],
    clusters: cr2.Clusters | None = None,
    alpha: float = 0.05,
) -> OrdinalFit:
    """Fit the ordered logit of ``y`` (ordered answers) on ``x`` (no intercept column).

    Answers are ranked by value; only the values present form categories (a scale point
    nobody chose has no cut point, as in ``polr`` after ``droplevels``). Raises ValueError
    when fewer than two distinct answers are present or the fit fails.
    """
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    y_arr = np.asarray(y, dtype=np.float64)
    x_arr = np.asarray(x, dtype=np.float64)
    levels, codes = np.unique(y_arr, return_inverse=True)
    if levels.size < 2:
        raise ValueError("every answer is the same: no proportional-odds model")
    k = x_arr.shape[1]
    model = OrderedModel(codes, x_arr, distr="logit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit(method="bfgs", maxiter=2000, gtol=1e-10, disp=False)
        params = np.asarray(result.params, dtype=np.float64)
        # BFGS often reports a failure to reach its own tolerance at the optimum; the score
        # (per observation, on average) says whether it is there.
        converged = bool(np.abs(model.score(params)).max() <= 1e-6 * y_arr.size)
        hessian = np.asarray(model.hessian(params), dtype=np.float64)
    try:
        bread = np.linalg.inv(-hessian)
    except np.linalg.LinAlgError as exc:
        raise ValueError("the proportional-odds model's information matrix is singular") from exc
    n_clusters = None
    if clusters is None:
        vcov = bread
        crit = float(stats.norm.ppf(1.0 - alpha / 2.0))
        df = None
    else:
        blocks = cr2.cluster_blocks(clusters)
        n_clusters = blocks.n_clusters
        if n_clusters < 2:
            raise ValueError("cluster-robust standard errors need at least 2 clusters")
        scores = np.asarray(model.score_obs(params), dtype=np.float64)
        summed = np.zeros((n_clusters, scores.shape[1]))
        np.add.at(summed, np.asarray(blocks.codes), scores)
        meat = summed.T @ summed * (n_clusters / (n_clusters - 1))
        vcov = bread @ meat @ bread
        df = float(n_clusters - 1)
        crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    out = []
    for j, term in enumerate(terms):
        beta = float(params[j])
        variance = float(vcov[j, j])
        if not np.isfinite(variance) or variance <= 0.0:
            out.append(OrdinalTerm(term, beta, None, float(np.exp(beta)), None, None, None))
            continue
        se = float(np.sqrt(variance))
        z = beta / se
        p = float(2 * (stats.norm.sf(abs(z)) if df is None else stats.t.sf(abs(z), df)))
        out.append(
            OrdinalTerm(
                term,
                beta,
                se,
                float(np.exp(beta)),
                float(np.exp(beta - crit * se)),
                float(np.exp(beta + crit * se)),
                p,
            )
        )
    # statsmodels keeps the first cut point and the logs of the increments after it.
    raw = params[k:]
    cuts = np.concatenate([[raw[0]], raw[0] + np.cumsum(np.exp(raw[1:]))])
    return OrdinalFit(
        tuple(out), tuple(float(c) for c in cuts), int(y_arr.size), n_clusters, converged
    )
