"""The demo's closing summary in plain English: what happened, what was true, what was found."""

from __future__ import annotations

from typing import Any

from analysis.numbers import p_value
from nudge.demo.run import DemoResult
from nudge.demo.sites import HIGHEST, LOWEST

TITLES = {"practical": "Practical information", "social_norm": "Social norm"}


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def summary_text(result: DemoResult) -> str:
    sim = result.simulated
    lines = [
        "",
        f"Demo trial '{result.trial_id}' over {sim.days} simulated days:",
        f"  {result.enrolled} people enrolled from a synthetic court export{_split(result)}, "
        f"{result.randomised} randomised across three arms;",
        f"  {sim.texts_sent} texts sent at their scheduled times and {sim.letters_posted} "
        f"letters posted; {sim.court_lists} court-list updates adjourned or vacated hearings;",
        f"  {_journey(result.journey)};",
        f"  replies: {_replies(sim.replies)};",
        f"  how the texts ended: {_replies(result.texts)}.",
        "",
        "Attendance (the primary outcome): true effects against estimates",
    ]
    primary = next(o for o in result.report["outcomes"] if o["primary"])
    found = {c["arm"]: c for c in primary["comparisons"]}
    for truth in result.true_effects:
        c = found[truth.arm]
        low, high = c["adjusted_ci_low"], c["adjusted_ci_high"]
        inside = low <= truth.assignment <= high
        lines += [
            f"  {TITLES.get(truth.arm, truth.arm)}: true effect {_points(truth.assignment)} "
            f"points ({_points(truth.per_reached)} for the {100 * truth.reached_share:.0f}% "
            "the messages reached);",
            f"    estimated {_points(c['adjusted_risk_difference'])} points (95% CI "
            f"{_points(low)} to {_points(high)}): "
            + ("the interval contains the true effect." if inside else "the interval misses it."),
        ]
    lines += _sites(result, primary)
    lines += _confidence(result)
    lines += ["", "Guardrails (docs/trial-definition.md, guardrails):"]
    if result.breaches:
        lines += [f"  BREACHED: {words}" for words in result.breaches]
        lines.append(f"  mail to the trial's contacts: {result.guardrail_mail}.")
    else:
        lines.append("  no arm breached one.")
    lines += _evidence(result)
    url = result.workspace.database_url
    lines += [
        "",
        "The full report: NUDGE_DATABASE_URL=" + url + f" uv run nudge analyse {result.trial_id}",
    ]
    return "\n".join(lines)


def _split(result: DemoResult) -> str:
    """With --sites: how the export was shared out."""
    return f" split by court into {len(result.sites)} sites' files" if result.sites else ""


def _journey(sent: dict[str, int]) -> str:
    moved, vacated, after = (sent.get(t, 0) for t in ("hearing_moved", "hearing_vacated", "after"))
    return (
        f"of those, {moved} hearing-moved texts, {vacated} vacated texts and {after} "
        "after-hearing texts"
    )


