"""Results over time: the primary outcome's unadjusted comparison as outcomes accumulated. Pure.

An outcome happens on its hearing's date. For each week (Monday to Sunday in the trial's
timezone) in which an analysed person's hearing fell, every treatment arm is compared with
control among the analysed people whose hearing was in that week or before: the report's own
unadjusted figures (analysis/summaries.py `rates_from_counts` or, when whole units were
randomised, `rates_from_units`, then `unadjusted_difference`, the interval that
`compare_unadjusted` gives), on the people seen so far. No new statistic and no correction for
looking repeatedly: the page marks it exploratory, as each look is another chance of a false
positive.

A primary outcome that is not yes/no (a scale, count or measurement) gets the same weeks with
each arm's mean answer so far and the unadjusted difference in means from control, in the
outcome's units: its interval is that of `lm_robust(y ~ arm)` on the people seen so far, HC2 on
n - 2 df, or CR2 with Bell-McCaffrey df by unit when whole units were randomised
(:func:`mean_difference`). The arm's `events` is then None (nothing is counted); `type` says
which kind the weeks are.

Cost: running totals per (arm, unit) are added to week by week, so a week costs a pass over
its own rows and one over the units, not over everyone seen so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from analysis.effects import ModelSpec
from analysis.population import in_population
from analysis.report import BLAS_THREADS, model_spec
from analysis.stats.clustered import ArmUnits
from analysis.stats.design import factor_codes
from analysis.summaries import rates_from_counts, rates_from_units, unadjusted_difference
from experiments.definition import TrialDefinition


@dataclass(frozen=True)
class ArmCount:
    """Analysed people and events in one arm, counting outcomes up to the end of the week; for
    an outcome that is not yes/no, the mean answer instead of events."""

    arm: str
    n: int
    events: int | None
    mean: float | None = None


@dataclass(frozen=True)
class WeekDifference:
    """One treatment arm minus control (a proportion, 0.112 being 11.2 points; or a difference
    in means in the outcome's units), with its interval."""

    arm: str
    versus: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class OverTimeWeek:
    week_starting: str  # ISO date of the Monday, in the trial's timezone
    arms: tuple[ArmCount, ...]
    comparisons: tuple[WeekDifference, ...]


@dataclass(frozen=True)
class OverTime:
    outcome: str
    weeks: tuple[OverTimeWeek, ...]
    undated: int  # analysed people whose outcome has no date, left out of every week
    type: str = "binary"  # binary, or scale, count or continuous: weeks of means


def results_over_time(
    frame: pd.DataFrame, outcome_at: pd.Series, definition: TrialDefinition
) -> OverTime:
    """The primary outcome's cumulative comparison by week (see module docstring).

    `outcome_at` is each frame row's outcome time (aware, or naive UTC), NaT when unknown,
    aligned with the frame's index.
    """
    outcome = definition.primary_outcome
    spec = model_spec(definition)
    measured = outcome.type != "binary"
    values = pd.to_numeric(frame[outcome.id], errors="coerce") if measured else frame[outcome.id]
    data = frame.loc[in_population(frame, outcome.population) & values.notna()]
    when = pd.to_datetime(outcome_at.loc[data.index], utc=True)
    local = when.dt.tz_convert(ZoneInfo(definition.timezone)).dt.tz_localize(None)
    days = local.dt.normalize()
    mondays = (days - pd.to_timedelta(days.dt.day_of_week, unit="D")).to_numpy()
    arm_codes, labels = factor_codes(data["arm"])
    position = np.array([[a.id for a in definition.arms].index(label) for label in labels] + [-1])
    arms = position[arm_codes]  # each row's arm, as its place in the definition; -1 if none
    units = (
        np.asarray(pd.factorize(data["unit"])[0], dtype=np.intp)
        if spec.clustered
        else np.zeros(len(data), dtype=np.intp)
    )
    keep = ~pd.isna(mondays) & (arms >= 0) & (units >= 0)
    order = np.argsort(mondays[keep], kind="stable")
    weeks, starts = np.unique(mondays[keep][order], return_index=True)
    cells = _Cells(
        arms[keep][order],
        units[keep][order],
        (values.loc[data.index] if measured else data[outcome.id]).to_numpy(float)[keep][order],
        squares=measured,
    )
    week_of = _mean_week if measured else _week
    ends = np.append(starts[1:], order.size).astype(int)[: weeks.size]
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        found = [
            week_of(cells, start, end, pd.Timestamp(week), definition, spec)
            for week, start, end in zip(weeks, starts, ends, strict=True)
        ]
    return OverTime(outcome.id, tuple(found), int(pd.isna(mondays).sum()), outcome.type)


class _Cells:
    """Running totals of outcomes and people per (arm, unit) cell, added to week by week."""

    def __init__(
        self, arms: np.ndarray, units: np.ndarray, values: np.ndarray, *, squares: bool = False
    ) -> None:
        width = int(units.max(initial=-1)) + 1
        keys, self.cell = np.unique(
            arms.astype(np.int64) * max(width, 1) + units, return_inverse=True
        )
        self.arm_of_cell = keys // max(width, 1)
        self.values = values
        self.events = np.zeros(keys.size)
        self.squares = np.zeros(keys.size) if squares else None
        self.sizes = np.zeros(keys.size)

    def add(self, start: int, end: int) -> None:
        cell = self.cell[start:end]
        self.sizes += np.bincount(cell, minlength=self.sizes.size)
        self.events += np.bincount(cell, weights=self.values[start:end], minlength=self.sizes.size)
        if self.squares is not None:  # only a mean's spread needs them: no cost for rates
            self.squares += np.bincount(
                cell, weights=self.values[start:end] ** 2, minlength=self.sizes.size
            )

    def units(self, arm: int) -> ArmUnits:
        seen = (self.arm_of_cell == arm) & (self.sizes > 0)
        return ArmUnits(self.events[seen], self.sizes[seen])

    def moments(self, arm: int) -> _Moments:
        """The arm's answers so far: totals and sizes per unit, and the sum of squares."""
        seen = (self.arm_of_cell == arm) & (self.sizes > 0)
        squares = float(self.squares[seen].sum()) if self.squares is not None else 0.0
        return _Moments(self.events[seen], self.sizes[seen], squares)


@dataclass(frozen=True)
class _Moments:
    totals: np.ndarray  # sum of the answers in each unit
    sizes: np.ndarray  # people with an answer in each unit
    squares: float  # sum of the squared answers

    @property
    def n(self) -> int:
        return int(self.sizes.sum())

    @property
    def mean(self) -> float | None:
        return float(self.totals.sum()) / self.n if self.n else None


def _week(
    cells: _Cells,
    start: int,
    end: int,
    monday: pd.Timestamp,
    definition: TrialDefinition,
    spec: ModelSpec,
) -> OverTimeWeek:
    cells.add(start, end)
    by_unit = {arm.id: cells.units(i) for i, arm in enumerate(definition.arms)}
    rates = (
        rates_from_units(by_unit, spec.alpha)
        if spec.clustered
        else rates_from_counts({arm: (u.n, u.x) for arm, u in by_unit.items()}, spec.alpha)
    )
    by_arm = {a.arm: a for a in rates.arms}
    control = by_arm[definition.control_arm.id]
    comparisons = []
    for arm in definition.arms:
        if arm.id == control.arm:
            continue
        rd = unadjusted_difference(by_arm[arm.id], control, rates, spec.alpha)
        comparisons.append(
            WeekDifference(
                arm.id, control.arm, _finite(rd.estimate), _finite(rd.ci_low), _finite(rd.ci_high)
            )
        )
    return OverTimeWeek(
        monday.date().isoformat(),
        tuple(ArmCount(a.arm, a.n, a.events) for a in rates.arms),
        tuple(comparisons),
    )


def _finite(value: float | None) -> float | None:
    """A plain float for the JSON, None for a missing or non-finite one."""
    return float(value) if value is not None and math.isfinite(value) else None


def _mean_week(
    cells: _Cells,
    start: int,
    end: int,
    monday: pd.Timestamp,
    definition: TrialDefinition,
    spec: ModelSpec,
) -> OverTimeWeek:
    """A week of a scale, count or measurement: each arm's mean so far, each difference."""
    cells.add(start, end)
    parts = {arm.id: cells.moments(i) for i, arm in enumerate(definition.arms)}
    control = definition.control_arm.id
    comparisons = []
    for arm in definition.arms:
        if arm.id == control:
            continue
        found = mean_difference(
            parts[arm.id], parts[control], clustered=spec.clustered, alpha=spec.alpha
        )
        comparisons.append(WeekDifference(arm.id, control, *map(_finite, found)))
    return OverTimeWeek(
        monday.date().isoformat(),
        tuple(ArmCount(arm, p.n, None, _finite(p.mean)) for arm, p in parts.items()),
        tuple(comparisons),
    )


def mean_difference(
    arm: _Moments, control: _Moments, *, clustered: bool, alpha: float
) -> tuple[float | None, float | None, float | None]:
    """The arm's mean minus control's, with the interval of ``lm_robust(y ~ arm)`` on the two
    arms' answers: HC2 (``s1^2/n1 + s0^2/n0``) on ``n1 + n0 - 2`` df; or, by unit, CR2 with the
    Bell-McCaffrey df, from each unit's total and size (analysis/stats/clustered.py
    ``cr2_difference`` gives the same for a yes/no outcome)."""
    m1, m0 = arm.mean, control.mean
    if m1 is None or m0 is None:
        return None, None, None
    estimate = m1 - m0
    if clustered:
        if min(arm.sizes.size, control.sizes.size) < 2:
            return estimate, None, None
        (v1, t1), (v0, t0) = _cr2_mean(arm, m1), _cr2_mean(control, m0)
        n1, n0 = arm.n, control.n
        df = (1 / n1 + 1 / n0) ** 2 / (t1 / n1**4 + t0 / n0**4)
    else:
        if min(arm.n, control.n) < 2:
            return estimate, None, None
        v1, v0 = _spread(arm, m1) / arm.n, _spread(control, m0) / control.n
        df = arm.n + control.n - 2
    se = math.sqrt(max(v1 + v0, 0.0))
    if se <= 1e-12 * max(1.0, abs(m1), abs(m0)):
        return estimate, None, None
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    return estimate, estimate - crit * se, estimate + crit * se


def _spread(part: _Moments, mean: float) -> float:
    """The sample variance of the answers (divisor n - 1) from their sum of squares."""
    return max(part.squares - part.n * mean * mean, 0.0) / (part.n - 1)


def _cr2_mean(part: _Moments, mean: float) -> tuple[float, float]:
    """CR2 variance of an arm's mean from its units' totals, and the Bell-McCaffrey trace term
    (the algebra of analysis/stats/clustered.py ``_cr2_parts``, with the mean not rounded)."""
    n, m = part.n, part.sizes
    resid = part.totals - mean * m
    variance = float(np.sum(resid * resid * n / (n - m)) / (n * n))
    a = m * m / (n - m)
    return variance, float(np.sum(m * m) + a.sum() ** 2 - np.sum(a * a))
