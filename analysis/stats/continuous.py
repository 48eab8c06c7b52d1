"""Means of a numeric outcome (a scale, a count, a measurement): per arm, and standardised.

Each arm's mean is the intercept of ``estimatr::lm_robust(y ~ 1)`` on that arm's rows: HC2
without clusters, which is the classical ``s / sqrt(n)`` with a t interval on ``n - 1`` df;
CR2 with Bell-McCaffrey df when whole units were randomised. The difference in means itself
comes from the trial's linear model (analysis/measures.py, with :func:`lm_robust`).

Hedges' g is the difference in means over the pooled standard deviation, times Hedges'
small-sample factor ``J = 1 - 3 / (4 (n1 + n0) - 9)``. Its interval without clusters is the
normal one of Hedges & Olkin (1985), variance ``J^2 ((n1 + n0) / (n1 n0) + d^2 / (2 (n1 + n0)))``
(Borenstein et al. 2009, eq. 4.20-4.24). With clusters that variance treats people as
independent, so the interval is instead the trial model's CR2 interval for the difference,
scaled by ``J / s_pooled`` (the spread of the standardiser itself is ignored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.stats import cr2
from analysis.stats._types import ArrayLike
from analysis.stats.regression import lm_robust

HEDGES_METHOD = (
    "Hedges' g: difference in means over the pooled standard deviation, with Hedges' "
    "small-sample correction; interval from Hedges and Olkin's normal approximation"
)
HEDGES_CLUSTERED = (
    "Hedges' g: difference in means over the pooled standard deviation, with Hedges' "
    "small-sample correction; interval: the adjusted difference's CR2 interval on the same scale"
)


@dataclass(frozen=True)
class MeanEstimate:
    """One group's mean with its robust standard error and t interval (None when undefined)."""

    n: int
    mean: float | None
    sd: float | None
    std_error: float | None
    ci_low: float | None
    ci_high: float | None
    df: float | None = None


@dataclass(frozen=True)
class StandardisedEffect:
    """Hedges' g of one arm against control, with its interval (None when undefined)."""

    g: float | None
    ci_low: float | None
    ci_high: float | None
    std_error: float | None = None


def mean_estimate(
    y: ArrayLike, *, clusters: cr2.Clusters | None = None, alpha: float = 0.05
) -> MeanEstimate:
    """The mean of ``y`` with the interval of ``lm_robust(y ~ 1)`` (HC2, or CR2 by cluster).

    Fewer than two observations (or two clusters) give the mean without any interval.
    """
    values = np.asarray(y, dtype=np.float64)
    n = int(values.size)
    if n == 0:
        return MeanEstimate(0, None, None, None, None, None)
    mean = float(values.mean())
    sd = float(values.std(ddof=1)) if n > 1 else None
    if n < 2 or (clusters is not None and len(np.unique(np.asarray(_codes(clusters)))) < 2):
        return MeanEstimate(n, mean, sd, None, None, None)
    try:
        fit = lm_robust(values, np.ones((n, 1)), terms=["mean"], clusters=clusters, alpha=alpha)
    except ValueError:
        return MeanEstimate(n, mean, sd, None, None, None)
    c = fit.coefficient("mean")
    return MeanEstimate(n, c.estimate, sd, c.std_error, c.ci_low, c.ci_high, c.df)


def _codes(clusters: cr2.Clusters) -> ArrayLike:
    return clusters.codes if isinstance(clusters, cr2.ClusterBlocks) else clusters


def pooled_sd(treated: ArrayLike, control: ArrayLike) -> float | None:
    """The pooled standard deviation of two groups (None with fewer than 3 people in all)."""
    a = np.asarray(treated, dtype=np.float64)
    b = np.asarray(control, dtype=np.float64)
    df = a.size + b.size - 2
    if a.size < 1 or b.size < 1 or df < 1:
        return None
    ss = float(((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum())
    return float(np.sqrt(ss / df))


def hedges_g(
    treated: ArrayLike,
    control: ArrayLike,
    *,
    alpha: float = 0.05,
    difference_interval: tuple[float | None, float | None] | None = None,
) -> StandardisedEffect:
    """Hedges' g of ``treated`` against ``control`` (see the module docstring).

    ``difference_interval`` is the trial model's interval for the difference in means when
    whole units were randomised: the interval of g is then that interval over the pooled SD
    times J, and no standard error is given.
    """
    a = np.asarray(treated, dtype=np.float64)
    b = np.asarray(control, dtype=np.float64)
    s = pooled_sd(a, b)
    n1, n0 = a.size, b.size
    if s is None or s == 0.0 or n1 + n0 < 4:
        return StandardisedEffect(None, None, None)
    j = 1.0 - 3.0 / (4.0 * (n1 + n0) - 9.0)
    d = float(a.mean() - b.mean()) / s
    g = j * d
    if difference_interval is not None:
        low, high = difference_interval
        if low is None or high is None:
            return StandardisedEffect(g, None, None)
        return StandardisedEffect(g, j * low / s, j * high / s)
    variance = j * j * ((n1 + n0) / (n1 * n0) + d * d / (2.0 * (n1 + n0)))
    se = float(np.sqrt(variance))
    z = float(stats.norm.ppf(1.0 - alpha / 2.0))
    return StandardisedEffect(g, g - z * se, g + z * se, se)
