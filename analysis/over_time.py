"""Results over time: the primary outcome's unadjusted comparison as outcomes accumulated. Pure.

An outcome happens on its hearing's date. For each week (Monday to Sunday in the trial's
timezone) in which an analysed person's hearing fell, every treatment arm is compared with
control among the analysed people whose hearing was in that week or before: the report's own
unadjusted figures (analysis/summaries.py `arm_rates` and `compare_unadjusted`, so a trial
that randomised whole units is compared by unit), on a growing prefix of the rows sorted by
week. No new statistic and no correction for looking repeatedly: the page marks it
exploratory, because each look is another chance of a false positive.

Cost: one `arm_rates` and one comparison per arm per week, each linear in the rows seen so far
(weeks × rows; a year of weekly looks at a million rows is a few seconds at most).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analysis.effects import ModelSpec
from analysis.population import in_population
from analysis.report import model_spec
from analysis.summaries import arm_rates, compare_unadjusted
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
    spec = model_spec(definition)
    analysed = in_population(frame, outcome.population) & frame[outcome.id].notna()
    when = pd.to_datetime(outcome_at.loc[analysed[analysed].index], utc=True)
    dated = when.notna().to_numpy()
    local = when[dated].dt.tz_convert(ZoneInfo(definition.timezone)).dt.tz_localize(None)
    days = local.dt.normalize()
    mondays = (days - pd.to_timedelta(days.dt.day_of_week, unit="D")).to_numpy()
    order = np.argsort(mondays, kind="stable")
    columns = [c for c in ("arm", "unit", outcome.id) if c in frame]
    rows = frame.loc[analysed, columns].iloc[np.flatnonzero(dated)[order]]
    sorted_weeks = mondays[order]
    weeks, starts = np.unique(sorted_weeks, return_index=True)
    ends = np.append(starts[1:], len(sorted_weeks)).astype(int)[: len(weeks)]
    found = [
        _week(rows.iloc[:end], pd.Timestamp(week), definition, spec)
        for week, end in zip(weeks, ends, strict=True)
    ]
    return OverTime(outcome.id, tuple(found), int((~dated).sum()))


def _week(
    rows: pd.DataFrame, monday: pd.Timestamp, definition: TrialDefinition, spec: ModelSpec
) -> OverTimeWeek:
    outcome = definition.primary_outcome
    rates = arm_rates(rows, outcome.id, definition, spec)
    by_arm = {a.arm: a for a in rates.arms}
    control = by_arm[definition.control_arm.id]
    comparisons = []
    for arm in definition.arms:
        if arm.id == control.arm:
            continue
        two = compare_unadjusted(
            by_arm[arm.id],
            control,
            rates,
            definition.analysis,
            lower_is_better=outcome.better == "lower",
        )
        rd = two.risk_difference
        comparisons.append(
            WeekDifference(
                arm.id,
                control.arm,
                _finite(rd.estimate),
                _finite(rd.ci_low),
                _finite(rd.ci_high),
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
