"""Where a trial stands, for the top of its results page: status, progress and health. Pure.

- **Status**: Draft, Live (interim) or Final (closed), with the warning a live trial's
  results need (they will change; do not stop on them unless an interim look is planned).
- **Progress** to the designed sample: people randomised and outcomes observed against the
  design's n per arm (the power calculation in the results JSON).
- **Health checks**, shown whether they pass or not: the sample-ratio check, baseline
  balance, delivery by arm, and missing outcomes by arm.
- **What there is to show**: nothing yet (a draft, nobody randomised, no outcome observed) or
  results; the page says which, and what will appear when.

Everything is read from the disclosed results JSON and the definition: nothing recomputed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analysis.labels import Labels
from analysis.numbers import count, percent, points
from experiments.definition import TrialDefinition
from nudge.models import TrialStatus

DELIVERY_THRESHOLD = 0.9  # an arm whose messages reach fewer than this share is flagged
PASS, CHECK, NOT_YET = "Pass", "Check", "Not yet"
CHECK_COLOURS = {PASS: "green", CHECK: "red", NOT_YET: "grey"}
NO_MESSAGES = "None: this arm gets no messages"


def status(trial_status: str, closed_at: datetime | None, interim_planned: bool) -> dict[str, Any]:
    """The trial's status as a tag, and what a reader must know because of it."""
    if trial_status == TrialStatus.DRAFT:
        return {
            "key": TrialStatus.DRAFT,
            "tag": "Draft",
            "colour": "grey",
            "warning": None,
            "summary": "This trial is a draft: nobody can be randomised until it is launched.",
        }
    if trial_status == TrialStatus.CLOSED:
        when = f" on {closed_at.strftime('%-d %B %Y')}" if closed_at else ""
        return {
            "key": TrialStatus.CLOSED,
            "tag": "Final (closed)",
            "colour": "green",
            "warning": None,
            "summary": f"The trial closed{when}. These are its final results.",
        }
    look = (
        "unless it is one of the interim looks the analysis plan schedules"
        if interim_planned
        else "the analysis plan schedules no interim look"
    )
    return {
        "key": TrialStatus.LIVE,
        "tag": "Live (interim)",
        "colour": None,  # the default GOV.UK tag, blue
        "warning": (
            "Interim results: they will change as more outcomes come in. Do not stop the trial "
            f"or change what people receive because of them: {look}."
        ),
        "summary": "The trial is live: people are still being enrolled or followed up.",
    }


def progress(shown: dict[str, Any], definition: TrialDefinition) -> dict[str, Any]:
    """Randomised and observed against the design, overall and by arm (counts may be words)."""
    labels = Labels.of(definition)
    design = shown["report"]["power"].get("design_n_by_arm") or {}
    flow = shown["flow"]
    arms = []
    for arm in flow["arms"]:
        arms.append(
            {
                "arm": arm["arm"],
                "title": labels.arm(arm["arm"]),
                "randomised": arm["randomised"],
                "observed": arm["outcome_observed"],
                "design": design.get(arm["arm"]),
            }
        )
    target = sum(design.values()) if design else None
    randomised = flow["randomised"]
    observed = _total(a["observed"] for a in arms)
    return {
        "design": target,
        "randomised": randomised,
        "observed": observed,
        "randomised_share": _share(randomised, target),
        "observed_share": _share(observed, target),
        "arms": arms,
        "unit": definition.population.unit,
        "outcome": labels.outcome(definition.primary_outcome.id),
    }


def _total(values: Any) -> int | str:
    """A sum of counts, or the words when one is hidden ("fewer than 5" makes it unknown)."""
    total = 0
    for value in values:
        if not isinstance(value, int):
            return "not shown"
        total += value
    return total


def _share(part: Any, whole: int | None) -> float | None:
    if not whole or not isinstance(part, int):
        return None
    return part / whole


def health_checks(shown: dict[str, Any], definition: TrialDefinition) -> list[dict[str, Any]]:
    """The four checks a lead should see before trusting any result, each with its finding."""
    labels = Labels.of(definition)
    report = shown["report"]
    return [
        _sample_ratio(report["randomisation"], shown["flow"]),
        _balance(report["balance"], labels),
        _delivery(shown["flow"], labels),
        _missing(next(o for o in report["outcomes"] if o["primary"]), labels),
    ]


def _check(
    name: str, state: str, finding: str, rows: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "state": state,
        "colour": CHECK_COLOURS[state],
        "finding": finding,
        "rows": rows or [],
    }


def _sample_ratio(randomisation: dict[str, Any], flow: dict[str, Any]) -> dict[str, Any]:
    name = "Arm sizes match the plan"
    p = randomisation.get("srm_p_value")
    if not isinstance(flow["randomised"], int) or flow["randomised"] == 0 or p is None:
        return _check(name, NOT_YET, "Nobody is randomised yet.")
    said = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    if randomisation["srm_flagged"]:
        return _check(
            name,
            CHECK,
            f"The arms' sizes are unlikely under the planned weights ({said}). Check the "
            "randomisation and the imports before trusting any result on this page.",
        )
    return _check(name, PASS, f"The arms' sizes are in line with the planned weights ({said}).")


