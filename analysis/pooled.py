"""Evidence across trials: closed trials that share an outcome and an arm tag, pooled. Pure.

Each closed trial's results JSON (as the viewer may see it, after disclosure control) gives,
for every treatment arm tagged with what it tests (`tags:` in the definition), the arm's
pre-registered estimate against that trial's own control: the adjusted risk difference and
its standard error, exactly as the trial's results page shows them. For each yes/no outcome
(by id, with the same direction of better) and each tag that two or more closed trials share,
those estimates are pooled by the random-effects meta-analysis of analysis/stats/meta.py
(REML with Hartung-Knapp, DerSimonian-Laird beside it).

What is left out, and said so on the page: a comparison whose figures disclosure control hides
from the viewer (it could reveal fewer than 5 people), and one without a pre-registered
estimate (its trial's page says why). Outcomes that are not yes/no are not pooled: their
differences are in each trial's own units. A trial with two arms carrying the same tag gives
two estimates that share its control arm, so they are not independent; the page says so.
See docs/analysis-methods.md, "Evidence across trials".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from analysis.labels import Labels
from analysis.stats.meta import MetaAnalysis, TrialEffect, random_effects
from analysis.text import primary_shown
from experiments.definition import TrialDefinition

# The pooled analysis uses its own level, not any one trial's plan: 95%, as Cochrane does.
ALPHA = 0.05
MIN_TRIALS = 2
HIDDEN = (
    "not shown to you: an arm has fewer than 5 people with (or without) the outcome, so the "
    "estimate could reveal them (statistical disclosure control)"
)
NO_ESTIMATE = (
    "the trial's pre-registered estimate could not be computed (its results page says why)"
)


@dataclass(frozen=True)
class ClosedTrial:
    """One closed trial as the evidence page reads it: its definition and disclosed results."""

    trial_id: str
    title: str
    closed_on: date | None
    definition: TrialDefinition
    shown: dict[str, Any]


@dataclass(frozen=True)
class Contribution:
    """One tagged arm of one trial against that trial's control, as pooled."""

    trial_id: str
    trial_title: str
    closed_on: date | None
    arm: str
    arm_title: str
    control_title: str
    estimate: float
    se: float
    ci_low: float | None
    ci_high: float | None
    n_arm: int | str | None
    n_control: int | str | None
    weight: float | None = None  # share of the REML weight, 0 to 1


@dataclass(frozen=True)
class LeftOut:
    """A tagged arm of a closed trial that is not in the pool, and why."""

    trial_id: str
    trial_title: str
    arm_title: str
    reason: str


@dataclass(frozen=True)
class PooledGroup:
    """Every closed trial's arms with one tag on one outcome, and their pooled effect."""

    outcome: str
    outcome_label: str
    better: str
    tag: str
    trials: tuple[str, ...]  # the trials with an arm tagged so (pooled or not)
    contributions: tuple[Contribution, ...]
    left_out: tuple[LeftOut, ...]
    meta: MetaAnalysis | None  # None when nothing could be pooled
    # The ids of the trials giving more than one estimate (against their one control arm).
    shared_control: tuple[str, ...] = field(default=())

    @property
    def pooled_trials(self) -> int:
        return len({c.trial_id for c in self.contributions})


@dataclass(frozen=True)
class Evidence:
    """The pooled groups (two or more closed trials), and the tags only one trial has tested."""

    groups: tuple[PooledGroup, ...]
    single: tuple[PooledGroup, ...]


_Key = tuple[str, str, str]  # outcome id, better, tag