def _replies(counts: dict[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


def _sites(result: DemoResult, primary: dict[str, Any]) -> list[str]:
    """With --sites: each site's people, true effects and estimates, and the test of
    heterogeneity between sites, as the analysis reports them under the primary outcome's
    `sites` (analysis/sites.py); said plainly when the report has no such section."""
    if not result.sites:
        return []
    found = primary.get("sites") or {}
    estimated = {s.get("site"): s for s in found.get("sites") or []}
    lines = [
        "",
        f"Attendance at each of the {len(result.sites)} sites (each its own courts and people; "
        f"the true effect of being reached differs by design, from {LOWEST:.1f} to "
        f"{HIGHEST:.1f} times the whole trial's):",
    ]
    for site in result.sites:
        lines.append(
            f"  {site.name} ({site.slug}): {site.enrolled} enrolled, {site.randomised} "
            f"randomised; effects {site.factor:.2f} times the whole trial's;"
        )
        level = estimated.get(site.slug) or {}
        comparisons = {c.get("arm"): c for c in level.get("comparisons") or []}
        for truth in site.true_effects:
            lines.append(
                f"    {TITLES.get(truth.arm, truth.arm)}: true effect "
                f"{_points(truth.assignment)} points, {_site_estimate(comparisons.get(truth.arm))}"
            )
        lines += [f"    ({note})" for note in level.get("notes") or []]
    if not found:
        return [*lines, "  (this report has no results by site: nothing estimated per site.)"]
    statistic, df, p = found.get("statistic"), found.get("df"), found.get("p_value")
    test = found.get("heterogeneity_test") or "test of heterogeneity"
    if statistic is None or df is None:
        lines.append(f"  Heterogeneity between sites ({test}): not tested.")
    else:
        lines.append(
            f"  Heterogeneity between sites ({test}): {statistic:.2f} on {df} df, p {_p(p)}."
        )
    for arm in found.get("arms") or []:
        q, q_df = arm.get("cochran_q"), arm.get("q_df")
        if q is not None and q_df is not None:
            lines.append(
                f"    {TITLES.get(arm.get('arm'), arm.get('arm'))}: Cochran's Q {q:.2f} on "
                f"{q_df} df, p {_p(arm.get('q_p_value'))}."
            )
    return lines


def _site_estimate(comparison: dict[str, Any] | None) -> str:
    keys = ("adjusted_risk_difference", "adjusted_ci_low", "adjusted_ci_high")
    if comparison is None or any(comparison.get(k) is None for k in keys):
        return "not estimated."
    estimate, low, high = (comparison[k] for k in keys)
    return f"estimated {_points(estimate)} (95% CI {_points(low)} to {_points(high)})."


def _p(value: float | None) -> str:
    shown = p_value(value)
    return shown if shown.startswith(("<", ">")) else f"= {shown}"


def _confidence(result: DemoResult) -> list[str]:
    """The survey's answers: each arm's mean, and each difference from control with its
    interval beside the true effect."""
    outcome = next(o for o in result.report["outcomes"] if o["id"] == "confidence")
    measures = outcome["measures"]
    means = ", ".join(
        f"{TITLES.get(a['arm'], 'Business as usual')} {a['mean']:.2f} ({a['n']} answered)"
        for a in measures["arms"]
        if a["mean"] is not None
    )
    lines = ["", "Confidence (survey, 1 to 5) two days after the hearing:", f"  means: {means};"]
    for c in measures["comparisons"]:
        truth = result.confidence_effects[c["arm"]]
        low, high = c["adjusted_ci_low"], c["adjusted_ci_high"]
        inside = low <= truth <= high
        lines.append(
            f"  {TITLES.get(c['arm'], c['arm'])}: true difference {truth:+.2f}, estimated "
            f"{c['adjusted_difference']:+.2f} (95% CI {low:+.2f} to {high:+.2f}): "
            + ("the interval contains the true effect." if inside else "the interval misses it.")
        )
    return lines


def _evidence(result: DemoResult) -> list[str]:
    """The replication, and what the "What we know" page pools from the two closed trials."""
    replication = result.replication
    if replication is None:
        return []
    lines = [
        "",
        'Evidence across trials (the "What we know" page, /evidence):',
        f"  the trial closed; a replication in a second area ('{replication.trial_id}') "
        f"randomised {replication.randomised}, sent {replication.texts_sent} texts and closed;",
    ]
    group = replication.pooled
    meta = group.meta if group else None
    if meta is None or meta.reml.estimate is None or meta.reml.ci_low is None:
        return [*lines, "  nothing could be pooled."]
    reml = meta.reml
    assert reml.estimate is not None and reml.ci_low is not None and reml.ci_high is not None
    lines.append(
        f"  practical information on attendance, pooled over {meta.k} trials: "
        f"{_points(reml.estimate)} points (95% CI {_points(reml.ci_low)} to "
        f"{_points(reml.ci_high)}, REML with Hartung-Knapp, I2 {reml.i2:.0f}%)."
    )
    return lines
