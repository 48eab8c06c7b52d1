"""Lee (2009) bounds on a difference in means when response differs between arms, with an interval.

Someone "responded" when their outcome is observed. If the treated arm's response rate ``q1``
exceeds control's ``q0``, the treated respondents include a share ``p = (q1 - q0) / q1`` who
would not have answered in control; under monotonicity (being in the arm never stops anyone
answering) trimming that share from the top of the treated answers gives the lower bound, and
from the bottom the upper bound, of the effect among those who would answer either way. When
control responds more, control's answers are trimmed instead (and the bounds swap roles).

Trimming follows Lee (2009, Proposition 1) with ties handled exactly: the trimmed mean is the
mean of the distribution with mass ``p`` removed from one end, the boundary answer kept with
the fractional weight that leaves exactly ``1 - p`` of the mass (on a 1-5 scale many people
share the boundary answer, and dropping whole people would trim too much or too little).

Each bound's standard error is Lee's (2009, Proposition 3) asymptotic one. For the bound that
trims arm ``t`` (``r_t`` answers, kept mean ``mu`` and variance ``s2``, boundary answer ``e``,
the ``p`` quantile from the trimmed end) against the other arm ``o``::

    var = (s2 + p (e - mu)^2) / (r_t (1 - p))           # the trimmed mean, quantile known
        + (e - mu)^2 ((1 - q_t) / r_t + (1 - q_o) / r_o)  # p estimated (delta method)
        + s2_o / r_o                                      # the other arm's mean

(sample moments with divisor n, as Lee's sample analogues). The interval is Imbens and Manski's
(2004) for the effect itself, not for the pair of bounds: ``[lower - C se_lower, upper + C
se_upper]`` with ``C`` solving ``Phi(C + (upper - lower) / max(se)) - Phi(-C) = 1 - alpha``, so
``C`` runs from the one-sided ``z_{1-alpha}`` (wide bounds) to the two-sided ``z_{1-alpha/2}``
(equal bounds). When the bounds are near-equal (their width within ``sqrt(ln n)`` of the larger
standard error, n the people randomised to the two arms) ``C`` is the two-sided value: Imbens
and Manski's interval under-covers there because the estimated width is mostly noise (Stoye
2009; the ``sqrt(ln n)`` threshold is Andrews and Soares' 2010 ``kappa_n``). Equal response
rates need no trimming: the bounds are the plain difference with its unpooled standard error.

The bounds use no covariates and no clustering: the interval treats people as independent.

Lee DS (2009) Training, wages, and sample selection: estimating sharp bounds on treatment
effects. Review of Economic Studies 76:1071-1102.
Imbens GW, Manski CF (2004) Confidence intervals for partially identified parameters.
Econometrica 72:1845-1857.
Stoye J (2009) More on confidence intervals for partially identified parameters.
Econometrica 77:1299-1315.
Andrews DWK, Soares G (2010) Inference for parameters defined by moment inequalities using
generalized moment selection. Econometrica 78:119-157.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, stats

from analysis.stats._types import ArrayLike

# Response rates differing by more than this (a share) bias a complete-case comparison.
RESPONSE_GAP = 0.05
# Guards the boundary answer's index against n * p landing a rounding error below a whole number.
_EDGE_SLACK = 1e-9


@dataclass(frozen=True)
class LeeBounds:
    """Bounds on the treated-minus-control difference in means; the share trimmed, and where;
    each bound's standard error and the Imbens-Manski interval for the effect."""

    lower: float | None
    upper: float | None
    trimmed_share: float
    trimmed_arm: str | None  # "treated", "control", or None when response rates are equal
    response_treated: float | None
    response_control: float | None
    lower_std_error: float | None = None
    upper_std_error: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    critical_value: float | None = None
    near_equal: bool | None = None  # the two-sided critical value was used (see module doc)


@dataclass(frozen=True)
class Trimmed:
    """One arm's answers with mass ``share`` removed from one end: the kept mean and variance,
    and the boundary answer (the first kept answer from the trimmed end)."""

    mean: float
    variance: float
    edge: float


def trim(values: ArrayLike, share: float, *, from_top: bool) -> Trimmed:
    """The answers ``values`` with mass ``share`` removed from the top (or bottom), ties exact."""
    y = np.sort(np.asarray(values, dtype=np.float64))
    if from_top:
        y = y[::-1]
    n = y.size
    if n == 0 or not 0.0 <= share < 1.0:
        raise ValueError("need answers and a share trimmed in [0, 1)")
    # Each answer carries 1/n of the mass; remove the first `share` of it from this end.
    before = np.arange(n) / n
    after = np.arange(1, n + 1) / n
    removed = np.clip(share - before, 0.0, None)
    weight = np.clip((after - before) - removed, 0.0, None)
    mean = float((weight * y).sum() / weight.sum())
    variance = float((weight * (y - mean) ** 2).sum() / weight.sum())
    edge = float(y[min(int(math.floor(n * share + _EDGE_SLACK)), n - 1)])
    return Trimmed(mean, variance, edge)


