"""The verdict panel: for each treatment arm, one sentence and one label a lead can act on. Pure.

The label follows the pre-registered rule, from the primary outcome's pre-registered estimate
only (never a fallback or a subgroup):

- **Likely helps**: the corrected p-value is below the plan's alpha and the estimate points the
  way the outcome's `better:` says is good (more attendance, less withdrawal);
- **Likely harms**: the same, the other way;
- **Not enough data yet**: no pre-registered estimate (not computable, or hidden by disclosure
  control), or, while the trial is not closed, no clear effect with fewer outcomes observed in
  the arm or in control than the design needs per arm;
- **No clear effect**: otherwise.

The words follow the GOV.UK style (analysis/numbers.py); figures are read from the disclosed
results JSON and never recomputed, so the panel, the tables and the downloads agree.
See docs/analysis-methods.md, "The verdict".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from analysis import measure_words
from analysis.labels import Labels
from analysis.numbers import MINUS, money, percent, points, relative
from analysis.text import primary_shown
from experiments.definition import TrialDefinition

HELPS = "Likely helps"
HARMS = "Likely harms"
UNCLEAR = "No clear effect"
TOO_EARLY = "Not enough data yet"

# GOV.UK tag colours; the label's words carry the meaning, the colour only repeats it.
TAG_COLOURS = {HELPS: "green", HARMS: "red", UNCLEAR: "grey", TOO_EARLY: "yellow"}


@dataclass(frozen=True)
class Verdict:
    arm: str
    title: str
    label: str
    colour: str
    sentence: str


def verdicts(
    shown: dict[str, Any], definition: TrialDefinition, *, closed: bool
) -> list[dict[str, Any]]:
    """One verdict per treatment arm on the primary outcome, in the definition's arm order."""
    labels = Labels.of(definition)
    outcome = next(o for o in shown["report"]["outcomes"] if o["primary"])
    if outcome.get("measures") is not None:
        return _measured_verdicts(outcome, definition, labels)
    spec = definition.primary_outcome
    rates = {row["arm"]: row["rate"] for row in outcome["arms"]}
    observed = {row["arm"]: row["n"] for row in outcome["arms"]}
    design = shown["report"]["power"].get("design_n_by_arm") or {}
    control = definition.control_arm.id
    made = []
    for c in outcome["comparisons"]:
        label = _label(c, definition, closed=closed, observed=observed, design=design)
        words = _Words(
            arm=labels.arm(c["arm"]),
            control=labels.arm(control),
            outcome=labels.outcome(spec.id),
            better=spec.better,
            currency=definition.costs.currency,
            arm_rate=rates.get(c["arm"]),
            control_rate=rates.get(control),
        )
        sentence = words.sentence(c, label, observed=observed, design=design, control_id=control)
        made.append(Verdict(c["arm"], words.arm, label, TAG_COLOURS[label], sentence))
    return [asdict(v) for v in made]


def _measured_verdicts(
    outcome: dict[str, Any], definition: TrialDefinition, labels: Labels
) -> list[dict[str, Any]]:
    """The verdicts on a primary outcome that is a scale, count or measurement (its means).

    The same rule on the difference in means; without a design in numbers of outcomes (the
    plan's sample size is for yes/no outcomes) an unclear effect is "No clear effect".
    """
    measures = outcome["measures"]
    spec = definition.primary_outcome
    name = measure_words.average(labels.outcome(spec.id))
    scale = measure_words.on_scale(measures)
    made = []
    for c in measures["comparisons"]:
        arm = labels.arm(c["arm"])
        if c.get("suppressed") or not measure_words.primary_measured(c):
            label = TOO_EARLY
        else:
            p = c.get("p_value_corrected")
            estimate = c["adjusted_difference"]
            label = UNCLEAR
            if p is not None and p < definition.analysis.alpha and estimate != 0:
                good = estimate > 0 if spec.better == "higher" else estimate < 0
                label = HELPS if good else HARMS
        if c.get("suppressed"):
            sentence = (
                f"{arm}: not shown yet. Too few people have an outcome in an arm to show "
                "the effect without risk of identifying someone."
            )
        elif not measure_words.primary_measured(c):
            reason = c.get("primary_reason") or "see the notes below"
            sentence = (
                f"{arm}: the pre-registered analysis could not be computed ({reason}), so "
                "there is no verdict. Any other figure below is labelled for what it is."
            )
        else:
            effect = (
                f"{measure_words.difference(c['adjusted_difference'])}; likely between "
                f"{measure_words.difference(c['adjusted_ci_low'])} and "
                f"{measure_words.difference(c['adjusted_ci_high'])}"
            )
            moved = measure_words.from_to(measures, c["arm"], c["versus"])
            if label in (HELPS, HARMS):
                verb = "raised" if c["adjusted_difference"] > 0 else "reduced"
                sentence = f"{arm} {verb} {name}{moved}{scale} ({effect})."
            else:
                sentence = f"{arm}: no clear effect on {name}{scale} ({effect})."
        made.append(Verdict(c["arm"], arm, label, TAG_COLOURS[label], sentence))
    return [asdict(v) for v in made]


