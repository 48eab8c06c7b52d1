"""The aggregate results as CSV: one figure per row, from the disclosed results JSON. Pure.

Long format (section, outcome, arm, versus, subgroup, level, measure, value) so every
spreadsheet and statistics package reads it without reshaping; a suppressed count reads
"fewer than 5" exactly as on the page.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from nudge.csvout import write_rows

HEADER = ("section", "outcome", "arm", "versus", "subgroup", "level", "measure", "value")
Row = tuple[Any, ...]
SKIP = {"arm", "versus", "suppressed"}


def results_csv(shown: dict[str, Any]) -> str:
    stream = io.StringIO()
    write_rows(stream, HEADER, _rows(shown))
    return stream.getvalue()


def _row(section: str, measure: str, value: Any, **where: Any) -> Row:
    keys = ("outcome", "arm", "versus", "subgroup", "level")
    return (section, *(where.get(k, "") for k in keys), measure, value)


def _rows(shown: dict[str, Any]) -> Iterator[Row]:
    report = shown["report"]
    yield _row("about", "trial", shown["trial"])
    yield _row("about", "disclosure_control", shown["disclosure_control"]["rule"])
    randomisation = report["randomisation"]
    yield _row("randomisation", "unit", randomisation["unit"])
    for arm, count in randomisation["units"].items():
        yield _row("randomisation", "units", count, arm=arm)
    yield _row("randomisation", "srm_p_value", randomisation["srm_p_value"])
    yield from _flow(shown["flow"])
    for outcome in report["outcomes"]:
        yield from _outcome(outcome)
    for row in report["balance"]["differences"]:
        where = {"arm": row["arm"], "versus": row["versus"], "level": row["level"] or ""}
        for key in ("mean_arm", "mean_control", "smd", "flagged"):
            yield _row("balance", f"{row['covariate']}.{key}", row[key], **where)
    for key, value in report["power"].items():
        if key != "notes":
            yield _row("power", key, value)
    for week in shown["enrolment"]:
        for arm, count in week["by_arm"].items():
            yield _row("enrolment", "randomised", count, arm=arm, level=week["week_starting"])


def _flow(flow: dict[str, Any]) -> Iterator[Row]:
    for key in ("assessed", "ineligible", "randomised"):
        yield _row("flow", key, flow[key])
    for rule, count in flow["ineligible_by_rule"].items():
        yield _row("flow", "ineligible_by_rule", count, level=rule)
    for arm in flow["arms"]:
        for key in ("randomised", "units", "outcome_observed"):
            yield _row("flow", key, arm[key], arm=arm["arm"])
        for key, count in arm["messages"].items():
            yield _row("flow", f"messages_{key}", count, arm=arm["arm"])


def _outcome(outcome: dict[str, Any]) -> Iterator[Row]:
    name = outcome["id"]
    for arm in outcome["arms"]:
        for key in ("n", "events", "rate", "ci_low", "ci_high"):
            yield _row("outcome_arm", key, arm[key], outcome=name, arm=arm["arm"])
    for c in outcome["comparisons"]:
        for key, value in c.items():
            if key not in SKIP:
                yield _row("comparison", key, value, outcome=name, arm=c["arm"], versus=c["versus"])
    for subgroup in outcome["subgroups"]:
        variable = subgroup["variable"]
        yield _row(
            "subgroup",
            "interaction_p_value",
            subgroup["interaction_p_value"],
            outcome=name,
            subgroup=variable,
        )
        for level in subgroup["levels"]:
            where = {"outcome": name, "subgroup": variable, "level": level["level"]}
            yield _row("subgroup", "n", level["n"], **where)
            for c in level["comparisons"]:
                for key, value in c.items():
                    if key not in SKIP:
                        yield _row(
                            "subgroup", key, value, arm=c["arm"], versus=c["versus"], **where
                        )
