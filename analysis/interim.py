"""Interim looks: what the plan allows a data monitoring committee to conclude before the end.

A trial that plans interim looks (`analysis.interim`, docs/trial-definition.md) may stop an
arm early only when, at a look, its comparison with control crosses the look's boundary. The
boundaries come from the plan's alpha-spending function (analysis/stats/spending.py),
recomputed at the information fractions actually reached (the share of the designed sample
whose outcome is known), so that over all looks the chance of a false stop stays at alpha.

- **Which comparison.** The plan's `on` outcome (the primary unless named), each treatment
  arm against control, by the pre-registered linear model's estimate and standard error
  (Z = estimate / SE): the same figures the results page gives.
- **Several arms.** With a correction across arms (holm or bonferroni), each arm's
  boundary is at alpha / (number of treatment arms): Bonferroni across arms, then spending
  within each, which keeps the family's error rate and is conservative.
- **Planned or not.** A look is planned when its fraction is within 0.1 of a planned look's
  that an earlier look has not taken. An unplanned look is still a look: it spends alpha as
  the spending function says at its fraction (so the final boundary rises), it is labelled
  unplanned, and what it shows is the boundary and whether it was crossed, never the nominal
  p-value as if nothing had been looked at before.
- Each look is kept as it was (`interim_look`), audited, and never recomputed: later data
  cannot change what the committee saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from analysis.report import OutcomeReport, TrialReport
from analysis.stats.spending import boundaries
from experiments.definition import Interim, TrialDefinition
from nudge import audit
from nudge.clock import Clock
from nudge.errors import NudgeError
from nudge.models import InterimLook

PLANNED_WITHIN = 0.1  # information fraction either side of a planned look


@dataclass(frozen=True)
class ArmLook:
    arm: str
    estimate: float | None
    std_error: float | None
    z: float | None
    crossed: str | None  # "benefit", "harm" or None
    reason: str | None = None  # why there is no Z

    def as_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "std_error": self.std_error,
            "z": self.z,
            "crossed": self.crossed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class LookResult:
    number: int
    outcome: str
    observed: int
    fraction: float
    planned: bool
    critical: float
    nominal_alpha: float  # the two-sided p-value at the boundary, for the record
    arms: tuple[ArmLook, ...]


def plan_of(definition: TrialDefinition) -> Interim:
    interim = definition.analysis.interim
    if interim is None:
        raise NudgeError(
            f"trial '{definition.id}' plans no interim looks: add analysis.interim "
            "(looks, spending, sample_size) in an amendment before looking"
        )
    return interim


def outcome_of(definition: TrialDefinition, interim: Interim) -> str:
    return definition.primary_outcome.id if interim.on == "primary" else interim.on


def take_look(
    definition: TrialDefinition, report: TrialReport, earlier: Sequence[InterimLook]
) -> LookResult:
    """The next look's boundary and each arm's Z, from the report as it stands."""
    interim = plan_of(definition)
    key = outcome_of(definition, interim)
    outcome = next(o for o in report.outcomes if o.id == key)
    observed = sum(arm.n for arm in outcome.arms)
    fraction = observed / interim.sample_size
    before = [min(look.fraction, 1.0) for look in earlier]
    if before and min(fraction, 1.0) <= before[-1]:
        raise NudgeError(
            f"no new information since look {len(before)} ({observed} outcomes known, "
            f"{fraction:.0%} of the designed {interim.sample_size}): a look needs more "
            "outcomes than the last one had"
        )
    treatments = [c.arm for c in outcome.comparisons]
    family = len(treatments) if definition.analysis.correction != "none" else 1
    alpha = definition.analysis.alpha / max(family, 1)
    looks = boundaries([*before, min(fraction, 1.0)], alpha, interim.spending, 2)
    critical = looks[-1].critical
    better = next(o.better for o in definition.outcomes if o.id == key)
    arms = tuple(_arm_look(c.arm, outcome, critical, better) for c in outcome.comparisons)
    planned = _is_planned(interim, earlier, fraction)
    return LookResult(
        number=len(earlier) + 1,
        outcome=key,
        observed=observed,
        fraction=fraction,
        planned=planned,
        critical=critical,
        nominal_alpha=looks[-1].nominal_alpha,
        arms=arms,
    )


def _is_planned(interim: Interim, earlier: Sequence[InterimLook], fraction: float) -> bool:
    taken = {_nearest(interim.looks, look.fraction) for look in earlier if look.planned}
    nearest = _nearest(interim.looks, fraction)
    return nearest is not None and nearest not in taken


def _nearest(planned: Sequence[float], fraction: float) -> int | None:
    close = [i for i, t in enumerate(planned) if abs(min(fraction, 1.0) - t) <= PLANNED_WITHIN]
    return min(close, key=lambda i: abs(planned[i] - fraction)) if close else None


def _arm_look(arm: str, outcome: OutcomeReport, critical: float, better: str) -> ArmLook:
    comparison = next(c for c in outcome.comparisons if c.arm == arm)
    estimate, se = comparison.adjusted_risk_difference, comparison.adjusted_std_error
    if estimate is None or se is None or not se > 0:
        reason = comparison.primary_reason or "the model gives no standard error"
        return ArmLook(arm, estimate, se, None, None, reason)
    z = estimate / se
    crossed = None
    if abs(z) >= critical and math.isfinite(critical):
        good = z > 0 if better == "higher" else z < 0
        crossed = "benefit" if good else "harm"
    return ArmLook(arm, estimate, se, z, crossed)


def earlier_looks(session: Session, trial_id: str) -> list[InterimLook]:
    statement = (
        select(InterimLook)
        .where(InterimLook.trial_id == trial_id)
        .order_by(col(InterimLook.number))
    )
    return list(session.exec(statement).all())


def record_look(
    session: Session, clock: Clock, trial_id: str, result: LookResult, actor: str
) -> InterimLook:
    """Keep the look as it was, in the caller's transaction, and audit it."""
    row = InterimLook(
        trial_id=trial_id,
        number=result.number,
        looked_at=clock.now(),
        outcome_key=result.outcome,
        observed=result.observed,
        fraction=result.fraction,
        planned=result.planned,
        critical=result.critical,
        arms={arm.arm: arm.as_dict() for arm in result.arms},
        looked_by=actor,
    )
    session.add(row)
    audit.record(
        session,
        clock,
        actor=actor,
        action="interim.look",
        trial_id=trial_id,
        subject=f"look {result.number}",
        details={
            "planned": result.planned,
            "fraction": round(result.fraction, 4),
            "crossed": {a.arm: a.crossed for a in result.arms if a.crossed},
        },
    )
    return row


