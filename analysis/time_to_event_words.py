"""An outcome followed from the charge, in words: for the text report, the page and the CSV. Pure.

Built from an outcome's `time_to_event` block of the (disclosed) results JSON
(analysis/time_to_event.py), so every place says the same. One sentence per day after the
charge: "By 90 days after charge, withdrawal stood at 12% (95% CI 9% to 16%) in SMS reminder,
against 18% (14% to 22%) in Business as usual." Then one for the log-rank tests. A share that
is not known yet (nobody followed that long) or hidden by disclosure control says so.
Percentages are whole, in the GOV.UK style (analysis/numbers.py).
"""

from __future__ import annotations

from typing import Any

from analysis.labels import Labels, listed
from analysis.numbers import percent

NOT_YET = "not yet known in {arms} (nobody followed that long)"
HIDDEN = "not shown in {arms} (fewer than 5 people with or without it)"


def share_text(by: dict[str, Any], level: str | None = None) -> str:
    """ "12% (95% CI 9% to 16%)", or without `level` "12% (9% to 16%)"; "12%" with no interval."""
    share = percent(by["share"])
    if by["ci_low"] is None or by["ci_high"] is None:
        return share
    prefix = f"{level} CI " if level else ""
    return f"{share} ({prefix}{percent(by['ci_low'])} to {percent(by['ci_high'])})"


def p_text(p: float | None) -> str:
    return "p < 0.001" if p is not None and p < 0.001 else f"p = {p:.3f}"


def horizon_sentence(
    block: dict[str, Any], index: int, name: str, labels: Labels, level: str, control: str
) -> str:
    """How many had the event by one day after the charge, each arm then control."""
    days = block["horizons"][index]
    ordered = [a for a in block["arms"] if a["arm"] != control]
    ordered += [a for a in block["arms"] if a["arm"] == control]
    known: list[tuple[str, str]] = []
    unknown: list[str] = []
    hidden: list[str] = []
    for arm in ordered:
        by = arm["by"][index]
        if by.get("suppressed"):
            hidden.append(labels.arm(arm["arm"]))
        elif by["share"] is None:
            unknown.append(labels.arm(arm["arm"]))
        else:
            first = not known
            known.append((arm["arm"], share_text(by, level if first else None)))
    said = [f"{figure} in {labels.arm(arm)}" for arm, figure in known if arm != control]
    at_control = [f"{figure} in {labels.arm(arm)}" for arm, figure in known if arm == control]
    parts = []
    if said or at_control:
        stood = listed(said) if said else at_control[0]
        against = f", against {at_control[0]}" if said and at_control else ""
        parts.append(f"{name} stood at {stood}{against}")
    if unknown:
        parts.append(NOT_YET.format(arms=listed(unknown)))
    if hidden:
        parts.append(HIDDEN.format(arms=listed(hidden)))
    return f"By {days} days after charge, {'; '.join(parts)}."


def test_sentence(block: dict[str, Any], labels: Labels, control: str) -> str | None:
    """The log-rank tests in one sentence; None when none could be given."""
    tested = [
        f"{labels.arm(c['arm'])} {p_text(c['p_value'])}"
        for c in block["comparisons"]
        if c["p_value"] is not None
    ]
    if not tested:
        return None
    overall = ""
    if block["p_value"] is not None and len(block["arms"]) > 2:
        overall = f"; all {len(block['arms'])} arms together {p_text(block['p_value'])}"
    return (
        f"Over the {block['follow_up_days']} days after charge, the log-rank test compares "
        f"each arm's whole curve with {labels.arm(control)}'s: {listed(tested)}{overall} "
        "(a secondary analysis, not corrected for multiple comparisons)."
    )


def sentences(block: dict[str, Any], name: str, labels: Labels, level: str) -> list[str]:
    """Every sentence about the outcome followed from the charge, the days first."""
    control = labels.definition.control_arm.id
    said = [
        horizon_sentence(block, i, name, labels, level, control)
        for i in range(len(block["horizons"]))
    ]
    test = test_sentence(block, labels, control)
    return said + ([test] if test else [])


def method_sentence(block: dict[str, Any], name: str, as_of: str) -> str:
    """How the shares were worked out, in a sentence; `as_of` is the analysis date as shown."""
    return (
        f"Kaplan–Meier estimates of the share with {name} by each day after the charge: people "
        f"without {name} count until {as_of} (the analysis date) or "
        f"{block['follow_up_days']} days after the charge, whichever is earlier."
    )


def page_view(
    block: dict[str, Any], name: str, labels: Labels, level: str, as_of: str
) -> dict[str, Any]:
    """The page's words and table rows for the outcome followed from the charge."""
    control = labels.definition.control_arm.id
    tests = {c["arm"]: c["p_value"] for c in block["comparisons"]}
    rows = [
        {
            "arm": labels.arm(arm["arm"]),
            "n": arm["n"],
            "events": arm["events"],
            "cells": [_cell(by) for by in arm["by"]],
            "p": None if arm["arm"] == control else tests.get(arm["arm"]),
            "control": arm["arm"] == control,
        }
        for arm in block["arms"]
    ]
    return {
        "sentences": sentences(block, name, labels, level),
        "method": method_sentence(block, name, as_of),
        "horizons": block["horizons"],
        "follow_up_days": block["follow_up_days"],
        "rows": rows,
        "notes": block["notes"],
    }


def _cell(by: dict[str, Any]) -> str:
    if by.get("suppressed"):
        return "not shown"
    if by["share"] is None:
        return "not yet known"
    return share_text(by)
