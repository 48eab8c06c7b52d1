"""Design-time sample size and detectable effects: a two-sided two-proportion test (a yes/no
primary outcome) or a two-sided two-sample t-test (a scale, count or measurement).

The normal approximation of R ``power.prop.test`` (with ``strict = FALSE``), for unequal
arms: with ``n`` in control (rate p1), ``r n`` in the arm (rate p2), ``z_a = z_{1 - alpha/2}``
and the pooled rate ``pbar = (p1 + r p2) / (1 + r)``,
``power = Phi((|p1 - p2| - z_a sqrt(pbar qbar (1/n + 1/(r n)))) / sqrt(p1 q1/n + p2 q2/(r n)))``;
with ``r = 1`` it is exactly ``power.prop.test``. When whole units are randomised, callers
use effective sizes ``n / deff`` (see :mod:`analysis.stats.clustered`).

The formulas are statsmodels' (``statsmodels.stats.proportion``, control as its first
sample): ``samplesize_proportions_2indep_onetail`` for n, and ``power_proportions_2indep``
asked for the one tail the effect lies in at ``alpha / 2``. Its own two-sided power adds
the far tail, as ``power.prop.test(strict = TRUE)`` does; the designs are planned with R's
default, so the far tail is left out here. statsmodels has no solver for the detectable
effect on this formula: :func:`minimum_detectable_effect` is ours. statsmodels is imported
inside the functions, so that loading the package does not load it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import optimize, stats

METHOD = "normal approximation, unpooled alternative variance (R power.prop.test, strict=FALSE)"


@dataclass(frozen=True)
class SampleSize:
    """Participants needed per arm (``n_per_arm`` rounds ``n_exact`` up)."""

    n_per_arm: int
    n_exact: float
    baseline: float
    treated: float
    alpha: float
    power: float
    method: str = METHOD
    ratio: float = 1.0

    @property
    def n_treated(self) -> int:
        """Participants needed in the arm, ``ratio`` times control's."""
        return math.ceil(self.ratio * self.n_exact - 1e-9)


@dataclass(frozen=True)
class DetectableEffect:
    """Smallest difference (treated minus baseline) detectable with the given n and power."""

    effect: float | None
    treated: float | None
    n_per_arm: float
    baseline: float
    alpha: float
    power: float
    note: str | None = None
    method: str = METHOD