def pool_closed_trials(closed: Sequence[ClosedTrial], *, alpha: float = ALPHA) -> Evidence:
    """Group the tagged arms of closed trials by (outcome, tag) and pool each group."""
    found: dict[_Key, list[tuple[ClosedTrial, str]]] = {}
    labels: dict[_Key, str] = {}
    for trial in closed:
        definition = trial.definition
        control = definition.control_arm.id
        for outcome in definition.outcomes:
            if outcome.type != "binary":
                continue
            for arm in definition.arms:
                if arm.id == control:
                    continue
                for tag in arm.tags:
                    key = (outcome.id, outcome.better, tag)
                    found.setdefault(key, []).append((trial, arm.id))
                    labels[key] = Labels.of(definition).outcome(outcome.id)
    groups = [_group(key, labels[key], arms, alpha) for key, arms in sorted(found.items())]
    return Evidence(
        groups=tuple(g for g in groups if len(g.trials) >= MIN_TRIALS),
        single=tuple(g for g in groups if len(g.trials) < MIN_TRIALS),
    )


def _group(
    key: _Key, label: str, arms: Iterable[tuple[ClosedTrial, str]], alpha: float
) -> PooledGroup:
    outcome, better, tag = key
    # Oldest closed first; within a trial, its arms in the order its definition gives them.
    # Trials are told apart by id: two closed trials may share a title.
    ordered = sorted(arms, key=lambda a: (a[0].closed_on or date.max, a[0].title, a[0].trial_id))
    contributions: list[Contribution] = []
    left: list[LeftOut] = []
    for trial, arm in ordered:
        made = _contribution(trial, outcome, arm)
        if isinstance(made, LeftOut):
            left.append(made)
        else:
            contributions.append(made)
    meta = None
    if contributions:
        meta = random_effects(
            [
                TrialEffect(f"{c.trial_title}: {c.arm_title}", c.estimate, c.se)
                for c in contributions
            ],
            alpha=alpha,
        )
        contributions = _weighted(contributions, meta)
    per_trial: dict[str, int] = {}
    for c in contributions:
        per_trial[c.trial_id] = per_trial.get(c.trial_id, 0) + 1
    return PooledGroup(
        outcome=outcome,
        outcome_label=label,
        better=better,
        tag=tag,
        trials=tuple(dict.fromkeys(trial.trial_id for trial, _ in ordered)),
        contributions=tuple(contributions),
        left_out=tuple(left),
        meta=meta,
        shared_control=tuple(trial_id for trial_id, n in per_trial.items() if n > 1),
    )


def _contribution(trial: ClosedTrial, outcome_id: str, arm: str) -> Contribution | LeftOut:
    labels = Labels.of(trial.definition)
    report = trial.shown["report"]
    block = next((o for o in report["outcomes"] if o["id"] == outcome_id), None)
    comparison = None
    if block is not None:
        comparison = next((c for c in block["comparisons"] if c["arm"] == arm), None)
    if comparison is None or comparison.get("suppressed"):
        reason = HIDDEN if comparison is not None else NO_ESTIMATE
        return LeftOut(trial.trial_id, trial.title, labels.arm(arm), reason)
    se = comparison.get("adjusted_std_error")
    if not primary_shown(comparison) or se is None or not se > 0:
        return LeftOut(trial.trial_id, trial.title, labels.arm(arm), NO_ESTIMATE)
    assert block is not None
    sizes = {row["arm"]: row["n"] for row in block["arms"]}
    control = comparison["versus"]
    return Contribution(
        trial_id=trial.trial_id,
        trial_title=trial.title,
        closed_on=trial.closed_on,
        arm=arm,
        arm_title=labels.arm(arm),
        control_title=labels.arm(control),
        estimate=comparison["adjusted_risk_difference"],
        se=se,
        ci_low=comparison.get("adjusted_ci_low"),
        ci_high=comparison.get("adjusted_ci_high"),
        n_arm=sizes.get(arm),
        n_control=sizes.get(control),
    )


def _weighted(contributions: list[Contribution], meta: MetaAnalysis) -> list[Contribution]:
    """Each estimate's share of the REML weight, 1 / (SE^2 + tau^2), in the pooled effect."""
    tau2 = meta.reml.tau2
    if tau2 is None:
        return contributions
    weights = [1 / (c.se**2 + tau2) for c in contributions]
    total = sum(weights)
    return [replace(c, weight=w / total) for c, w in zip(contributions, weights, strict=True)]
