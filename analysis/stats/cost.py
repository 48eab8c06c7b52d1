"""Incremental cost per additional participant with the event (e.g. per extra attendance)."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.stats.proportions import IntervalEstimate


@dataclass(frozen=True)
class CostPerEvent:
    """Cost per additional event; ``None`` parts are explained by ``note``."""

    incremental_cost: float
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    note: str | None = None


def cost_per_additional_event(
    mean_cost_arm: float, mean_cost_control: float, risk_difference: IntervalEstimate
) -> CostPerEvent:
    """Incremental cost-effectiveness ratio ``(mean cost in arm - in control) / risk difference``.

    The interval transforms the ends of the risk difference's interval, ``dC / U`` and
    ``dC / L``. This treats the incremental cost per participant as known (message charges
    are set by tariff, so their sampling variation is negligible beside the outcome's); it is
    then exactly Fieller's interval with zero variance in the numerator. When the risk
    difference's interval contains 0 the ratio is unbounded and no interval is given.

    References
    ----------
    Fieller EC (1954) J R Stat Soc B 16:175-185. Willan AR, O'Brien BJ (1996) Confidence
    intervals for cost-effectiveness ratios: an application of Fieller's theorem. Health
    Econ 5:297-305.
    """
    delta = mean_cost_arm - mean_cost_control
    rd, low, high = risk_difference.estimate, risk_difference.ci_low, risk_difference.ci_high
    if rd is None:
        return CostPerEvent(delta, None, None, None, risk_difference.note or "no risk difference")
    if rd == 0.0:
        return CostPerEvent(delta, None, None, None, "no difference in events: ratio undefined")
    if low is None or high is None or low <= 0.0 <= high:
        note = "the risk-difference interval includes 0, so the cost per event is unbounded"
        return CostPerEvent(delta, delta / rd, None, None, note)
    ends = sorted((delta / low, delta / high))
    return CostPerEvent(delta, delta / rd, ends[0], ends[1])
