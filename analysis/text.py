"""The results JSON in plain English, for the terminal. Reads the JSON, so both say the same.

Everything is named by its label (analysis/labels.py), never by its id: "Practical information
raised attendance", "Adjusted for: age band and previous failure to attend".
Wording follows the design and nothing more: effects compare the arms as randomised, among
people whose outcome was observed (complete cases); an interval that includes 0 is "no clear
evidence of a difference". A figure that is not the pre-registered estimate is never given
the pre-registered estimate's words ("adjusted for", "the pre-specified regression model").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analysis import measure_words
from analysis.labels import Labels, humanise, listed
from analysis.time_to_event_words import method_sentence, sentences
from experiments.definition import TrialDefinition

NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class Wording:
    """What every sentence of one report shares: labels, level, correction and unit."""

    titles: dict[str, str]
    alpha: float
    level: str
    correction: str
    unit: str
    labels: Labels

    @classmethod
    def of(cls, definition: TrialDefinition) -> Wording:
        alpha = definition.analysis.alpha
        labels = Labels.of(definition)
        return cls(
            labels=labels,
            titles={arm.id: labels.arm(arm.id) for arm in definition.arms},
            alpha=alpha,
            level=f"{100 * (1 - alpha):g}%",
            correction=definition.analysis.correction,
            unit=definition.population.unit,
        )

    @property
    def clustered(self) -> bool:
        return self.unit != "participant"


def render_text(data: dict[str, Any], definition: TrialDefinition) -> str:
    wording = Wording.of(definition)
    lines = [f"Trial {data['trial']}: {definition.title}", ""]
    lines += _randomisation(data["randomisation"], wording)
    for outcome in data["outcomes"]:
        lines += ["", _heading(outcome, wording.labels), ""]
        if outcome.get("measures") is not None:
            lines += _measured(outcome, definition, wording)
            lines += _sites(outcome, definition, wording)
            continue
        lines += _arm_table(outcome["arms"], wording.titles, wording.level)
        lines += _missing(outcome, wording.titles)
        lines += _few_units(outcome, definition, wording)
        lines.append("")
        m = comparisons_tested(outcome)
        for comparison in outcome["comparisons"]:
            lines.append(_sentence(comparison, outcome["id"], wording, m))
        adjusted = adjusted_for(outcome, wording.labels)
        lines += [adjusted] if adjusted else []
        lines += _time_to_event(outcome, wording)
        lines += [f"  note: {note}" for note in outcome["notes"]]
        lines += _sites(outcome, definition, wording)
    lines += ["", *_power(data["power"])]
    lines += [f"note: {note}" for note in data["notes"]]
    measured = any(o.get("measures") is not None for o in data["outcomes"])
    lines += ["", closing_sentence(wording, measured=measured)]
    return "\n".join(lines)


def _sites(outcome: dict[str, Any], definition: TrialDefinition, wording: Wording) -> list[str]:
    """A multi-site trial's primary outcome by site (analysis/sites_view.py): the verdict,
    then each site's estimate and the pooled one, Q and I^2, and why a figure is missing."""
    from analysis.sites_view import sites_view

    shown = sites_view(outcome, definition, wording.labels)
    if shown is None:
        return []
    units = f"difference in means{shown['units']}" if shown["measured"] else "points"
    lines = ["", f"  Sites: {shown['verdict']}", f"  ({units}, {shown['level']} CI)"]
    rows = [*shown["rows"], {"name": "All sites (pooled)", "cells": shown["pooled"]}]
    for row in rows:
        cells = "; ".join(
            f"{arm}: {cell}" for arm, cell in zip(shown["arms"], row["cells"], strict=True)
        )
        lines.append(f"    {row['name']}: {cells}")
    lines += [f"    {row['name']}: {note}" for row in shown["rows"] for note in row["notes"]]
    lines += [f"  {line}" for line in shown["spread"]]
    lines += [f"  note: {note}" for note in shown["notes"]]
    return lines


