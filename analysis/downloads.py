"""The results as a CSV to open in a spreadsheet, from the disclosed results JSON. Pure.

One row per outcome and arm, the control arm included with its rate, under headers a
programme lead reads ("Rate (%)", "Difference (percentage points)"), everything named by its
label (analysis/labels.py), never by an id. Figures are rounded as the page shows them: rates,
differences and intervals in percentage points to 1 decimal, p-values to 3 decimals or
"<0.001", money to 2 decimals. Numbers are written as numbers (a Decimal keeps "1.10" and a
minus sign is not taken for a formula), so a spreadsheet can sort and sum them.

Disclosure control happened before: the CSV is built from the JSON a person may see, so a
suppressed count reads "fewer than 5" exactly as on the page, and a suppressed rate or
difference is blank with a note saying why. The JSON download stays the complete,
machine-readable record (subgroups, balance, flow, power, enrolment).

An outcome followed from the charge (analysis/time_to_event.py) adds, after its own rows, one
row per day and arm ("withdrawal by 90 days after charge"): the people followed, the events by
then and the Kaplan–Meier share with its interval in the rate columns, and a note saying what
the figure is, with the arm's log-rank p against control.

The file starts with a UTF-8 byte order mark: Excel reads a CSV without one in the system's
legacy code page, so "£" would show as "Â£" and Welsh or other accented labels would break.
LibreOffice, Google Sheets, pandas (`encoding="utf-8-sig"`) and R (`fileEncoding="UTF-8-BOM"`)
read it too. Every cell goes through nudge/csvout.py, so a label that starts like a formula
("=...", "-...", "@...") is written as text, never run.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from analysis.labels import Labels
from analysis.text import primary_shown
from experiments.definition import TrialDefinition
from nudge.csvout import write_rows

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
SUPPRESSED_NOTE = (
    "Not shown: an arm has fewer than 5 people with (or without) this outcome, so the "
    "figures could reveal them (statistical disclosure control)"
)
RATE_SUPPRESSED_NOTE = (
    "Rate not shown: fewer than 5 people in this arm have (or have not) this outcome "
    "(statistical disclosure control)"
)
FALLBACK_NOTE = (
    "Not the pre-registered estimate: the pre-registered analysis could not be computed, so "
    "the difference is the unadjusted one (the results page says why)"
)
NOTHING_NOTE = "No estimate: the pre-registered analysis could not be computed (see the page)"
FOLLOWED_SUPPRESSED_NOTE = (
    "Not shown: fewer than 5 people in this arm had (or had not) the outcome by this day "
    "(statistical disclosure control)"
)
Row = tuple[Any, ...]


def header(definition: TrialDefinition) -> tuple[str, ...]:
    level = f"{100 * (1 - definition.analysis.alpha):g}%"
    currency = definition.costs.currency
    money = CURRENCY_SYMBOLS.get(currency, currency)
    return (
        "Outcome",
        "Primary outcome",
        "Arm",
        "Compared with",
        "Randomised",
        "Analysed",
        "Events",
        "Rate (%)",
        f"Rate {level} interval low (%)",
        f"Rate {level} interval high (%)",
        "Difference (percentage points)",
        f"Difference {level} interval low (percentage points)",
        f"Difference {level} interval high (percentage points)",
        "p (corrected)",
        "Pre-registered estimate",
        f"Cost per extra person with the better outcome ({money})",
        f"Cost {level} interval low ({money})",
        f"Cost {level} interval high ({money})",
        "Note",
    )


def results_csv(shown: dict[str, Any], definition: TrialDefinition) -> str:
    """The disclosed results as spreadsheet rows (see the module docstring), BOM first."""
    stream = io.StringIO()
    write_rows(
        stream, header(definition), _rows(shown, Labels.of(definition)), byte_order_mark=True
    )
    return stream.getvalue()


def _rows(shown: dict[str, Any], labels: Labels) -> Iterator[Row]:
    for outcome in shown["report"]["outcomes"]:
        missing = outcome.get("missing") or {}
        randomised = {row["arm"]: row["randomised"] for row in missing.get("by_arm", [])}
        comparisons = {c["arm"]: c for c in outcome["comparisons"]}
        for arm in outcome["arms"]:
            comparison = comparisons.get(arm["arm"])
            yield (
                labels.outcome(outcome["id"]),
                _yes_no(outcome["primary"]),
                labels.arm(arm["arm"]),
                labels.arm(comparison["versus"]) if comparison else None,
                randomised.get(arm["arm"]),
                arm["n"],
                arm["events"],
                _percent(arm["rate"]),
                _percent(arm["ci_low"]),
                _percent(arm["ci_high"]),
                *_comparison(comparison),
                _note(arm, comparison),
            )
        if outcome.get("time_to_event"):
            yield from _followed(outcome["id"], outcome["time_to_event"], labels)


def _followed(outcome_id: str, block: dict[str, Any], labels: Labels) -> Iterator[Row]:
    """One row per day and arm of an outcome followed from the charge."""
    name, control = labels.outcome(outcome_id), labels.definition.control_arm.id
    tests = {c["arm"]: c["p_value"] for c in block["comparisons"]}
    method = (
        f"Kaplan–Meier estimate from the charge, followed to {block['as_of']} or "
        f"{block['follow_up_days']} days; not the pre-registered estimate"
    )
    for index, days in enumerate(block["horizons"]):
        for arm in block["arms"]:
            by, treated = arm["by"][index], arm["arm"] != control
            if by.get("suppressed"):
                note = FOLLOWED_SUPPRESSED_NOTE
            elif by["share"] is None:
                note = "Not yet known: nobody in this arm has been followed this long"
            else:
                p = tests.get(arm["arm"]) if treated else None
                tested = f"; log-rank p = {_p(p)} against {labels.arm(control)}" if p else ""
                note = method + tested
            yield (
                f"{name} by {days} days after charge",
                _yes_no(False),
                labels.arm(arm["arm"]),
                labels.arm(control) if treated else None,
                None,
                arm["n"],
                by["events"],
                _percent(by["share"]),
                _percent(by["ci_low"]),
                _percent(by["ci_high"]),
                *(None,) * 4,  # difference, its interval and p: the note gives the test
                _yes_no(False),
                *(None,) * 3,  # no cost per event
                note,
            )


def _comparison(c: dict[str, Any] | None) -> tuple[Any, ...]:
    """Difference, interval, p, whether pre-registered, and cost: blank for the control arm."""
    if c is None:
        return (None,) * 8
    shown = primary_shown(c)
    if shown:
        estimate, low, high = (
            c["adjusted_risk_difference"],
            c["adjusted_ci_low"],
            c["adjusted_ci_high"],
        )
    else:
        estimate, low, high = c["risk_difference"], c["rd_ci_low"], c["rd_ci_high"]
    return (
        _percent(estimate),
        _percent(low),
        _percent(high),
        _p(c["p_value_corrected"]) if shown else None,
        None if c.get("suppressed") else _yes_no(shown),
        _money(c["cost_per_extra_event"]),
        _money(c["cost_ci_low"]),
        _money(c["cost_ci_high"]),
    )


def _note(arm: dict[str, Any], c: dict[str, Any] | None) -> str | None:
    if c is not None and c.get("suppressed"):
        return SUPPRESSED_NOTE
    if arm.get("suppressed"):
        return RATE_SUPPRESSED_NOTE
    if c is not None and not primary_shown(c):
        return FALLBACK_NOTE if c["risk_difference"] is not None else NOTHING_NOTE
    return None


def _fixed(value: float | None, places: int) -> Decimal | None:
    if value is None:
        return None
    rounded = Decimal(f"{value:.{places}f}")
    return rounded if rounded else Decimal(f"{0:.{places}f}")  # no "-0.0"


def _percent(value: float | None) -> Decimal | None:
    """A proportion as percentage points to 1 decimal: 0.8234 → 82.3."""
    return None if value is None else _fixed(100 * value, 1)


def _money(value: float | None) -> Decimal | None:
    return _fixed(value, 2)


def _p(value: float | None) -> Decimal | str | None:
    if value is None:
        return None
    return "<0.001" if value < 0.001 else _fixed(value, 3)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"