def _check_rate(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")


def _check_ratio(ratio: float) -> None:
    if not ratio > 0.0:
        raise ValueError(f"the allocation ratio must be positive, got {ratio}")


def power_two_proportions(
    n_per_arm: float,
    baseline: float,
    treated: float,
    alpha: float = 0.05,
    *,
    ratio: float = 1.0,
) -> float:
    """Power of the two-sided two-proportion z-test (formula in the module docstring).

    ``n_per_arm`` is control's size; the arm has ``ratio * n_per_arm``.
    """
    from statsmodels.stats.proportion import power_proportions_2indep

    _check_rate("baseline", baseline)
    _check_rate("treated", treated)
    _check_rate("alpha", alpha)
    _check_ratio(ratio)
    diff = baseline - treated
    return float(
        power_proportions_2indep(
            diff,
            treated,
            n_per_arm,
            ratio=ratio,
            alpha=alpha / 2.0,
            alternative="larger" if diff >= 0 else "smaller",
            return_results=False,
        )
    )


def sample_size_two_proportions(
    baseline: float,
    effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    *,
    ratio: float = 1.0,
) -> SampleSize:
    """n in control (and ``ratio * n`` in the arm) to detect ``treated = baseline + effect``.

    ``n = ((z_a sqrt(pbar qbar (1 + 1/r)) + z_power sqrt(p1 q1 + p2 q2 / r)) / |p1 - p2|)^2``
    with ``z_a = z_{1-alpha/2}``: the closed-form inverse of the power formula (R finds the
    same n by root-finding), statsmodels' ``samplesize_proportions_2indep_onetail``. With
    ``r = 1`` it is ``power.prop.test``'s n per arm.

    References
    ----------
    Fleiss JL, Levin B, Paik MC (2003) Statistical Methods for Rates and Proportions, 3rd
    ed., section 4.2 (without continuity correction). R Core, ``stats::power.prop.test``.
    """
    from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

    treated = baseline + effect
    _check_rate("baseline", baseline)
    _check_rate("baseline + effect", treated)
    _check_rate("power", power)
    _check_rate("alpha", alpha)
    _check_ratio(ratio)
    if effect == 0.0:
        raise ValueError("the effect to detect must be non-zero")
    n = float(
        samplesize_proportions_2indep_onetail(-effect, treated, power, ratio=ratio, alpha=alpha)
    )
    return SampleSize(math.ceil(n - 1e-9), n, baseline, treated, alpha, power, METHOD, ratio)


def minimum_detectable_effect(
    n_per_arm: float,
    baseline: float,
    alpha: float = 0.05,
    power: float = 0.8,
    direction: Literal["increase", "decrease"] = "increase",
    *,
    ratio: float = 1.0,
) -> DetectableEffect:
    """Smallest effect detectable with ``n_per_arm`` (solves the power formula for p2).

    ``n_per_arm`` is control's size and the arm has ``ratio * n_per_arm``.

    Root-finding (Brent) on p2 in (baseline, 1) for an increase or (0, baseline) for a
    decrease, as ``power.prop.test(n, p1, power)`` does; statsmodels solves its power
    functions for Cohen's effect size h, not for a rate on this formula. ``effect`` is
    ``None`` (with a note) when even a rate of 1 (or 0) would not reach the power.
    """
    _check_rate("baseline", baseline)
    _check_rate("power", power)
    if n_per_arm <= 0:
        raise ValueError(f"n_per_arm must be positive, got {n_per_arm}")
    edge = 1.0 - 1e-10 if direction == "increase" else 1e-10
    if power_two_proportions(n_per_arm, baseline, edge, alpha, ratio=ratio) < power:
        note = f"no {direction} is detectable with {n_per_arm} per arm at power {power}"
        return DetectableEffect(None, None, n_per_arm, baseline, alpha, power, note)
    treated = optimize.brentq(
        lambda p2: power_two_proportions(n_per_arm, baseline, p2, alpha, ratio=ratio) - power,
        baseline + (1e-10 if direction == "increase" else -1e-10),
        edge,
        xtol=1e-14,
        rtol=1e-14,
    )
    return DetectableEffect(treated - baseline, treated, n_per_arm, baseline, alpha, power)


MEANS_METHOD = (
    "two-sided two-sample t-test, noncentral t (R power.t.test, strict=FALSE; unequal arms: "
    "df n0 + n1 - 2, ncp d / sqrt(1/n0 + 1/n1))"
)


@dataclass(frozen=True)
class MeansSampleSize:
    """Participants needed in control to detect a standardised difference ``d`` (the difference
    in means over the outcome's SD); the arm needs ``ratio`` times as many."""

    n_per_arm: int
    n_exact: float
    standardised: float
    alpha: float
    power: float
    ratio: float = 1.0
    method: str = MEANS_METHOD


def power_two_means(
    n_per_arm: float, standardised: float, alpha: float = 0.05, *, ratio: float = 1.0
) -> float:
    """Power of the two-sided two-sample t-test for a standardised difference ``d``.

    With ``n0 = n_per_arm`` in control and ``n1 = ratio n0`` in the arm, ``df = n0 + n1 - 2``
    and ``ncp = d / sqrt(1/n0 + 1/n1)``: ``power = P(T'(df, ncp) > t_{1 - alpha/2, df})``, the
    far tail left out as in ``power.t.test(strict = FALSE)``, which this is when ``ratio = 1``.

    References
    ----------
    Cohen J (1988) Statistical Power Analysis for the Behavioral Sciences, 2nd ed., ch. 2.
    R Core, ``stats::power.t.test``.
    """
    _check_rate("alpha", alpha)
    _check_ratio(ratio)
    if n_per_arm < 2 or ratio * n_per_arm < 1:
        raise ValueError(f"need at least 2 in control and 1 in the arm, got {n_per_arm}")
    df = n_per_arm * (1.0 + ratio) - 2.0
    ncp = abs(standardised) / math.sqrt(1.0 / n_per_arm + 1.0 / (ratio * n_per_arm))
    return float(stats.nct.sf(stats.t.ppf(1.0 - alpha / 2.0, df), df, ncp))


def sample_size_two_means(
    standardised: float, alpha: float = 0.05, power: float = 0.8, *, ratio: float = 1.0
) -> MeansSampleSize:
    """n in control (and ``ratio n`` in the arm) for power ``power`` at difference ``d``
    (:func:`power_two_means` solved for n by Brent's method, as ``power.t.test`` does)."""
    _check_rate("power", power)
    _check_rate("alpha", alpha)
    _check_ratio(ratio)
    if standardised == 0.0:
        raise ValueError("the difference to detect must be non-zero")
    low = max(2.0, 1.0 / ratio) + 1e-9
    if power_two_means(low, standardised, alpha, ratio=ratio) >= power:
        n = low
    else:
        n = optimize.brentq(
            lambda m: power_two_means(m, standardised, alpha, ratio=ratio) - power,
            low,
            1e9,
            xtol=1e-10,
            rtol=1e-14,
        )
    return MeansSampleSize(
        math.ceil(n - 1e-9), float(n), abs(standardised), alpha, power, ratio, MEANS_METHOD
    )


def minimum_detectable_standardised(
    n_per_arm: float, alpha: float = 0.05, power: float = 0.8, *, ratio: float = 1.0
) -> float | None:
    """The smallest standardised difference detectable with ``n_per_arm`` in control and
    ``ratio`` times as many in the arm; None when there are too few to compute it."""
    _check_rate("power", power)
    if n_per_arm < 2 or ratio * n_per_arm < 1 or n_per_arm * (1 + ratio) <= 2:
        return None
    return float(
        optimize.brentq(
            lambda d: power_two_means(n_per_arm, d, alpha, ratio=ratio) - power,
            1e-9,
            100.0,
            xtol=1e-12,
            rtol=1e-14,
        )
    )
