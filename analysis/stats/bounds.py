"""Lee (2009) bounds on a difference in means when response differs between arms.

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
The bounds use no covariates and no clustering, and no interval is given for them.

Lee DS (2009) Training, wages, and sample selection: estimating sharp bounds on treatment
effects. Review of Economic Studies 76:1071-1102.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.stats._types import ArrayLike

# Response rates differing by more than this (a share) bias a complete-case comparison.
RESPONSE_GAP = 0.05


@dataclass(frozen=True)
class LeeBounds:
    """Bounds on the treated-minus-control difference in means; the share trimmed, and where."""

    lower: float | None
    upper: float | None
    trimmed_share: float
    trimmed_arm: str | None  # "treated", "control", or None when response rates are equal
    response_treated: float | None
    response_control: float | None


def trimmed_mean(values: ArrayLike, share: float, *, from_top: bool) -> float:
    """Mean of ``values`` with mass ``share`` removed from the top (or bottom), ties exact."""
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
    return float((weight * y).sum() / weight.sum())


def lee_bounds(
    treated: ArrayLike, control: ArrayLike, *, randomised_treated: int, randomised_control: int
) -> LeeBounds:
    """Lee bounds for the arm's answers ``treated`` against control's ``control``.

    ``randomised_*`` count everyone in each arm who could have answered (in the outcome's
    population); the answers given are the respondents.
    """
    a = np.asarray(treated, dtype=np.float64)
    b = np.asarray(control, dtype=np.float64)
    if randomised_treated <= 0 or randomised_control <= 0:
        return LeeBounds(None, None, 0.0, None, None, None)
    q1 = a.size / randomised_treated
    q0 = b.size / randomised_control
    if a.size == 0 or b.size == 0:
        return LeeBounds(None, None, 0.0, None, q1, q0)
    if q1 == q0:
        diff = float(a.mean() - b.mean())
        return LeeBounds(diff, diff, 0.0, None, q1, q0)
    if q1 > q0:
        share = (q1 - q0) / q1
        low = trimmed_mean(a, share, from_top=True) - float(b.mean())
        high = trimmed_mean(a, share, from_top=False) - float(b.mean())
        return LeeBounds(low, high, share, "treated", q1, q0)
    share = (q0 - q1) / q0
    low = float(a.mean()) - trimmed_mean(b, share, from_top=False)
    high = float(a.mean()) - trimmed_mean(b, share, from_top=True)
    return LeeBounds(low, high, share, "control", q1, q0)
