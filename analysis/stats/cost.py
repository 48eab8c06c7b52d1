"""Incremental cost per additional participant with the event (e.g. per extra attendance)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from analysis.stats.proportions import IntervalEstimate


class CostStatus(StrEnum):
    """Why a cost per extra event is, or is not, given (the results JSON's `cost_status`)."""

    ESTIMATED = "estimated"  # fewer events cost more: ratio and interval
    UNBOUNDED = "unbounded"  # ratio given; the difference's interval includes 0, so no interval
    HARMFUL = "harmful"  # fewer events than control: no cost per *extra* event
    DOMINANT = "dominant"  # more events and no dearer than control: nothing to pay per event
    NO_DIFFERENCE = "no_difference"  # same event rate as control: ratio undefined
    NOT_ESTIMABLE = "not_estimable"  # no risk difference


@dataclass(frozen=True)
class CostPerEvent:
    """Cost per additional event; ``None`` parts are explained by ``note`` and ``status``."""

    incremental_cost: float
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    note: str | None = None
    status: CostStatus = CostStatus.ESTIMATED
    per: str = "extra event"  # what one unit of the ratio buys: an extra event or one avoided


@dataclass(frozen=True)
class _Direction:
    per: str
    gained: str  # the arm did better than control
    lost: str  # the arm did worse than control


HIGHER = _Direction("extra event", "more events", "fewer events")
LOWER = _Direction("event avoided", "fewer events", "more events")


def cost_per_additional_event(
    mean_cost_arm: float,
    mean_cost_control: float,
    risk_difference: IntervalEstimate,
    *,
    lower_is_better: bool = False,
) -> CostPerEvent:
    """Incremental cost-effectiveness ratio ``(mean cost in arm - in control) / risk difference``.

    The interval transforms the ends of the risk difference's interval, ``dC / U`` and
    ``dC / L``. This treats the incremental cost per participant as known (message charges
    are set by tariff, so their sampling variation is negligible beside the outcome's); it is
    then exactly Fieller's interval with zero variance in the numerator. When the risk
    difference's interval contains 0 the ratio is unbounded and no interval is given. Pass
    the cluster-robust difference when whole units were randomised.

    A ratio is only a cost per *extra* event when the arm has more events and costs more.
    A harmful arm (fewer events) or a dominant one (more events, no dearer) gets no ratio,
    with a note in words: a negative ratio mixes "saves money" with "loses events" and would
    be read as a bargain (Drummond MF et al. (2015) Methods for the Economic Evaluation of
    Health Care Programmes, 4th ed., section 4.5; Briggs AH (2001) ch. 8 in Drummond &
    McGuire, Economic Evaluation in Health Care).

    With ``lower_is_better`` (withdrawal) the gain is events avoided: the ratio is the cost per
    event avoided, ``dC / (-RD)``, and "harmful" means more events than control.

    References
    ----------
    Fieller EC (1954) J R Stat Soc B 16:175-185. Willan AR, O'Brien BJ (1996) Confidence
    intervals for cost-effectiveness ratios: an application of Fieller's theorem. Health
    Econ 5:297-305.
    """
    delta = _plus_zero(mean_cost_arm - mean_cost_control)
    way = LOWER if lower_is_better else HIGHER
    gain = _negated(risk_difference) if lower_is_better else risk_difference
    rd, low, high = gain.estimate, gain.ci_low, gain.ci_high

    def without(note: str, status: CostStatus) -> CostPerEvent:
        return CostPerEvent(delta, None, None, None, note, status, way.per)

    if rd is None:
        return without(risk_difference.note or "no risk difference", CostStatus.NOT_ESTIMABLE)
    if rd == 0.0:
        return without("no difference in events: ratio undefined", CostStatus.NO_DIFFERENCE)
    if rd < 0.0:
        return without(_harmful_note(delta, way), CostStatus.HARMFUL)
    if delta <= 0.0:
        note = (
            f"not applicable: the arm had {way.gained} than control and cost "
            + ("no more" if delta == 0.0 else "less")
            + f" per participant, so there is no cost per {way.per} to pay"
        )
        return without(note, CostStatus.DOMINANT)
    if low is None or high is None or low <= 0.0 <= high:
        note = f"the risk-difference interval includes 0, so the cost per {way.per} is unbounded"
        return CostPerEvent(delta, delta / rd, None, None, note, CostStatus.UNBOUNDED, way.per)
    ends = sorted((delta / low, delta / high))
    return CostPerEvent(delta, delta / rd, ends[0], ends[1], per=way.per)


def _negated(difference: IntervalEstimate) -> IntervalEstimate:
    """The difference the other way round: control minus arm, its interval flipped."""

    def minus(value: float | None) -> float | None:
        return None if value is None else -value + 0.0

    low, high = minus(difference.ci_high), minus(difference.ci_low)
    return IntervalEstimate(minus(difference.estimate), low, high, difference.note)


def _harmful_note(delta: float, way: _Direction) -> str:
    if delta > 0.0:
        cost = "cost more per participant"
    elif delta < 0.0:
        cost = f"cost less per participant (a saving, bought with {way.lost})"
    else:
        cost = "cost the same per participant"
    return f"not applicable: the arm had {way.lost} than control and {cost}"


def _plus_zero(value: float) -> float:
    """``-0.0`` becomes ``0.0``: a zero cost difference has no sign."""
    return value + 0.0