def _label(
    c: dict[str, Any],
    definition: TrialDefinition,
    *,
    closed: bool,
    observed: dict[str, Any],
    design: dict[str, int],
) -> str:
    if c.get("suppressed") or not primary_shown(c):
        return TOO_EARLY
    p = c.get("p_value_corrected")
    estimate = c["adjusted_risk_difference"]
    if p is not None and p < definition.analysis.alpha and estimate != 0:
        good = estimate > 0 if definition.primary_outcome.better == "higher" else estimate < 0
        return HELPS if good else HARMS
    if not closed and _short_of_design(c["arm"], c["versus"], observed, design):
        return TOO_EARLY
    return UNCLEAR


def _short_of_design(
    arm: str, control: str, observed: dict[str, Any], design: dict[str, int]
) -> bool:
    """Whether the arm or control has fewer analysed outcomes than the design needs."""
    if not design:
        return False
    for key in (arm, control):
        have = observed.get(key)
        if not isinstance(have, int) or have < design.get(key, 0):
            return True
    return False


@dataclass(frozen=True)
class _Words:
    arm: str
    control: str
    outcome: str
    better: str
    currency: str
    arm_rate: Any
    control_rate: Any

    def sentence(
        self,
        c: dict[str, Any],
        label: str,
        *,
        observed: dict[str, Any],
        design: dict[str, int],
        control_id: str,
    ) -> str:
        if c.get("suppressed"):
            return (
                f"{self.arm}: not shown yet. Too few people have an outcome in an arm to show "
                "the effect without risk of identifying someone."
            )
        if not primary_shown(c):
            reason = c.get("primary_reason") or "see the notes below"
            return (
                f"{self.arm}: the pre-registered analysis could not be computed ({reason}), so "
                "there is no verdict. Any other figure below is labelled for what it is."
            )
        effect = self._effect(c)
        if label in (HELPS, HARMS):
            verb = "raised" if c["adjusted_risk_difference"] > 0 else "reduced"
            return f"{self.arm} {verb} {self.outcome}{self._from_to()} ({effect}){self._cost(c)}."
        so_far = self._rates(" so far")
        if label == TOO_EARLY:
            needed = design.get(control_id)
            have = observed.get(c["arm"])
            progress = (
                f" The design needs {needed:,} outcomes in each arm; this arm has {have:,}."
                if isinstance(needed, int) and isinstance(have, int)
                else ""
            )
            return f"{self.arm}: too early to tell.{so_far} ({effect}).{progress}"
        return f"{self.arm}: no clear effect on {self.outcome}.{self._rates('')} ({effect})."

    def _effect(self, c: dict[str, Any]) -> str:
        estimate = points(c["adjusted_risk_difference"], 0)
        relative_change = relative(c.get("risk_ratio"))
        ratio = f", {relative_change}" if relative_change and relative_change[0].isdigit() else ""
        likely = f"{points(c['adjusted_ci_low'], 0)} and {points(c['adjusted_ci_high'], 0)}"
        unit = "percentage point" if estimate in ("+1", f"{MINUS}1") else "percentage points"
        return f"{estimate} {unit}{ratio}; likely between {likely}"

    def _from_to(self) -> str:
        if self.arm_rate is None or self.control_rate is None:
            return ""
        return f" from {percent(self.control_rate, 0)} to {percent(self.arm_rate, 0)}"

    def _rates(self, when: str) -> str:
        if self.arm_rate is None or self.control_rate is None:
            return ""
        return (
            f" {self.outcome[:1].upper()}{self.outcome[1:]}{when} is "
            f"{percent(self.arm_rate, 0)} with {_lower(self.arm)} against "
            f"{percent(self.control_rate, 0)} with {_lower(self.control)}"
        )

    def _cost(self, c: dict[str, Any]) -> str:
        per = (
            f"per extra {self.outcome}"
            if self.better == "higher"
            else f"per {self.outcome} avoided"
        )
        status = c.get("cost_status")
        if status == "estimated" and c.get("cost_per_extra_event") is not None:
            cost = money(c["cost_per_extra_event"], self.currency)
            if c.get("cost_ci_low") is not None and c.get("cost_ci_high") is not None:
                low = money(c["cost_ci_low"], self.currency)
                high = money(c["cost_ci_high"], self.currency)
                return f", at {cost} {per} (likely between {low} and {high})"
            return f", at {cost} {per}"
        if status == "unbounded" and c.get("cost_per_extra_event") is not None:
            cost = money(c["cost_per_extra_event"], self.currency)
            return f", at about {cost} {per} (with no upper limit, as the effect may be small)"
        if status == "dominant":
            return ", at no extra cost"
        return ""


def _lower(title: str) -> str:
    """ "Business as usual" mid-sentence: "business as usual"; an acronym stays as it is."""
    first = title.split(" ", 1)[0]
    return title if first.isupper() and len(first) > 1 else title[:1].lower() + title[1:]