def comparisons_tested(outcome: dict[str, Any]) -> int:
    """How many comparisons the multiplicity correction counted: the whole pre-registered
    family, tested or not (analysis/stats/multiplicity.py)."""
    measures = outcome.get("measures")
    return len(measures["comparisons"] if measures else outcome["comparisons"])


def _measured(outcome: dict[str, Any], definition: TrialDefinition, wording: Wording) -> list[str]:
    """A scale, count or continuous outcome: means by arm, differences in means, warnings."""
    measures = outcome["measures"]
    lines = measure_words.arm_lines(measures, wording.titles, wording.level)
    warning = measure_words.response_warning(measures)
    lines += [f"  WARNING: {warning[:1].lower()}{warning[1:]}"] if warning else []
    lines += _few_units(outcome, definition, wording)
    lines.append("")
    lines += [
        measured_sentence(c, outcome, wording, comparisons_tested(outcome))
        for c in measures["comparisons"]
    ]
    adjusted = adjusted_for(outcome, wording.labels)
    lines += [adjusted] if adjusted else []
    lines += measure_words.supporting_lines(measures, wording.titles, wording.level)
    return lines + [f"  note: {note}" for note in outcome["notes"]]


def measured_sentence(c: dict[str, Any], outcome: dict[str, Any], wording: Wording, m: int) -> str:
    """One comparison of a non-binary outcome, worded as the terminal report words it."""
    return measure_words.comparison_sentence(
        c,
        outcome["measures"],
        arm=wording.titles[c["arm"]],
        control=wording.titles[c["versus"]],
        outcome=wording.labels.outcome(outcome["id"]),
        level=wording.level,
        alpha=wording.alpha,
        p_text=_p_phrase(c.get("p_value_corrected"), m, wording.correction),
    )


def primary_shown(comparison: dict[str, Any]) -> bool:
    """True when the comparison has the pre-registered model's estimate and interval."""
    keys = ("adjusted_risk_difference", "adjusted_ci_low", "adjusted_ci_high")
    return all(comparison.get(k) is not None for k in keys)


def adjusted_for(outcome: dict[str, Any], labels: Labels | None = None) -> str | None:
    """The "Adjusted for" line, only beside adjusted figures: never when every arm fell back.

    Covariates are named by their labels; without the trial's labels, by their names read
    aloud ("age band").
    """
    measures = outcome.get("measures")
    if measures is not None:
        every = measures["comparisons"]
        shown = [c for c in every if measure_words.primary_measured(c)]
    else:
        every = outcome["comparisons"]
        shown = [c for c in every if primary_shown(c)]
    if not outcome["covariates_used"] or not shown:
        return None
    scope = "" if len(shown) == len(every) else " (the pre-registered estimates)"
    names = outcome["covariates_used"]
    said = labels.columns(names) if labels is not None else listed(humanise(n) for n in names)
    return f"Adjusted for{scope}: {said}."


def closing_sentence(wording: Wording, *, measured: bool = False) -> str:
    """What every effect in the report is, said once: as randomised, complete cases.

    ``measured``: some outcome is a scale, count or measurement, whose differences are in its
    own units (differences in means), not in percentage points.
    """
    units = (
        "Differences of yes/no outcomes are in percentage points, of the others (means) in "
        "their own units, "
        if measured
        else "Differences are in percentage points "
    )
    errors = (
        f" (standard errors allow for randomisation by {wording.unit})" if wording.clustered else ""
    )
    return (
        "Effects compare the arms as randomised: each person counts in the arm they were "
        "allocated to, whatever they received, among those whose outcome was observed (complete "
        f"cases; no outcome is imputed). {units}with {wording.level} "
        "confidence intervals; the pre-registered estimates come from the pre-specified "
        f"regression model{errors}, and any other figure is labelled for what it is."
    )