def trimmed_mean(values: ArrayLike, share: float, *, from_top: bool) -> float:
    """Mean of ``values`` with mass ``share`` removed from the top (or bottom), ties exact."""
    return trim(values, share, from_top=from_top).mean


def lee_bounds(
    treated: ArrayLike,
    control: ArrayLike,
    *,
    randomised_treated: int,
    randomised_control: int,
    alpha: float = 0.05,
) -> LeeBounds:
    """Lee bounds for the arm's answers ``treated`` against control's ``control``.

    ``randomised_*`` count everyone in each arm who could have answered (in the outcome's
    population); the answers given are the respondents. ``alpha`` sets the interval's level.
    """
    a = np.asarray(treated, dtype=np.float64)
    b = np.asarray(control, dtype=np.float64)
    if randomised_treated <= 0 or randomised_control <= 0:
        return LeeBounds(None, None, 0.0, None, None, None)
    q1 = a.size / randomised_treated
    q0 = b.size / randomised_control
    if a.size == 0 or b.size == 0:
        return LeeBounds(None, None, 0.0, None, q1, q0)
    n = randomised_treated + randomised_control
    if q1 == q0:
        diff = float(a.mean() - b.mean())
        se = math.sqrt(float(a.var()) / a.size + float(b.var()) / b.size)
        return _with_interval(LeeBounds(diff, diff, 0.0, None, q1, q0), se, se, n, alpha)
    if q1 > q0:
        share = (q1 - q0) / q1
        top, bottom = trim(a, share, from_top=True), trim(a, share, from_top=False)
        other = float(b.var()) / b.size
        p_term = (1 - q1) / a.size + (1 - q0) / b.size
        bounds = LeeBounds(
            top.mean - float(b.mean()), bottom.mean - float(b.mean()), share, "treated", q1, q0
        )
        low_se = _trimmed_se(top, share, a.size, p_term, other)
        high_se = _trimmed_se(bottom, share, a.size, p_term, other)
        return _with_interval(bounds, low_se, high_se, n, alpha)
    share = (q0 - q1) / q0
    bottom, top = trim(b, share, from_top=False), trim(b, share, from_top=True)
    other = float(a.var()) / a.size
    p_term = (1 - q1) / a.size + (1 - q0) / b.size
    bounds = LeeBounds(
        float(a.mean()) - bottom.mean, float(a.mean()) - top.mean, share, "control", q1, q0
    )
    low_se = _trimmed_se(bottom, share, b.size, p_term, other)
    high_se = _trimmed_se(top, share, b.size, p_term, other)
    return _with_interval(bounds, low_se, high_se, n, alpha)


def _trimmed_se(kept: Trimmed, share: float, answers: int, p_term: float, other: float) -> float:
    """Lee's (2009, Proposition 3) standard error of a bound (module docstring)."""
    gap = (kept.edge - kept.mean) ** 2
    trimmed = (kept.variance + share * gap) / (answers * (1 - share))
    return math.sqrt(trimmed + gap * p_term + other)


def imbens_manski_critical_value(width: float, std_error: float, alpha: float) -> float:
    """``C`` with ``Phi(C + width / std_error) - Phi(-C) = 1 - alpha`` (Imbens & Manski 2004)."""
    two_sided = float(stats.norm.ppf(1 - alpha / 2))
    if width <= 0 or std_error <= 0:
        return two_sided
    shift = width / std_error

    def coverage(c: float) -> float:
        return float(stats.norm.cdf(c + shift) - stats.norm.cdf(-c)) - (1 - alpha)

    one_sided = float(stats.norm.ppf(1 - alpha))
    if coverage(one_sided) >= 0:
        return one_sided
    return float(optimize.brentq(coverage, one_sided, two_sided, xtol=1e-12))


def _with_interval(
    bounds: LeeBounds, low_se: float, high_se: float, n: int, alpha: float
) -> LeeBounds:
    lower, upper = float(bounds.lower or 0.0), float(bounds.upper or 0.0)
    width, largest = upper - lower, max(low_se, high_se)
    near_equal = width <= largest * math.sqrt(math.log(n))
    if near_equal:
        c = float(stats.norm.ppf(1 - alpha / 2))
    else:
        c = imbens_manski_critical_value(width, largest, alpha)
    return replace(
        bounds,
        lower_std_error=low_se,
        upper_std_error=high_se,
        ci_low=lower - c * low_se,
        ci_high=upper + c * high_se,
        critical_value=c,
        near_equal=near_equal,
    )
