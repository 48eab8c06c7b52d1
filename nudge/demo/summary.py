"""The demo's closing summary in plain English: what happened, what was true, what was found."""

from __future__ import annotations

from nudge.demo.run import DemoResult

TITLES = {"practical": "Practical information", "social_norm": "Social norm"}


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def summary_text(result: DemoResult) -> str:
    sim = result.simulated
    lines = [
        "",
        f"Demo trial '{result.trial_id}' over {sim.days} simulated days:",
        f"  {result.enrolled} people enrolled from a synthetic court export, "
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