def _randomisation(block: dict[str, Any], wording: Wording) -> list[str]:
    units = ", ".join(f"{wording.labels.arm(arm)} {count}" for arm, count in block["units"].items())
    lines = [f"Randomised {block['unit']}s per arm: {units}."]
    if block["srm_flagged"]:
        lines.append(
            f"WARNING: sample-ratio mismatch (p = {_p(block['srm_p_value'])}): the arms' sizes "
            "are unlikely under the planned weights. Check the randomisation and the imports "
            "before trusting any result below."
        )
    return lines


def _time_to_event(outcome: dict[str, Any], wording: Wording) -> list[str]:
    """The outcome followed from the charge, when it was imported with its dates."""
    block = outcome.get("time_to_event")
    if not block:
        return []
    name = wording.labels.outcome(outcome["id"])
    said = sentences(block, name, wording.labels, wording.level)
    lines = ["", f"  Time to {name} after charge:"]
    lines += [f"  {sentence}" for sentence in said]
    lines.append(f"  {method_sentence(block, name, block['as_of'])}")
    return lines + [f"  note: {note}" for note in block["notes"]]


def _missing(outcome: dict[str, Any], titles: dict[str, str]) -> list[str]:
    """Outcomes recorded by arm, and the bounds when the arms' missing shares differ."""
    missing = outcome.get("missing")
    if not missing:
        return []
    rows = [
        f"{titles[row['arm']]} {row['observed']} of {row['randomised']}"
        + (f" ({_pct(row['missing_share'])} missing)" if row["missing_share"] else "")
        for row in missing["by_arm"]
    ]
    lines = [f"  Outcome recorded: {'; '.join(rows)}."]
    if missing["flagged"]:
        bounds = "; ".join(
            f"{titles[c['arm']]} {_signed_or_dash(c['rd_bound_worst'])} to "
            f"{_signed_or_dash(c['rd_bound_best'])} points"
            for c in outcome["comparisons"]
        )
        lines.append(
            "  WARNING: outcomes are missing more often in some arms (the shares differ by "
            f"more than {_points(missing['threshold'])} points), so the comparison of people "
            "with an outcome may be biased. With every missing outcome the worst, or the best, "
            f"for each arm the unadjusted differences would be: {bounds}."
        )
    return lines


def _few_units(outcome: dict[str, Any], definition: TrialDefinition, wording: Wording) -> list[str]:
    few = outcome.get("below_min_clusters") or []
    if not few:
        return []
    names = ", ".join(wording.titles[a] for a in few)
    return [
        f"  WARNING: {names} {'has' if len(few) == 1 else 'have'} fewer than "
        f"{definition.analysis.min_clusters_per_arm} randomised {wording.unit}s with an "
        f"outcome: intervals and p-values that rest on so few {wording.unit}s may be "
        "unreliable."
    ]


def _signed_or_dash(value: float | None) -> str:
    return "-" if value is None else _signed(value)


def _heading(outcome: dict[str, Any], labels: Labels) -> str:
    kind = "primary outcome" if outcome["primary"] else "secondary outcome"
    return f"Outcome: {labels.outcome(outcome['id'])} ({kind})"


def _arm_table(arms: list[dict[str, Any]], titles: dict[str, str], level: str) -> list[str]:
    lines = [f"  {'arm':<32}{'n':>8}{'events':>8}  {'rate':>6}  ({level} CI)"]
    for arm in arms:
        rate = (
            f"{_pct(arm['rate']):>6}  ({_pct(arm['ci_low'])} to {_pct(arm['ci_high'])})"
            if arm["rate"] is not None
            else f"{'-':>6}"
        )
        lines.append(f"  {titles[arm['arm']][:31]:<32}{arm['n']:>8}{arm['events']:>8}  {rate}")
    return lines


