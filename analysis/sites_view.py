"""What the results page, the PDF and the text say of a multi-site trial's sites. Pure.

Built from the disclosed results JSON (outcome["sites"], analysis/sites.py): no figure is
recomputed, so the page, the PDF, the CSV and the JSON agree. Verdict first, in plain words:
whether the effect differed between sites (the arm x site Wald test), then each site's
estimate against the pooled one, with the reason wherever a figure is not given.
"""

from __future__ import annotations

import re
from typing import Any

from analysis import measure_words
from analysis.labels import Labels
from analysis.plots import ForestRow, forest_plot, rows_in_words, signed
from experiments.definition import TrialDefinition

NOT_DONE = "the test of heterogeneity is not done: "
HIDDEN = "not shown (fewer than 5)"
POOLED = "All sites (pooled)"


def p_words(p: float) -> str:
    """A p-value in a sentence: "p = 0.41", "p < 0.001"."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2f}" if p >= 0.1 else f"p = {p:.3f}"


def sites_view(
    outcome: dict[str, Any], definition: TrialDefinition, labels: Labels
) -> dict[str, Any] | None:
    """The Sites section of the primary outcome, or None for a trial in one area."""
    block = outcome.get("sites")
    if block is None:
        return None
    measured = outcome.get("measures") is not None
    arms = [a["arm"] for a in block["arms"]]
    level = f"{100 * (1 - definition.analysis.alpha):g}%"

    def cell(estimate: Any, low: Any, high: Any, suppressed: bool) -> str:
        if suppressed:
            return HIDDEN
        if estimate is None:
            return "no estimate"
        if measured:
            shown = measure_words.difference(estimate)
            return f"{shown} ({measure_words.difference(low)} to {measure_words.difference(high)})"
        if low is None or high is None:
            return f"{signed(100 * estimate)} (no interval)"
        return f"{signed(100 * estimate)} ({signed(100 * low)} to {signed(100 * high)})"

    rows = []
    for site in block["sites"]:
        by_arm = {c["arm"]: c for c in site["comparisons"]}
        cells = [
            cell(
                by_arm[arm]["adjusted_risk_difference"],
                by_arm[arm]["adjusted_ci_low"],
                by_arm[arm]["adjusted_ci_high"],
                bool(site.get("suppressed")),
            )
            for arm in arms
        ]
        notes = [_site_note(note, labels) for note in site["notes"]]
        if site.get("suppressed"):
            notes = [
                "not shown: an arm there has fewer than 5 people with (or without) the "
                "outcome, so its estimate could reveal them (statistical disclosure control)"
            ]
        rows.append({"name": site["name"], "n": site["n"], "cells": cells, "notes": notes})
    pooled = [
        cell(a["pooled_estimate"], a["pooled_ci_low"], a["pooled_ci_high"], False)
        for a in block["arms"]
    ]
    spread = [_spread_words(a, labels) for a in block["arms"]]
    return {
        "verdict": verdict(block, definition, labels),
        "arms": [labels.arm(arm) for arm in arms],
        "rows": rows,
        "pooled": pooled,
        "spread": spread,
        "notes": [_site_note(n, labels) for n in block["notes"]],
        "units": measure_words.on_scale(outcome["measures"]) if measured else "",
        "measured": measured,
        "level": level,
        "forests": _forests(block, outcome, definition, labels, measured),
    }


def verdict(block: dict[str, Any], definition: TrialDefinition, labels: Labels) -> str:
    """Whether the effect differed between sites, first, in plain words."""
    p = block["p_value"]
    if p is None:
        notes = [_site_note(n, labels) for n in block["notes"]]
        reasons = [n[len(NOT_DONE) :] for n in notes if n.startswith(NOT_DONE)]
        if notes and not reasons:
            reasons = [notes[0]]
        why = reasons[0] if reasons else "there are not enough data yet"
        return f"Whether the effect differs between sites cannot be tested yet: {why}."
    if p >= definition.analysis.alpha:
        return (
            f"The effect did not differ detectably between sites ({p_words(p)}). The pooled "
            "estimate is the trial's result for every site together."
        )
    ranges = [r for a in block["arms"] if (r := _range_words(block, a["arm"], labels))]
    detail = f": {'; '.join(ranges)}" if ranges else ""
    return (
        f"It differed between sites ({p_words(p)}){detail}. The pooled estimate averages over "
        "the sites; read each site's own estimate, with its interval, before acting on it "
        "for one area."
    )


def _range_words(block: dict[str, Any], arm: str, labels: Labels) -> str | None:
    """ "SMS reminder against control ran from -3.1 points at Gwent to +20.4 at Dyfed-Powys"."""
    found = []
    for site in block["sites"]:
        for c in site["comparisons"]:
            if c["arm"] == arm and c.get("adjusted_risk_difference") is not None:
                found.append((c["adjusted_risk_difference"], site["name"]))
    if len(found) < 2:
        return None
    (low, at_low), (high, at_high) = min(found), max(found)
    control = labels.arm(block["arms"][0]["versus"]).lower()
    return (
        f"{labels.arm(arm)} against {control} ran from {_amount(low)} at {at_low} to "
        f"{_amount(high)} at {at_high}"
    )


def _amount(value: float) -> str:
    return f"{signed(100 * value)} points"


def _spread_words(arm: dict[str, Any], labels: Labels) -> str:
    name = labels.arm(arm["arm"])
    if arm["cochran_q"] is None:
        return f"{name}: no Cochran's Q ({arm['note'] or 'not available'})."
    words = (
        f"{name}: Cochran's Q = {arm['cochran_q']:.2f} on {arm['q_df']} degrees of freedom "
        f"({p_words(arm['q_p_value'])}), I\u00b2 = {arm['i2']:.0f}%"
    )
    return f"{words} ({arm['note']})." if arm["note"] else f"{words}."


def _site_note(note: str, labels: Labels) -> str:
    """A note names arms by their titles: "sms: nobody at this site" and "only one
    randomisation unit for control at Gwent" use the arms' ids."""
    head, colon, rest = note.partition(": ")
    if colon and head in {a.id for a in labels.definition.arms}:
        note = f"{labels.arm(head)}: {rest}"
    for arm in labels.definition.arms:
        title = labels.arm(arm.id).replace("\\", "\\\\")  # literal in the replacement
        note = re.sub(rf"(for |, ){re.escape(arm.id)}(?= at )", rf"\g<1>{title}", note)
    return note


