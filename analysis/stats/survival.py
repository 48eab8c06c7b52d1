"""Time to an event: Kaplan–Meier estimates at given times and the log-rank test. Pure.

The estimates and the test statistic are statsmodels' (``statsmodels.duration.survfunc``),
which give R's ``survival`` package's numbers to rounding error: ``SurvfuncRight`` the
Kaplan–Meier curve with Greenwood's standard error, ``survdiff`` the log-rank chi-square.
The code here reads the curve at the times asked for, adds the interval R's ``survfit``
gives by default (``conf.type = "log"``, which statsmodels does not offer pointwise), takes
the p-value from the upper tail (``1 - cdf`` loses small p-values) and gives every undefined
case a ``None`` with its reason. statsmodels is imported inside the functions, so loading the
package does not load it. Checked against R in tests/analysis/test_stats_survival.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.stats._types import ArrayLike, FloatArray


@dataclass(frozen=True)
class SurvivalAt:
    """The curve of one group at one time, as R's ``summary(fit, times = t)`` gives it."""

    time: float
    at_risk: int  # still followed at `time` (their time is `time` or later)
    events: int  # events at or before `time`
    survival: float | None
    std_error: float | None  # Greenwood's, on the scale of S(t)
    ci_low: float | None
    ci_high: float | None
    note: str | None = None


@dataclass(frozen=True)
class KaplanMeier:
    """One group's Kaplan–Meier estimates at the times asked for."""

    n: int
    events: int
    alpha: float
    at: tuple[SurvivalAt, ...]


@dataclass(frozen=True)
class LogRank:
    """The log-rank test of equal curves across `groups`; chi-square on len(groups) - 1 df."""

    groups: tuple[str, ...]
    chi_square: float | None
    df: int
    p_value: float | None
    note: str | None = None


def _checked(time: ArrayLike, event: ArrayLike) -> tuple[FloatArray, FloatArray]:
    times = np.asarray(time, dtype=np.float64)
    events = np.asarray(event, dtype=np.float64)
    if times.shape != events.shape or times.ndim != 1:
        raise ValueError("time and event must be 1-d arrays of the same length")
    if not np.all(np.isfinite(times)) or np.any(times < 0):
        raise ValueError("every time must be finite and at least 0")
    if not np.all((events == 0) | (events == 1)):
        raise ValueError("every event must be 0 (censored) or 1 (the event)")
    return times, events


def kaplan_meier(
    time: ArrayLike, event: ArrayLike, at: Sequence[float], alpha: float = 0.05
) -> KaplanMeier:
    """Kaplan–Meier S(t) at each time in `at`, with Greenwood's SE and the log interval.

    Parameters
    ----------
    time : array_like
        Follow-up of each person: the time of their event, or when they were censored.
    event : array_like
        1 where the person had the event at `time`, 0 where they were censored then. An
        event and a censoring at the same time count the event first, as R does.
    at : sequence of float
        Times at which to read the curve (a step function, right-continuous).
    alpha : float
        1 - the confidence level of the intervals.

    Returns
    -------
    KaplanMeier
        For each time: those still at risk, the events so far, S(t), its standard error
        ``S(t) sqrt(sum d/(n(n - d)))`` (Greenwood 1926) and the interval
        ``exp(log S(t) -/+ z se(log S(t)))``, its upper end capped at 1: R ``survfit``'s
        default ``conf.type = "log"`` (Kalbfleisch & Prentice 2002, section 1.4). S(t) is
        ``None`` beyond the longest follow-up (nobody is left to say), as R's ``summary``
        leaves such times out; where S(t) is 0 there is no standard error or interval (R
        gives NA).

    References
    ----------
    Kaplan EL, Meier P (1958) JASA 53:457-481. Greenwood M (1926) Reports on Public Health and
    Medical Subjects 33. Therneau TM, Grambsch PM (2000) Modeling Survival Data, section 2.1.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    times, events = _checked(time, event)
    if times.size == 0:
        nobody = "nobody in this group is followed"
        empty = tuple(SurvivalAt(t, 0, 0, None, None, None, None, nobody) for t in at)
        return KaplanMeier(0, 0, alpha, empty)
    from statsmodels.duration.survfunc import SurvfuncRight

    curve = SurvfuncRight(times, events)
    z = float(stats.norm.isf(alpha / 2))
    longest = float(times.max())
    points = []
    for t in at:
        at_risk, so_far = int(np.sum(times >= t)), int(np.sum(events[times <= t]))
        if t > longest:
            note = f"nobody in this group is followed as long as {t:g}"
            points.append(SurvivalAt(t, 0, so_far, None, None, None, None, note))
            continue
        step = int(np.searchsorted(curve.surv_times, t, side="right")) - 1
        survival = 1.0 if step < 0 else float(curve.surv_prob[step])
        std_error = 0.0 if step < 0 else float(curve.surv_prob_se[step])
        points.append(_with_interval(t, at_risk, so_far, survival, std_error, z))
    return KaplanMeier(int(times.size), int(events.sum()), alpha, tuple(points))


def _with_interval(
    t: float, at_risk: int, so_far: int, survival: float, std_error: float, z: float
) -> SurvivalAt:
    if survival <= 0.0 or not math.isfinite(std_error):
        note = "everyone still followed had the event: no standard error or interval"
        return SurvivalAt(t, at_risk, so_far, 0.0, None, None, None, note)
    spread = z * std_error / survival
    low, high = survival * math.exp(-spread), min(1.0, survival * math.exp(spread))
    return SurvivalAt(t, at_risk, so_far, survival, std_error, low, high)


def log_rank(time: ArrayLike, event: ArrayLike, group: ArrayLike) -> LogRank:
    """The log-rank test that every group has the same curve: R ``survdiff(rho = 0)``.

    The chi-square is ``(O - E)' V^- (O - E)`` over the groups but one, with the
    hypergeometric variance of each time's events (Mantel 1966; Peto & Peto 1972), on
    groups - 1 df; the p-value is its upper tail. There is no test (``None`` and a note) with
    fewer than two groups or no event at all.

    References
    ----------
    Mantel N (1966) Cancer Chemother Rep 50:163-170. Peto R, Peto J (1972) JRSS A 135:185-207.
    Therneau TM, Grambsch PM (2000) Modeling Survival Data, section 2.4.
    """
    times, events = _checked(time, event)
    groups = np.asarray(group).astype(str)
    if groups.shape != times.shape:
        raise ValueError("group must have one value per time")
    names = tuple(str(g) for g in dict.fromkeys(groups.tolist()))
    df = len(names) - 1
    if df < 1:
        return LogRank(names, None, max(df, 0), None, "fewer than two groups: nothing to compare")
    if not events.any():
        return LogRank(names, None, df, None, "nobody had the event: nothing to compare")
    from statsmodels.duration.survfunc import survdiff

    try:
        chi_square, _ = survdiff(times, events, groups)
    except np.linalg.LinAlgError:
        return LogRank(names, None, df, None, "the test's variance is singular: no test")
    chi_square = float(chi_square)
    return LogRank(names, chi_square, df, float(stats.chi2.sf(chi_square, df)))
