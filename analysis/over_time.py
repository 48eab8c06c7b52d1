"""Results over time: the primary outcome's unadjusted comparison as outcomes accumulated. Pure.

An outcome happens on its hearing's date. For each week (Monday to Sunday in the trial's
timezone) in which an analysed person's hearing fell, every treatment arm is compared with
control among the analysed people whose hearing was in that week or before: the report's own
unadjusted figures (analysis/summaries.py `rates_from_counts` or, when whole units were
randomised, `rates_from_units`, then `unadjusted_difference`, the interval that
`compare_unadjusted` gives), on the people seen so far. No new statistic and no correction for
looking repeatedly: the page marks it exploratory, as each look is another chance of a false
positive. A primary outcome that is not yes/no has no weeks here (not computed).

Cost: running totals per (arm, unit) are added to week by week, so a week costs a pass over
its own rows and one over the units, not over everyone seen so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
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
    """Analysed people and events in one arm, counting outcomes up to the end of the week."""

    arm: str
    n: int
    events: int


@dataclass(frozen=True)
class WeekDifference:
    """One treatment arm minus control (a proportion; 0.112 is 11.2 points), with its interval."""

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


def results_over_time(
    frame: pd.DataFrame, outcome_at: pd.Series, definition: TrialDefinition
) -> OverTime:
    """The primary outcome's cumulative comparison by week (see module docstring).

    `outcome_at` is each frame row's outcome time (aware, or naive UTC), NaT when unknown,
    aligned with the frame's index.
    """
    outcome = definition.primary_outcome
    if outcome.type != "binary":
        return OverTime(outcome.id, (), 0)  # a comparison of rates: yes/no outcomes only
    spec = model_spec(definition)
    data = frame.loc[in_population(frame, outcome.population) & frame[outcome.id].notna()]
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
        arms[keep][order], units[keep][order], data[outcome.id].to_numpy(float)[keep][order]
    )
    ends = np.append(starts[1:], order.size).astype(int)[: weeks.size]
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        found = [
            _week(cells, start, end, pd.Timestamp(week), definition, spec)
            for week, start, end in zip(weeks, starts, ends, strict=True)
        ]
    return OverTime(outcome.id, tuple(found), int(pd.isna(mondays).sum()))


class _Cells:
    """Running totals of outcomes and people per (arm, unit) cell, added to week by week."""

    def __init__(self, arms: np.ndarray, units: np.ndarray, values: np.ndarray) -> None:
        width = int(units.max(initial=-1)) + 1
        keys, self.cell = np.unique(
            arms.astype(np.int64) * max(width, 1) + units, return_inverse=True
        )
        self.arm_of_cell = keys // max(width, 1)
        self.values = values
        self.events = np.zeros(keys.size)
        self.sizes = np.zeros(keys.size)

    def add(self, start: int, end: int) -> None:
        cell = self.cell[start:end]
        self.sizes += np.bincount(cell, minlength=self.sizes.size)
        self.events += np.bincount(cell, weights=self.values[start:end], minlength=self.sizes.size)

    def units(self, arm: int) -> ArmUnits:
        seen = (self.arm_of_cell == arm) & (self.sizes > 0)
        return ArmUnits(self.events[seen], self.sizes[seen])


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
