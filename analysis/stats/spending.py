"""Group-sequential boundaries by Lan–DeMets alpha spending, for planned interim looks. Pure.

A trial that looks at its primary comparison before the end may stop early only if the
look was planned and its boundary accounts for the earlier looks, so that the chance of a
false positive over all looks stays at the plan's alpha. Lan and DeMets (1983) spend that
alpha as information accrues: at information fraction t (the share of the designed sample
whose outcome is known) the looks so far may have used at most alpha(t) of it, where

- O'Brien–Fleming type: alpha(t) = 2 (1 - Phi(z / sqrt(t))), z = Phi^-1(1 - alpha / 2);
- Pocock type: alpha(t) = alpha ln(1 + (e - 1) t).

Those are for a one-sided alpha. A two-sided alpha gives symmetric boundaries, each side the
one-sided design at alpha / 2 (the convention of R's rpact and gsDesign): an arm may stop
for benefit or for harm, and the chance of either false stop is alpha / 2.

The boundary at look k is the critical value c_k of the standardised statistic Z_k such that
the probability, under no effect, of first crossing at look k is alpha(t_k) - alpha(t_k-1).
Under no effect the Z_k are the canonical joint normal (Jennison and Turnbull 2000, ch. 3):
Z_k sqrt(t_k) is a Brownian motion at time t_k. The exit probabilities come from the
recursive numerical integration of Armitage, McPherson and Rowe (1969), on a Simpson grid
fine enough that boundaries agree with R's rpact to 1e-6 (tests/analysis/test_stats_spending.py,
references in tests/analysis/reference/spending/).

Boundaries are recomputed at the fractions actually reached when a look happens: the
spending function, not the planned fractions, is what the plan fixes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np
from scipy import optimize, stats

Spending = Literal["obrien_fleming", "pocock"]
Sides = Literal[1, 2]

# Points per unit of z on the integration grid: Simpson's rule with h = 1/200 has an error
# far below the 1e-6 the boundaries are checked to.
_POINTS_PER_UNIT = 200


@dataclass(frozen=True)
class Look:
    """One look's boundary: reject when |Z| (two-sided) or Z (one-sided) reaches `critical`."""

    fraction: float  # information fraction t_k
    critical: float  # boundary on the Z scale
    nominal_alpha: float  # the p-value (same sidedness as the plan) that crosses it
    cumulative_alpha: float  # alpha(t_k): spent by this look and those before it


def spent(fraction: float, alpha: float, spending: Spending, sides: Sides = 2) -> float:
    """alpha(t): the share of `alpha` the looks up to information fraction t may use."""
    t = min(max(fraction, 0.0), 1.0)
    if t == 0.0:
        return 0.0
    side = alpha / sides
    if spending == "pocock":
        return sides * side * math.log1p((math.e - 1.0) * t)
    z = stats.norm.isf(side / 2.0)
    return float(sides * 2.0 * stats.norm.sf(z / math.sqrt(t)))


def boundaries(
    fractions: Sequence[float], alpha: float, spending: Spending, sides: Sides = 2
) -> list[Look]:
    """The boundary at each look, the looks at increasing information fractions in (0, 1].

    The last look at fraction 1 spends what is left of alpha. A look past the designed sample
    (t > 1) is taken as t = 1: alpha cannot be spent twice.
    """
    ts = [min(float(t), 1.0) for t in fractions]
    if not ts or any(t <= 0.0 for t in ts) or any(b <= a for a, b in pairwise(ts)):
        raise ValueError("information fractions must increase, each above 0")
    looks: list[Look] = []
    grid: np.ndarray | None = None  # z values where the statistic is still inside
    density: np.ndarray | None = None  # its sub-density there (not crossed before)
    weights: np.ndarray | None = None  # Simpson weights on that grid
    previous_t = 0.0
    previous_spent = 0.0
    for t in ts:
        cumulative = spent(t, alpha, spending, sides)
        target = cumulative - previous_spent
        if grid is None:
            critical = float(stats.norm.isf(target / sides))
        else:
            assert density is not None and weights is not None
            critical = _solve(grid, density * weights, previous_t, t, target, sides)
        nominal = sides * float(stats.norm.sf(critical))
        looks.append(Look(t, critical, nominal, cumulative))
        grid, weights, density = _carry(grid, density, weights, previous_t, t, critical, sides)
        previous_t, previous_spent = t, cumulative
    return looks


def _crossing(
    grid: np.ndarray, mass: np.ndarray, t0: float, t1: float, c: float, sides: Sides
) -> float:
    """P(first crossing at t1 beyond c), from the sub-density's mass on the grid at t0."""
    scale = math.sqrt(t1 - t0)
    shift = grid * math.sqrt(t0)
    upper = stats.norm.sf((c * math.sqrt(t1) - shift) / scale)
    if sides == 2:
        upper = upper + stats.norm.cdf((-c * math.sqrt(t1) - shift) / scale)
    return float(mass @ upper)


def _solve(
    grid: np.ndarray, mass: np.ndarray, t0: float, t1: float, target: float, sides: Sides
) -> float:
    if target <= 0.0:
        return math.inf
    high = 40.0
    if _crossing(grid, mass, t0, t1, 0.0, sides) <= target:
        return 0.0
    return float(
        optimize.brentq(
            lambda c: _crossing(grid, mass, t0, t1, c, sides) - target,
            0.0,
            high,
            xtol=1e-12,
            rtol=1e-14,
        )
    )


def _simpson(low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    intervals = max(2, 2 * math.ceil((high - low) * _POINTS_PER_UNIT / 2))
    z = np.linspace(low, high, intervals + 1)
    w = np.ones(intervals + 1)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return z, w * (high - low) / (3.0 * intervals)


def _carry(
    grid: np.ndarray | None,
    density: np.ndarray | None,
    weights: np.ndarray | None,
    t0: float,
    t1: float,
    c: float,
    sides: Sides,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sub-density at t1 on the continuation region (-c, c) or (-8, c) one-sided."""
    # Below -8 (one-sided) the statistic never comes back to cross: its mass is < 1e-15.
    low = -c if sides == 2 else -8.0
    high = c if math.isfinite(c) else 8.0
    z, w = _simpson(low if math.isfinite(low) else -8.0, high)
    if grid is None:
        return z, w, stats.norm.pdf(z)
    assert density is not None and weights is not None
    scale = math.sqrt(t1 - t0)
    kernel = stats.norm.pdf(
        (z[:, None] * math.sqrt(t1) - grid[None, :] * math.sqrt(t0)) / scale
    ) * (math.sqrt(t1) / scale)
    return z, w, kernel @ (density * weights)