def look_words(result: LookResult | InterimLook, titles: dict[str, str]) -> list[str]:
    """What the look means, in plain words, verdict first."""
    arms = result.arms
    items = arms.items() if isinstance(arms, dict) else ((a.arm, a.as_dict()) for a in arms)
    kind = "planned" if result.planned else "unplanned"
    head = (
        f"Look {result.number} ({kind}) at {result.fraction:.0%} of the designed sample: "
        f"an arm may stop only if its Z reaches ±{result.critical:.2f}."
    )
    lines = [head]
    for arm, found in items:
        title = titles.get(arm, arm)
        if found["z"] is None:
            lines.append(f"{title}: no Z at this look ({found['reason']}).")
        elif found["crossed"] == "benefit":
            lines.append(
                f"{title} crossed the boundary for benefit (Z = {found['z']:.2f}): the plan "
                "allows stopping this arm early as better than control."
            )
        elif found["crossed"] == "harm":
            lines.append(
                f"{title} crossed the boundary for harm (Z = {found['z']:.2f}): the plan "
                "allows stopping this arm early as worse than control."
            )
        else:
            lines.append(f"{title} did not cross (Z = {found['z']:.2f}): continue as planned.")
    if not result.planned:
        lines.append(
            "This look was not in the plan: it has spent alpha like a planned one, and its "
            "nominal p-values are not evidence of an effect."
        )
    return lines


SPENDING_WORDS = {"obrien_fleming": "O'Brien–Fleming-type", "pocock": "Pocock-type"}


def interim_view(
    session: Session, definition: TrialDefinition, trial_id: str
) -> dict[str, Any] | None:
    """The results page's interim section: the plan in words and each look kept, or None when
    the plan schedules none."""
    plan = definition.analysis.interim
    if plan is None:
        return None
    key = outcome_of(definition, plan)
    shares = " and ".join(f"{t:.0%}" for t in plan.looks)
    label = next(o.label or o.id for o in definition.outcomes if o.id == key)
    sentence = (
        f"The plan schedules looks at {shares} of the designed sample of "
        f"{plan.sample_size:,} outcomes on {label}, with {SPENDING_WORDS[plan.spending]} "
        "alpha spending: an arm may stop early only if it crosses the boundary at a look."
    )
    zone = ZoneInfo(definition.timezone)
    titles = {arm.id: arm.title for arm in definition.arms}
    looks = [
        {
            "number": look.number,
            "when": look.looked_at.astimezone(zone),
            "planned": look.planned,
            "lines": look_words(look, titles),
        }
        for look in earlier_looks(session, trial_id)
    ]
    return {"plan": sentence, "looks": looks}
