"""Time from the charge to an outcome's event, by arm: shares by 30, 90 and 180 days. Pure.

Beside the yes/no outcome, an outcome imported with its dates (analysis/outcome_dates.py:
`withdrew_on` and `charged_on`) is followed in time. Among the people the outcome analyses
(randomised, in its population, outcome observed):

- time is counted in whole days from the charge: the case's `charged` milestone (its day in
  the trial's calendar) where the trial declares one and the case has it, else the outcome
  file's `charged_on` (analysis/frame.py); a note says how many came from each when the
  trial declares the milestone. Someone with the outcome 1 has the event on its day;
  everyone else, and an event after follow-up ends, is censored when follow-up ends: at the
  analysis date or 180 days after the charge, whichever is earlier. The analysis date is
  today in the trial's timezone, or the day a closed trial closed (its data cut-off);
- left out, counted and named in a note: people with no charge date, and people with the
  outcome 1 but no date for it (they cannot be placed in time, so the shares may be low);
- each arm's share with the event by 30, 90 and 180 days is 1 - S(t) of its Kaplan–Meier
  curve, with the interval of R's `survfit` turned the same way; it is not given for a
  time nobody in the arm has been followed to yet;
- each treatment arm is compared with control, and all arms together, by the log-rank test
  over the 180 days (unstratified, uncorrected: a secondary, descriptive analysis beside the
  pre-registered one);
- when whole units were randomised and some unit has more than one person followed, those
  people are not independent, so the intervals and tests (which assume they are) are not
  given: the shares only, with a note. Units of one person each (a case per victim) are
  independent, and get both.

See docs/analysis-methods.md, "Time to the event".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analysis.date_columns import CHARGED, CHARGED_FROM, FROM_FILE, FROM_MILESTONE, date_column
from analysis.effects import ModelSpec
from analysis.labels import Labels
from analysis.stats.survival import KaplanMeier, kaplan_meier, log_rank

HORIZONS = (30, 90, 180)
FOLLOW_UP_DAYS = 180


@dataclass(frozen=True)
class ShareBy:
    """One arm's share with the event by `days` after the charge: 1 - S(days)."""

    days: int
    share: float | None
    ci_low: float | None
    ci_high: float | None
    std_error: float | None
    at_risk: int
    events: int


@dataclass(frozen=True)
class ArmFollowUp:
    arm: str
    n: int
    events: int
    by: tuple[ShareBy, ...]


@dataclass(frozen=True)
class LogRankComparison:
    """One treatment arm against control by the log-rank test (1 df)."""

    arm: str
    versus: str
    chi_square: float | None
    p_value: float | None


@dataclass(frozen=True)
class TimeToEvent:
    """An outcome followed in time from the charge (see the module docstring)."""

    as_of: str
    follow_up_days: int
    horizons: tuple[int, ...]
    arms: tuple[ArmFollowUp, ...]
    comparisons: tuple[LogRankComparison, ...]
    chi_square: float | None
    df: int
    p_value: float | None
    no_charge_date: int
    no_event_date: int
    notes: tuple[str, ...]


def analysis_date(now: datetime, timezone: str, closed_at: datetime | None = None) -> date:
    """The day follow-up ends: the day a closed trial closed, else today (trial's timezone)."""
    zone = ZoneInfo(timezone)
    end = now if closed_at is None else min(now, closed_at)
    return end.astimezone(zone).date()


def is_dated(frame: pd.DataFrame, outcome_id: str) -> bool:
    """Whether the frame carries the outcome's dates (some were imported)."""
    return date_column(outcome_id) in frame and CHARGED in frame


def follow_up(
    data: pd.DataFrame, outcome_id: str, as_of: date
) -> tuple[pd.Series, pd.Series, pd.Series, int, int]:
    """Days followed and event (0/1) of each row kept, the rows kept, and the two left out."""
    charged = pd.to_datetime(data[CHARGED])
    occurred = pd.to_datetime(data[date_column(outcome_id)])
    had_event = data[outcome_id] == 1.0
    no_charge = charged.isna()
    no_event_date = had_event & occurred.isna() & ~no_charge
    kept = ~no_charge & ~no_event_date
    ends = (pd.Timestamp(as_of) - charged[kept]).dt.days.clip(lower=0, upper=FOLLOW_UP_DAYS)
    # The import refuses an event before its charge; a frame from elsewhere counts it as day 0.
    after = (occurred[kept] - charged[kept]).dt.days.clip(lower=0)
    event = had_event[kept] & (after <= ends)
    days = after.where(event, ends).astype("float64")
    return days, event.astype("float64"), kept, int(no_charge.sum()), int(no_event_date.sum())