def _balance(balance: dict[str, Any], labels: Labels) -> dict[str, Any]:
    name = "Arms alike at the start"
    rows = balance.get("differences") or []
    if not rows:
        return _check(name, NOT_YET, "No baseline characteristics to compare yet.")
    flagged = sorted({labels.column(r["covariate"]) for r in rows if r.get("flagged")})
    threshold = balance.get("threshold", 0.1)
    if flagged:
        return _check(
            name,
            CHECK,
            f"The arms differ at the start on {', '.join(flagged)} (a standardised difference "
            f"above {threshold:g}). The adjusted estimates allow for the characteristics in the "
            "analysis plan; treat others with caution.",
        )
    return _check(
        name,
        PASS,
        f"The arms are alike on every characteristic compared (no standardised difference "
        f"above {threshold:g}).",
    )


def _delivery(flow: dict[str, Any], labels: Labels) -> dict[str, Any]:
    name = "Messages reach people"
    rows, low, any_sent = [], [], False
    for arm in flow["arms"]:
        messages = arm["messages"]
        if not arm["gets_messages"]:
            rows.append({"title": labels.arm(arm["arm"]), "value": NO_MESSAGES})
            continue
        sent, delivered = messages["sent"], messages["delivered"]
        if not isinstance(sent, int) or not isinstance(delivered, int) or sent == 0:
            value = "none sent yet" if sent == 0 else "not shown (fewer than 5 sent)"
            rows.append({"title": labels.arm(arm["arm"]), "value": value})
            continue
        any_sent = True
        share = delivered / sent
        rows.append(
            {
                "title": labels.arm(arm["arm"]),
                "value": f"{percent(share)} of {count(sent)} sent were delivered or posted",
            }
        )
        if share < DELIVERY_THRESHOLD:
            low.append(labels.arm(arm["arm"]))
    if not any_sent:
        return _check(name, NOT_YET, "No messages have been sent yet.", rows)
    if low:
        return _check(
            name,
            CHECK,
            f"Fewer than {percent(DELIVERY_THRESHOLD)} of messages reached people in "
            f"{', '.join(low)}: an arm's messages that do not arrive cannot work.",
            rows,
        )
    return _check(
        name,
        PASS,
        f"At least {percent(DELIVERY_THRESHOLD)} of the messages sent in each arm were delivered "
        "(texts) or posted (letters).",
        rows,
    )


def _missing(outcome: dict[str, Any], labels: Labels) -> dict[str, Any]:
    name = "Outcomes recorded alike in each arm"
    missing = outcome.get("missing")
    if not missing or not missing.get("by_arm"):
        return _check(name, NOT_YET, "No outcomes are recorded yet.")
    rows = [
        {
            "title": labels.arm(row["arm"]),
            "value": f"{percent(row['missing_share'])} missing"
            if row.get("missing_share") is not None
            else "not shown (fewer than 5)",
        }
        for row in missing["by_arm"]
    ]
    if missing.get("flagged"):
        return _check(
            name,
            CHECK,
            f"Outcomes are missing more often in some arms (by up to "
            f"{points(missing['largest_gap'], sign=False)} percentage points), so the "
            "comparison may be biased: see the best and worst cases under the primary outcome.",
            rows,
        )
    return _check(
        name,
        PASS,
        f"The share of people with no recorded {labels.outcome(outcome['id'])} is similar in "
        "every arm.",
        rows,
    )


def nothing_yet(shown: dict[str, Any], trial_status: str) -> dict[str, str] | None:
    """Why there are no results to show yet, and what will appear when; None when there are."""
    if trial_status == TrialStatus.DRAFT:
        return {
            "heading": "No results yet",
            "body": (
                "This trial is a draft. Once it is launched and people due at court are "
                "enrolled, this page shows how many have been randomised to each arm. After "
                "their hearings, when outcomes are imported, it shows the effect of each arm, "
                "its likely range and its cost."
            ),
        }
    randomised = shown["flow"]["randomised"]
    if randomised == 0:
        return {
            "heading": "No results yet",
            "body": (
                "Nobody has been randomised yet. Results appear here once people are enrolled "
                "and their outcomes are imported after their hearings."
            ),
        }
    observed = [a["outcome_observed"] for a in shown["flow"]["arms"]]
    if all(value == 0 for value in observed):
        return {
            "heading": "No results yet",
            "body": (
                f"{count(randomised)} people have been randomised, and no outcome is recorded "
                "yet. The effect of each arm appears here once outcomes are imported after the "
                "hearings."
            ),
        }
    return None
