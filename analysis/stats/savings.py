"""Net saving per 1,000 people: what the events an arm avoids save, less what its messages cost."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.stats.proportions import IntervalEstimate

PER = 1000
ESTIMATE = "estimate"


@dataclass(frozen=True)
class NetSaving:
    """The net saving per ``per`` people of an arm over control, in the trial's currency.

    Always an estimate (``label``): it rests on the trial's effect and on a cost of an event
    taken from ``source``. ``None`` parts are explained by ``note``. A negative saving is a
    net cost.
    """

    events_avoided: float | None
    events_avoided_ci_low: float | None
    events_avoided_ci_high: float | None
    gross_saving: float | None
    message_cost: float
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    cost_of_event: float
    source: str
    per: int = PER
    label: str = ESTIMATE
    note: str | None = None


def net_saving(
    effect: IntervalEstimate,
    *,
    cost_of_event: float,
    source: str,
    mean_cost_arm: float,
    mean_cost_control: float,
    lower_is_better: bool = False,
    per: int = PER,
) -> NetSaving:
    """Net saving per ``per`` people: events avoided times their cost, less the extra message cost.

    ``effect`` is the arm's risk difference over control (arm minus control) with its
    interval; ``cost_of_event`` is what one *unwanted* result costs: a non-attendance when
    higher is better, so each extra attendance avoids one; a withdrawal when lower is better,
    so the events avoided are ``-RD``. Per ``per`` people:

        events avoided  E = per * RD            (or per * -RD when lower is better)
        gross saving    G = E * cost_of_event
        message cost    M = per * (mean cost per person in the arm - in control)
        net saving      N = G - M

    The interval of ``N`` is the effect's interval carried through the same line: the cost per
    person and the cost of an event are taken as fixed (message charges are set by tariff, and
    the cost of an event is a published figure, not something the trial measured), so the
    interval reflects the uncertainty in the effect only and is too narrow by whatever
    uncertainty the cost of an event carries. N is linear in RD, so the transformed ends are
    exactly the interval of N at the effect's level.

    References
    ----------
    Drummond MF et al. (2015) Methods for the Economic Evaluation of Health Care Programmes,
    4th ed., ch. 4 (net benefit) and ch. 11 (uncertainty in cost parameters). Stinnett AA,
    Mullahy J (1998) Net health benefits. Med Decis Making 18:S68-S80.
    """
    if cost_of_event < 0:
        raise ValueError(f"the cost of an event cannot be negative, got {cost_of_event}")
    message_cost = _plus_zero(per * (mean_cost_arm - mean_cost_control))
    sign = -1.0 if lower_is_better else 1.0

    def avoided(rd: float | None) -> float | None:
        return None if rd is None else _plus_zero(per * sign * rd)

    def net(events: float | None) -> float | None:
        return None if events is None else _plus_zero(events * cost_of_event - message_cost)

    events = avoided(effect.estimate)
    ends = sorted(e for e in (avoided(effect.ci_low), avoided(effect.ci_high)) if e is not None)
    low, high = (ends[0], ends[1]) if len(ends) == 2 else (None, None)
    note = None
    if events is None:
        note = f"no net saving: {effect.note or 'the effect could not be estimated'}"
    elif low is None:
        note = "the effect has no interval, so neither has the net saving"
    return NetSaving(
        events_avoided=events,
        events_avoided_ci_low=low,
        events_avoided_ci_high=high,
        gross_saving=None if events is None else _plus_zero(events * cost_of_event),
        message_cost=message_cost,
        estimate=net(events),
        ci_low=net(low),
        ci_high=net(high),
        cost_of_event=cost_of_event,
        source=source,
        per=per,
        note=note,
    )


def _plus_zero(value: float) -> float:
    """``-0.0`` becomes ``0.0``: a zero saving has no sign."""
    return value + 0.0
