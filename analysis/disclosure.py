"""Statistical disclosure control: what a programme lead may see of a trial's results. Pure.

Researchers see exact figures. Everyone else (leads, admins) sees every count under 5 as
"fewer than 5", and loses the figures that would give such a count back:

- an arm's rate and interval when its events, or its non-events, are under 5 (a rate and its
  n give the count back), with its design effect and effective size; every comparison that
  uses such an arm (a risk difference and the two n's give it back too, and so do its
  best- and worst-case bounds); an arm's count of randomisation units under 5;
- in the missing outcomes by arm, each count under 5 (randomised, observed, missing), and the
  arm's missing share when its observed or missing count is under 5 (a share and the
  randomised count give the count back), with the largest gap between arms then;
- a subgroup level's estimates when, within it, an arm's events or non-events are under 5 (for
  an outcome that is not yes/no, when an arm has fewer than 5 answers in it);
- in a multi-site trial, a site's estimates by the same rule as a subgroup level (its arms'
  events and non-events there), and its count analysed when under 5: a lead of one area sees
  no other area's small counts. Cochran's Q and I^2 of an arm go too when a site with an
  estimate is hidden (with the other sites' estimates they would narrow the hidden one down);
  the joint test of heterogeneity stays, as a subgroup's interaction test does;
- in an outcome followed from the charge (time_to_event), an arm's share by a day when its
  events by then, or the people followed less those events, are under 5 (a share and the
  count followed give the count back, nearly); each log-rank test with an arm whose events or
  non-events over the whole follow-up are under 5; and the counts under 5;
- for an outcome that is not yes/no (analysis/measures.py), an arm's mean and every
  comparison with it when the arm has fewer than 5 answers, a response rate whose answers or
  non-answers are under 5, and each count of answers on a scale under 5 (with one more when
  only one is hidden);
- a balance row of a 0/1 covariate or a level whose count, or its complement, is under 5 in
  either arm;
- the achieved power figures when the smallest arm has fewer than 5;
- small numbers quoted in the analysis notes;
- in the results over time (cumulative by week), every week whose counts, or whose change
  since the previous week shown, have an arm's events or non-events under 5 (otherwise two
  neighbouring weeks give back the outcomes of the few people in between): such a week is
  folded into the next one shown. The last week is the whole analysis and always kept, its
  figures hidden as the outcome's own are.

Zeros that reveal nobody are not suppressed: a head count of the flow that is zero (nobody
randomised yet, no outcome recorded yet), and zeros by design: an arm whose design sends no
messages shows its message counts (all zero) as they are, since they say nothing about anyone.

This is primary cell suppression with complements inside each binary table. It does not
protect against differencing totals published in separate tables (for example randomised
minus analysed): those differences are people without an observed outcome, not an outcome.
"""

from __future__ import annotations

import copy
import re
from typing import Any

THRESHOLD = 5
FEWER = "fewer than 5"
ALL_BUT_FEWER = "all but fewer than 5"
RULE = (
    "counts under 5 are shown as 'fewer than 5', with the rates, intervals and effects that "
    "would reveal them left out"
)
_SMALL_IN_NOTE = re.compile(r"\((\d+)\)|\b(\d+)(?= (?:randomised )?participant)")