def _forests(
    block: dict[str, Any],
    outcome: dict[str, Any],
    definition: TrialDefinition,
    labels: Labels,
    measured: bool,
) -> list[dict[str, Any]]:
    """One forest plot per arm: each site's estimate, then the pooled one."""
    spec = next(o for o in definition.outcomes if o.id == outcome["id"])
    name = labels.outcome(outcome["id"])
    forests = []
    for arm in block["arms"]:
        rows = []
        for site in block["sites"]:
            (c,) = [c for c in site["comparisons"] if c["arm"] == arm["arm"]]
            rows.append(
                ForestRow(
                    site["name"],
                    c["adjusted_risk_difference"],
                    c["adjusted_ci_low"],
                    c["adjusted_ci_high"],
                )
            )
        rows.append(
            ForestRow(POOLED, arm["pooled_estimate"], arm["pooled_ci_low"], arm["pooled_ci_high"])
        )
        title = labels.arm(arm["arm"])
        described = rows_in_words(
            rows,
            lambda r: (
                None
                if r.estimate is None or r.low is None
                else f"{_number(r.estimate, measured)} ({_number(r.low, measured)} to "
                f"{_number(r.high, measured)})"
            ),
        )
        ident = f"forest-sites-{arm['arm']}"
        chart = forest_plot(
            rows,
            ident=ident,
            title=f"Forest plot: effect of {title} on {name} at each site",
            description=f"Adjusted differences from control at each site and pooled, with "
            f"intervals. {described}.",
            better=spec.better,
            scale=1.0 if measured else 100.0,
            axis="Difference in means" if measured else "Difference, percentage points",
        )
        forests.append({"arm": title, "chart": chart, "id": ident})
    return forests


def _number(value: float | None, measured: bool) -> str:
    if value is None:
        return "none"
    return measure_words.difference(value) if measured else signed(100 * value)