def _sentence(c: dict[str, Any], outcome_id: str, wording: Wording, m: int) -> str:
    arm, control = wording.titles[c["arm"]], wording.titles[c["versus"]]
    outcome = wording.labels.outcome(outcome_id)
    if not primary_shown(c):
        return _fallback_sentence(c, f"{arm} against {control}", wording)
    estimate, low, high = c["adjusted_risk_difference"], c["adjusted_ci_low"], c["adjusted_ci_high"]
    p = c["p_value_corrected"]
    interval = f"{wording.level} CI {_points(low)} to {_points(high)}"
    p_text = _p_phrase(p, m, wording.correction)
    if low <= 0.0 <= high:
        return (
            f"{arm} against {control}: no clear evidence of a difference in {outcome} "
            f"(estimate {_signed(estimate)} points, {interval}{p_text})."
        )
    verb = "raised" if estimate > 0 else "lowered"
    chance = (
        "this is unlikely to be chance"
        if p is not None and p < wording.alpha
        else "but chance cannot be ruled out"
    )
    return (
        f"{arm} {verb} {outcome} by {_points(abs(estimate))} points ({interval}) "
        "compared with "
        f"{control}; {chance}{' (' + p_text[2:] + ')' if p_text else ''}."
    )


def _fallback_sentence(c: dict[str, Any], pair: str, wording: Wording) -> str:
    """No pre-registered estimate: say so and why, and label any figure shown instead."""
    reason = c.get("primary_reason") or "see the notes"
    said = f"{pair}: the pre-registered analysis could not be computed ({reason})."
    estimate, low, high = c["risk_difference"], c["rd_ci_low"], c["rd_ci_high"]
    if estimate is None:
        return f"{said} No other estimate is available."
    clustered = f", allowing for randomisation by {wording.unit}," if wording.clustered else ""
    shown = f"{said} Instead, the unadjusted difference{clustered} is {_signed(estimate)} points"
    if low is None or high is None:
        shown += ", with no interval"
    else:
        verdict = (
            "does not rule out no difference" if low <= 0.0 <= high else "excludes no difference"
        )
        shown += f" ({wording.level} CI {_points(low)} to {_points(high)}), which {verdict}"
    return f"{shown}; it is a plain comparison of the arms, not the pre-registered estimate."


def _p_phrase(p: float | None, m: int, correction: str) -> str:
    if p is None:
        return ""
    if correction == "none" or m <= 1:
        return f", p = {_p(p)}" if p >= 0.001 else ", p < 0.001"
    words = NUMBER_WORDS[m] if m < len(NUMBER_WORDS) else str(m)
    value = f"p = {_p(p)}" if p >= 0.001 else "p < 0.001"
    return f", {value} after correction for {words} comparisons"


def _power(block: dict[str, Any]) -> list[str]:
    if block.get("means"):
        designed, achieved = measure_words.design_words(block), measure_words.achieved_words(block)
        return [
            *([f"Design: {designed}."] if designed else []),
            *([f"Achieved: {achieved}."] if achieved else []),
        ]
    lines = []
    if block["design_n_per_arm"] is not None:
        lines.append(
            f"Design: {block['design_n_per_arm']} per arm to detect "
            f"{_points(block['minimum_detectable_effect'])} points from a baseline of "
            f"{_pct(block['baseline_rate'])} with {block['power']:.0%} power."
        )
    if block["achieved_minimum_detectable_effect"] is not None:
        lines.append(
            f"Achieved: with {block['achieved_n_per_arm']} in the smallest arm, the trial could "
            f"detect {_points(block['achieved_minimum_detectable_effect'])} points "
            f"with {block['power']:.0%} power."
        )
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _points(value: float) -> str:
    return f"{100 * value:.1f}"


def _signed(value: float) -> str:
    return f"{100 * value:+.1f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def comparison_sentence(
    comparison: dict[str, Any], outcome_id: str, definition: TrialDefinition, tested: int
) -> str:
    """One comparison of the results JSON in plain English, as the terminal report says it.

    The outcome is given by its id and named by its label; `tested` is how many of the
    outcome's comparisons the correction counted.
    """
    return _sentence(comparison, outcome_id, Wording.of(definition), tested)