def small(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < THRESHOLD


def disclose(body: dict[str, Any], *, exact: bool) -> dict[str, Any]:
    """The results as one person may see them; `exact` only for researchers."""
    shown = copy.deepcopy(body)
    shown.pop("balance_counts", None)
    shown.pop("subgroup_counts", None)
    shown.pop("site_counts", None)
    shown["disclosure_control"] = {
        "applied": not exact,
        "threshold": THRESHOLD,
        "rule": RULE if not exact else "exact figures (researcher)",
    }
    if exact:
        return shown
    report = shown["report"]
    report["randomisation"]["units"] = _counts(report["randomisation"]["units"])
    for outcome in report["outcomes"]:
        _outcome(outcome, body.get("subgroup_counts", {}).get(outcome["id"], {}))
        if outcome.get("sites") is not None:
            cells = body.get("site_counts", {}).get(outcome["id"], {})
            _sites(outcome["sites"], cells, measured=outcome.get("measures") is not None)
        if outcome.get("time_to_event") is not None:
            _time_to_event(outcome["time_to_event"])
        if outcome.get("measures") is not None:
            _measures(outcome["measures"])
    report["notes"] = [_note(n) for n in report["notes"]]
    _balance(report["balance"], body.get("balance_counts", []))
    _power(report["power"])
    _flow(shown["flow"])
    for week in shown["enrolment"]:
        week["by_arm"] = _counts(week["by_arm"])
        week["total"] = FEWER if small(week["total"]) else week["total"]
    if shown.get("over_time") is not None:
        _over_time(shown["over_time"])
    return shown


def _counts(counts: dict[str, Any]) -> dict[str, Any]:
    return {key: FEWER if small(value) else value for key, value in counts.items()}


def _revealing(n: int, events: int) -> bool:
    """Whether a binary cell pair (events, non-events) has a count under the threshold."""
    return small(n) or small(events) or small(n - events)


def _outcome(outcome: dict[str, Any], subgroup_counts: dict[str, Any]) -> None:
    hidden = set()
    for arm in outcome["arms"]:
        n, events = arm["n"], arm["events"]
        if _revealing(n, events):
            hidden.add(arm["arm"])
            arm["rate"] = arm["ci_low"] = arm["ci_high"] = None
            arm["design_effect"] = arm["effective_n"] = None
            arm["suppressed"] = True
            arm["events"] = FEWER if small(events) else ALL_BUT_FEWER
            arm["n"] = FEWER if small(n) else n
        if small(arm.get("units")):
            arm["units"] = FEWER
    units = outcome.get("model_units", {})
    for arm, count in units.items():
        units[arm] = FEWER if small(count) else count
    if outcome.get("missing") is not None:
        _missing(outcome["missing"])
    for comparison in outcome["comparisons"]:
        if {comparison["arm"], comparison["versus"]} & hidden:
            _blank(comparison, keep=("arm", "versus"))
    _concurrent(outcome)
    measured = outcome.get("measures")
    arms = [a["arm"] for a in (measured["arms"] if measured else outcome["arms"])]
    for subgroup in outcome["subgroups"]:
        cells = subgroup_counts.get(subgroup["variable"], {})
        for level in subgroup["levels"]:
            by_arm = cells.get(level["level"], {})
            if any(_small_cell(by_arm.get(arm, (0, 0)), measured=bool(measured)) for arm in arms):
                level["n"] = FEWER if small(level["n"]) else level["n"]
                level["suppressed"] = True
                for comparison in level["comparisons"]:
                    _blank(comparison, keep=("arm", "versus"))
                level["notes"] = []
        subgroup["notes"] = [_note(n) for n in subgroup["notes"]]
    outcome["notes"] = [_note(n) for n in outcome["notes"]]


def _sites(block: dict[str, Any], cells: dict[str, Any], *, measured: bool) -> None:
    """Each site as a subgroup level; an arm's Q and I^2 when a site it used is hidden.

    Without counts for a site (a body from before sites were counted) its estimates are
    hidden: not knowing is not safe."""
    arms = {a["arm"] for a in block["arms"]} | {a["versus"] for a in block["arms"]}
    hidden_from: set[str] = set()
    for site in block["sites"]:
        by_arm = cells.get(site["site"])
        if site["n"] == 0 and not by_arm:
            continue
        if by_arm is None or any(
            _small_cell(by_arm.get(arm, (0, 0)), measured=measured) for arm in arms
        ):
            hidden_from |= {
                c["arm"] for c in site["comparisons"] if c["adjusted_std_error"] is not None
            }
            site["n"] = FEWER if small(site["n"]) else site["n"]
            site["suppressed"] = True
            for comparison in site["comparisons"]:
                _blank(comparison, keep=("arm", "versus"))
            site["notes"] = []
    for arm in block["arms"]:
        if arm["arm"] in hidden_from and arm["cochran_q"] is not None:
            for key in ("cochran_q", "q_df", "q_p_value", "i2"):
                arm[key] = None
            arm["note"] = (
                "Cochran's Q and I\u00b2 are not shown: a site's estimate is hidden by "
                "disclosure control, and with the others they would narrow it down"
            )
    block["notes"] = [_site_note(n) for n in block["notes"]]


def _site_note(note: str) -> str:
    """A note on the sites as a lead may read it: "only one randomisation unit for control at
    Gwent" is a count of one at a site, so it says which test is missing, not why."""
    if "only one randomisation unit" in note:
        return (
            "the test of heterogeneity is not done: some site has too few randomisation "
            "units in an arm to estimate the variation between units"
        )
    return _note(note)


def _small_cell(cell: Any, *, measured: bool) -> bool:
    """Whether a subgroup level's cell (people, events) could reveal someone: for a scale,
    count or measurement, fewer than 5 answers (as for its arms); else _revealing."""
    n, events = cell
    return small(n) if measured else _revealing(n, events)


def _time_to_event(block: dict[str, Any]) -> None:
    """Each arm's shares by day, the log-rank tests, and the counts left out or followed."""
    hidden = set()
    for arm in block["arms"]:
        n = arm["n"]
        if _revealing(n, arm["events"]):
            hidden.add(arm["arm"])
        for by in arm["by"]:
            if _revealing(n, by["events"]):
                for key in ("share", "ci_low", "ci_high", "std_error"):
                    by[key] = None
                by["suppressed"] = True
            by["events"] = FEWER if small(by["events"]) else by["events"]
            by["at_risk"] = FEWER if small(by["at_risk"]) else by["at_risk"]
        arm["events"] = FEWER if small(arm["events"]) else arm["events"]
        arm["n"] = FEWER if small(n) else n
    for comparison in block["comparisons"]:
        if {comparison["arm"], comparison["versus"]} & hidden:
            _blank(comparison, keep=("arm", "versus"))
    if hidden:
        block["chi_square"] = block["p_value"] = None
    for key in ("no_charge_date", "no_event_date"):
        block[key] = FEWER if small(block[key]) and block[key] else block[key]
    block["notes"] = [_note(n) for n in block["notes"]]


def _over_time(over_time: dict[str, Any]) -> None:
    """Keep the last week and, going back, each week safe in itself and against the next kept."""
    weeks = over_time["weeks"]
    if over_time.get("type", "binary") != "binary":
        _over_time_means(over_time)
        return
    kept: list[dict[str, Any]] = []
    for week in reversed(weeks):
        if not kept:
            kept.append(week)
            continue
        later = {a["arm"]: a for a in kept[-1]["arms"]}
        change = [
            (later[a["arm"]]["n"] - a["n"], later[a["arm"]]["events"] - a["events"])
            for a in week["arms"]
        ]
        own = [(a["n"], a["events"]) for a in week["arms"]]
        if all(n == 0 or not _revealing(n, events) for n, events in own + change):
            kept.append(week)
    over_time["weeks_hidden"] = len(weeks) - len(kept)
    over_time["weeks"] = kept[::-1]
    for week in over_time["weeks"]:
        hidden = {a["arm"] for a in week["arms"] if _revealing(a["n"], a["events"])}
        for arm in week["arms"]:
            if arm["arm"] in hidden:
                arm["events"] = FEWER if small(arm["events"]) else ALL_BUT_FEWER
                arm["n"] = FEWER if small(arm["n"]) else arm["n"]
        for comparison in week["comparisons"]:
            if {comparison["arm"], comparison["versus"]} & hidden:
                _blank(comparison, keep=("arm", "versus"))
    undated = over_time.get("undated", 0)
    over_time["undated"] = FEWER if undated and small(undated) else undated


def _concurrent(outcome: dict[str, Any]) -> None:
    """After an arm was excluded from enrolment, each comparison used its concurrent people
    only (analysis/concurrent.py): its own small cells hide it, and its counts under 5."""
    measures = outcome.get("measures")
    compared = measures["comparisons"] if measures else outcome["comparisons"]
    for row in outcome.get("concurrent", []):
        cells = [
            (row["arm_analysed"], row["arm_events"]),
            (row["control_analysed"], row["control_events"]),
        ]
        if any(_small_cell((n, e), measured=e is None) for n, e in cells):
            for comparison in compared:
                if (comparison["arm"], comparison["versus"]) == (row["arm"], row["versus"]):
                    _blank(comparison, keep=("arm", "versus"))
        for key, value in list(row.items()):
            if key.endswith("_events") and value is not None:
                row[key] = None  # with the counts analysed, an event count is the outcome
            elif small(value):
                row[key] = FEWER


def _over_time_means(over_time: dict[str, Any]) -> None:
    """Weeks of means: as for rates, with fewer than 5 answers in an arm (or added to it since
    the next week shown) what would reveal them: a mean of a few, or of the few in between."""
    weeks = over_time["weeks"]
    kept: list[dict[str, Any]] = []
    for week in reversed(weeks):
        later = {a["arm"]: a["n"] for a in kept[-1]["arms"]} if kept else None
        sizes = [a["n"] for a in week["arms"]]
        if later is not None:
            sizes += [later[a["arm"]] - a["n"] for a in week["arms"]]
        if later is None or all(n == 0 or not small(n) for n in sizes):
            kept.append(week)
    over_time["weeks_hidden"] = len(weeks) - len(kept)
    over_time["weeks"] = kept[::-1]
    for week in over_time["weeks"]:
        hidden = {a["arm"] for a in week["arms"] if small(a["n"])}
        for arm in week["arms"]:
            if arm["arm"] in hidden:
                arm["n"], arm["mean"] = FEWER, None
        for comparison in week["comparisons"]:
            if {comparison["arm"], comparison["versus"]} & hidden:
                _blank(comparison, keep=("arm", "versus"))
    undated = over_time.get("undated", 0)
    over_time["undated"] = FEWER if undated and small(undated) else undated


def _missing(missing: dict[str, Any]) -> None:
    """Randomised, observed and missing per arm: small counts, and shares that reveal them."""
    for row in missing["by_arm"]:
        if small(row["observed"]) or small(row["missing"]):
            row["missing_share"] = None
            missing["largest_gap"] = None
            row["suppressed"] = True
        for key in ("randomised", "observed", "missing"):
            row[key] = FEWER if small(row[key]) else row[key]


def _measures(measures: dict[str, Any]) -> None:
    """A scale, count or measurement: small arms, small answer counts, revealing rates.

    An arm with fewer than 5 answers loses its mean (with so few, a mean is nearly the
    answers) and every comparison with it; a response rate goes when its answers or
    non-answers are under 5; an answer count under 5 is "fewer than 5" with its share, and
    when only one of an arm's counts is hidden the next smallest goes too, or the arm's total
    would give it back.
    """
    hidden = set()
    for arm in measures["arms"]:
        n, randomised = arm["n"], arm["randomised"]
        if small(n):
            hidden.add(arm["arm"])
            _blank(arm, keep=("arm", "randomised", "n", "units"))
            arm["n"] = FEWER
        if small(n) or small(randomised - n if isinstance(n, int) else None):
            arm["response_rate"] = None
            measures["response_gap"] = None
        arm["randomised"] = FEWER if small(randomised) else randomised
        if small(arm.get("units")):
            arm["units"] = FEWER
    for comparison in measures["comparisons"]:
        if {comparison["arm"], comparison["versus"]} & hidden:
            _blank(comparison, keep=("arm", "versus"))
    for row in measures["distribution"]:
        counts, shares = list(row["counts"]), list(row["shares"])
        order = sorted(range(len(counts)), key=lambda i: counts[i])
        drop = [i for i in order if small(counts[i])]
        if len(drop) == 1 and len(order) > 1:
            drop.append(order[1])
        for i in drop:
            counts[i] = FEWER if small(counts[i]) else "hidden"
            shares[i] = None
        row["counts"], row["shares"] = counts, shares
        row["suppressed"] = bool(drop)


def _blank(row: dict[str, Any], *, keep: tuple[str, ...]) -> None:
    for key in row:
        if key not in keep:
            row[key] = None
    row["suppressed"] = True


def _note(note: str) -> str:
    def replace(match: re.Match[str]) -> str:
        number = match.group(1) or match.group(2)
        if int(number) >= THRESHOLD:
            return match.group(0)
        return f"({FEWER})" if match.group(1) else FEWER

    return _SMALL_IN_NOTE.sub(replace, note)


def _balance(balance: dict[str, Any], counts: list[dict[str, int] | None]) -> None:
    for row, counted in zip(balance["differences"], counts, strict=False):
        if counted is None:
            continue
        cells = (
            counted["arm_count"],
            counted["arm_n"] - counted["arm_count"],
            counted["control_count"],
            counted["control_n"] - counted["control_count"],
        )
        if any(small(c) for c in cells):
            row["mean_arm"] = row["mean_control"] = row["smd"] = None
            row["flagged"] = False
            row["suppressed"] = True
    balance["notes"] = [_note(n) for n in balance["notes"]]


def _power(power: dict[str, Any]) -> None:
    if small(power["achieved_n_per_arm"]):
        power["achieved_n_per_arm"] = FEWER
        power["achieved_minimum_detectable_effect"] = None
        if power.get("means"):
            power["means"]["achieved_standardised"] = None
            power["means"]["achieved_difference"] = None


def _flow(flow: dict[str, Any]) -> None:
    """Head counts of the flow; none is hidden when it is zero, as nobody is in it to reveal
    (a trial nobody has joined yet must say so, not "fewer than 5")."""
    for key in ("assessed", "ineligible", "randomised"):
        flow[key] = FEWER if small(flow[key]) and flow[key] != 0 else flow[key]
    flow["ineligible_by_rule"] = _counts(flow["ineligible_by_rule"])
    for arm in flow["arms"]:
        for key in ("randomised", "units", "outcome_observed"):
            arm[key] = FEWER if small(arm[key]) and arm[key] != 0 else arm[key]
        if arm.get("gets_messages", True):
            arm["messages"] = _counts(arm["messages"])
        # else: an arm that gets no messages has zero of each by design, which reveals no one
