"""The net saving per 1,000 people as the results page and the PDF show it. Pure.

Only for an outcome whose definition gives a cost of an event (`costs.cost_of_event`), read
from the disclosed results JSON (analysis/stats/savings.py computed it; a comparison hidden by
disclosure control has none to show). Always labelled an estimate, with the source of the cost
beside it, and with what its interval leaves out: the uncertainty of the cost itself.
"""

from __future__ import annotations

from typing import Any

from analysis.labels import Labels
from analysis.numbers import DASH, money
from experiments.definition import TrialDefinition

RANGE_NOTE = (
    "The likely range carries the uncertainty in the trial's effect only: the cost of an event "
    "and the message prices are taken as given, so the true range is wider by whatever "
    "uncertainty the cost of an event carries."
)


def savings_tables(report: dict[str, Any], definition: TrialDefinition) -> list[dict[str, Any]]:
    """One table per outcome with a cost of an event: a row per treatment arm."""
    labels = Labels.of(definition)
    currency = definition.costs.currency
    tables = []
    for outcome in report["outcomes"]:
        cost = definition.costs.cost_of_event.get(outcome["id"])
        if cost is None or outcome.get("measures") is not None or not outcome["comparisons"]:
            continue
        spec = next(o for o in definition.outcomes if o.id == outcome["id"])
        name = labels.outcome(outcome["id"])
        # The unwanted result whose cost is given: a non-attendance, a withdrawal.
        event = f"non-{name}" if spec.better == "higher" else name
        rows = [_row(c, labels, currency) for c in outcome["comparisons"]]
        tables.append(
            {
                "outcome": outcome["id"],
                "name": name,
                "event": event,
                "heading": f"Net saving per 1,000 people, {name} (an estimate)",
                "cost": money(cost.amount, currency),
                "source": cost.source,
                "intro": (
                    f"An estimate: what each arm saves by avoiding {event}, at "
                    f"{money(cost.amount, currency)} for each {event} avoided, less the extra "
                    "cost of its messages, for every 1,000 people sent to the arm rather than "
                    f"to {labels.arm(definition.control_arm.id).lower()}. A negative saving is "
                    "a net cost."
                ),
                "rows": rows,
                "any_shown": any(r["shown"] for r in rows),
                "range_note": RANGE_NOTE,
            }
        )
    return tables


def _row(c: dict[str, Any], labels: Labels, currency: str) -> dict[str, Any]:
    saving = c.get("net_saving")
    if c.get("suppressed") or saving is None:
        reason = (
            "not shown: an arm has fewer than 5 people with (or without) this outcome "
            "(statistical disclosure control)"
            if c.get("suppressed")
            else "not available: message costs are not known"
        )
        return {"arm": labels.arm(c["arm"]), "shown": False, "note": reason, **_blank()}
    events = saving.get("events_avoided")
    low, high = saving.get("events_avoided_ci_low"), saving.get("events_avoided_ci_high")
    return {
        "arm": labels.arm(c["arm"]),
        "shown": saving.get("estimate") is not None,
        "events": _number(events),
        "events_interval": f"{_number(low)} to {_number(high)}" if low is not None else DASH,
        "message_cost": money(saving["message_cost"], currency),
        "estimate": money(saving.get("estimate"), currency),
        "interval": (
            f"{money(saving['ci_low'], currency)} to {money(saving['ci_high'], currency)}"
            if saving.get("ci_low") is not None
            else DASH
        ),
        "note": saving.get("note"),
    }


def _blank() -> dict[str, str]:
    return {key: DASH for key in ("events", "events_interval", "message_cost", "estimate")} | {
        "interval": DASH
    }


def _number(value: float | None) -> str:
    """Events per 1,000 to one decimal, with a true minus sign: "98.4", "−12.0"."""
    if value is None:
        return DASH
    text = f"{round(value, 1) + 0.0:,.1f}"
    return "\u2212" + text[1:] if text.startswith("-") else text