def time_to_event(
    data: pd.DataFrame, outcome_id: str, spec: ModelSpec, labels: Labels, as_of: date
) -> TimeToEvent:
    """The outcome's follow-up by arm and the log-rank tests (see the module docstring)."""
    days, event, kept, no_charge, no_date = follow_up(data, outcome_id, as_of)
    arms = data.loc[kept, "arm"].astype(str).to_numpy()
    order = (spec.control, *spec.treatments)
    alpha = spec.alpha
    curves = {
        arm: kaplan_meier(days[arms == arm], event[arms == arm], HORIZONS, alpha) for arm in order
    }
    # Intervals and tests assume independent people: not so when a randomised unit holds two.
    exact = not spec.clustered or not data.loc[kept, "unit"].duplicated().any()
    comparisons = tuple(
        _pairwise(days, event, arms, arm, spec.control, exact) for arm in spec.treatments
    )
    everyone = exact and all(curve.n > 0 for curve in curves.values())
    overall = log_rank(days, event, arms) if everyone else None
    return TimeToEvent(
        as_of=as_of.isoformat(),
        follow_up_days=FOLLOW_UP_DAYS,
        horizons=HORIZONS,
        arms=tuple(_arm(arm, curves[arm], exact) for arm in order),
        comparisons=comparisons,
        chi_square=overall.chi_square if overall else None,
        df=len(order) - 1,
        p_value=overall.p_value if overall else None,
        no_charge_date=no_charge,
        no_event_date=no_date,
        notes=tuple(
            _notes(labels.outcome(outcome_id), no_charge, no_date, exact)
            + _charge_source(labels.outcome(outcome_id), data.loc[kept])
        ),
    )


def _pairwise(
    days: pd.Series, event: pd.Series, arms: np.ndarray, arm: str, control: str, exact: bool
) -> LogRankComparison:
    both = (arms == arm) | (arms == control)
    if not exact or not (arms == arm).any() or not (arms == control).any():
        return LogRankComparison(arm, control, None, None)
    test = log_rank(days[both], event[both], arms[both])
    return LogRankComparison(arm, control, test.chi_square, test.p_value)


def _arm(arm: str, curve: KaplanMeier, exact: bool) -> ArmFollowUp:
    by = []
    for point in curve.at:
        share = None if point.survival is None else 1.0 - point.survival
        low = None if point.ci_high is None or not exact else 1.0 - point.ci_high
        high = None if point.ci_low is None or not exact else 1.0 - point.ci_low
        error = point.std_error if exact else None
        by.append(ShareBy(int(point.time), share, low, high, error, point.at_risk, point.events))
    return ArmFollowUp(arm, curve.n, curve.events, tuple(by))


def _charge_source(name: str, followed: pd.DataFrame) -> list[str]:
    """Where the charge of the people followed came from, when the trial declares a `charged`
    milestone (the frame then says, per person, in `charged_from`)."""
    if CHARGED_FROM not in followed:
        return []
    counts = followed[CHARGED_FROM].value_counts()
    milestone, file = int(counts.get(FROM_MILESTONE, 0)), int(counts.get(FROM_FILE, 0))
    return [
        f"time to {name} is counted from the case's 'charged' milestone for {milestone} "
        f"participant(s) and from the outcome file's charged_on for {file} (cases with no "
        "'charged' milestone recorded)"
    ]


def _notes(name: str, no_charge: int, no_date: int, exact: bool) -> list[str]:
    notes = []
    if no_charge:
        notes.append(f"time to {name} leaves out {no_charge} participant(s) with no charge date")
    if no_date:
        notes.append(
            f"time to {name} leaves out {no_date} participant(s) with {name} recorded but no "
            "date for it: the shares by each day may be too low"
        )
    if not exact:
        notes.append(
            f"time to {name}: whole units were randomised and some hold more than one person "
            "followed; the Kaplan–Meier intervals and log-rank tests treat people as "
            "independent, so only the shares are given"
        )
    return notes
