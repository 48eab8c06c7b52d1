"""Design-time sample size and detectable effects for a two-sided two-proportion test.

The normal approximation of R ``power.prop.test`` (with ``strict = FALSE``): for rates p1,
p2, n per arm and ``z_a = z_{1 - alpha/2}``,
``power = Phi((sqrt(n) |p1 - p2| - z_a sqrt((p1 + p2)(q1 + q2)/2)) / sqrt(p1 q1 + p2 q2))``.
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


def power_two_proportions(
    n_per_arm: float, baseline: float, treated: float, alpha: float = 0.05
) -> float:
    """Power of the two-sided two-proportion z-test (formula in the module docstring)."""
    _check_rate("baseline", baseline)
    _check_rate("treated", treated)
    _check_rate("alpha", alpha)
    p1, p2 = baseline, treated
    z_a = stats.norm.ppf(1.0 - alpha / 2.0)
    pooled = math.sqrt((p1 + p2) * (2.0 - p1 - p2) / 2.0)
    spread = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return float(stats.norm.cdf((math.sqrt(n_per_arm) * abs(p1 - p2) - z_a * pooled) / spread))


def sample_size_two_proportions(
    baseline: float, effect: float, alpha: float = 0.05, power: float = 0.8
) -> SampleSize:
    """n per arm to detect ``treated = baseline + effect`` with a two-sided test.

    ``n = ((z_a sqrt((p1 + p2)(q1 + q2)/2) + z_power sqrt(p1 q1 + p2 q2)) / |p1 - p2|)^2``
    with ``z_a = z_{1-alpha/2}``: the closed-form inverse of the power formula (R finds the
    same n by root-finding).

    References
    ----------
    Fleiss JL, Levin B, Paik MC (2003) Statistical Methods for Rates and Proportions, 3rd
    ed., section 4.2 (without continuity correction). R Core, ``stats::power.prop.test``.
    """
    treated = baseline + effect
    _check_rate("baseline", baseline)
    _check_rate("baseline + effect", treated)
    _check_rate("power", power)
    _check_rate("alpha", alpha)
    if effect == 0.0:
        raise ValueError("the effect to detect must be non-zero")
    p1, p2 = baseline, treated
    z_a = stats.norm.ppf(1.0 - alpha / 2.0)
    z_b = stats.norm.ppf(power)
    pooled = math.sqrt((p1 + p2) * (2.0 - p1 - p2) / 2.0)
    spread = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    n = ((z_a * pooled + z_b * spread) / abs(effect)) ** 2
    return SampleSize(math.ceil(n - 1e-9), float(n), baseline, treated, alpha, power)


def minimum_detectable_effect(
    n_per_arm: float,
    baseline: float,
    alpha: float = 0.05,
    power: float = 0.8,
    direction: Literal["increase", "decrease"] = "increase",
) -> DetectableEffect:
    """Smallest effect detectable with ``n_per_arm`` (solves the power formula for p2).

    Root-finding on p2 in (baseline, 1) for an increase or (0, baseline) for a decrease, as
    ``power.prop.test(n, p1, power)`` does. ``effect`` is ``None`` (with a note) when even a
    rate of 1 (or 0) would not reach the power.
    """
    _check_rate("baseline", baseline)
    _check_rate("power", power)
    if n_per_arm <= 0:
        raise ValueError(f"n_per_arm must be positive, got {n_per_arm}")
    edge = 1.0 - 1e-10 if direction == "increase" else 1e-10
    if power_two_proportions(n_per_arm, baseline, edge, alpha) < power:
        note = f"no {direction} is detectable with {n_per_arm} per arm at power {power}"
        return DetectableEffect(None, None, n_per_arm, baseline, alpha, power, note)
    treated = optimize.brentq(
        lambda p2: power_two_proportions(n_per_arm, baseline, p2, alpha) - power,
        baseline + (1e-10 if direction == "increase" else -1e-10),
        edge,
        xtol=1e-14,
        rtol=1e-14,
    )
    return DetectableEffect(treated - baseline, treated, n_per_arm, baseline, alpha, power)
