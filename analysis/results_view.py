"""What the results page shows, built from the disclosed results JSON and the definition. Pure.

Numbers are not recomputed here: each figure on the page is one value of the JSON (after
disclosure control), so the page, the CSV and the JSON download always agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analysis.labels import Labels
from analysis.plots import ForestRow, bar_chart, forest_plot
from analysis.standing import health_checks, nothing_yet, progress, status
from analysis.text import adjusted_for, comparison_sentence, comparisons_tested
from analysis.verdict import verdicts
from experiments.definition import TrialDefinition

CORRECTIONS = {
    "holm": "Holm's step-down method",
    "bonferroni": "the Bonferroni method",
    "none": "no correction",
}
SUPPRESSED_SENTENCE = (
    "Not shown: an arm has fewer than 5 people with (or without) this outcome, so the "
    "estimate could reveal them (statistical disclosure control)."
)


def results_view(
    shown: dict[str, Any],
    definition: TrialDefinition,
    *,
    trial_status: str = "live",
    closed_at: datetime | None = None,
) -> dict[str, Any]:
    """The page's sections from the disclosed JSON (see analysis/disclosure.py).

    `trial_status` (draft, live or closed) decides the status tag, the interim warning and
    whether a lack of data reads "Not enough data yet" or "No clear effect".
    """
    titles = {arm.id: arm.title for arm in definition.arms}
    report = shown["report"]
    outcomes = [_outcome(o, definition, titles) for o in report["outcomes"]]
    primary = next(o for o in outcomes if o["primary"])
    weeks = shown["enrolment"]
    return {
        "titles": titles,
        "control": definition.control_arm.id,
        "min_clusters": definition.analysis.min_clusters_per_arm,
        "level": f"{100 * (1 - definition.analysis.alpha):g}%",
        "currency": definition.costs.currency,
        "randomisation": report["randomisation"],
        "flow": shown["flow"],
        "primary": primary,
        "secondary": [o for o in outcomes if not o["primary"]],
        "balance": report["balance"],
        "power": report["power"],
        "notes": report["notes"],
        "enrolment": weeks,
        "enrolment_chart": _enrolment_chart(weeks),
        "methods": methods_paragraph(definition, report),
        "methods_short": methods_in_brief(definition, report),
        "disclosure": shown["disclosure_control"],
        "status": status(trial_status, closed_at, interim_planned=False),
        "progress": progress(shown, definition),
        "health": health_checks(shown, definition),
        "nothing_yet": nothing_yet(shown, trial_status),
        "verdicts": verdicts(shown, definition, closed=trial_status == "closed"),
        "labels": Labels.of(definition),
        "alpha": f"{definition.analysis.alpha:g}",
        "primary_better": definition.primary_outcome.better,
        "exclusions": shown["flow"].get("ineligible_reasons", {}),
        "gets_messages": {arm.id: bool(arm.messages) for arm in definition.arms},
    }


def _outcome(
    outcome: dict[str, Any], definition: TrialDefinition, titles: dict[str, str]
) -> dict[str, Any]:
    spec = next(o for o in definition.outcomes if o.id == outcome["id"])
    labels = Labels.of(definition)
    comparisons = []
    for c in outcome["comparisons"]:
        sentence = (
            SUPPRESSED_SENTENCE
            if c.get("suppressed")
            else comparison_sentence(c, outcome["id"], definition, comparisons_tested(outcome))
        )
        comparisons.append({**c, "sentence": sentence})
    rows = [
        ForestRow(
            titles[c["arm"]],
            c["adjusted_risk_difference"],
            c["adjusted_ci_low"],
            c["adjusted_ci_high"],
        )
        for c in outcome["comparisons"]
    ]
    described = "; ".join(
        f"{r.label}: {_signed(r.estimate)} points ({_points(r.low)} to {_points(r.high)})"
        if r.estimate is not None and r.low is not None and r.high is not None
        else f"{r.label}: not shown"
        for r in rows
    )
    ident = f"forest-{outcome['id']}"
    return {
        **outcome,
        "description": spec.description
        or Labels.of(definition).outcome(outcome["id"]).capitalize(),
        "better": spec.better,
        "adjusted_for": adjusted_for(outcome, labels),
        "comparisons": comparisons,
        "forest": forest_plot(
            rows,
            ident=ident,
            title=(
                f"Forest plot: effect of each arm on {labels.outcome(outcome['id'])} against control"
            ),
            description=f"Adjusted differences with intervals. {described}.",
        ),
        "forest_id": ident,
    }


def _enrolment_chart(weeks: list[dict[str, Any]]) -> Any:
    if not weeks:
        return None
    values = [w["total"] if isinstance(w["total"], int) else None for w in weeks]
    labels = [w["week_starting"][5:] for w in weeks]
    described = "; ".join(f"week of {w['week_starting']}: {w['total']}" for w in weeks)
    return bar_chart(
        labels,
        values,
        ident="enrolment",
        title="Participants randomised per week",
        description=f"Randomised per week (weeks start on Monday). {described}.",
    )


def methods_in_brief(definition: TrialDefinition, report: dict[str, Any]) -> str:
    """The methods in three sentences a lead reads; the full text follows for statisticians."""
    labels = Labels.of(definition)
    plan, population = definition.analysis, definition.population
    primary = labels.outcome(definition.primary_outcome.id)
    within = (
        f", within {' and '.join(labels.column(s) for s in population.strata)}"
        if population.strata
        else ""
    )
    unit = "person" if population.unit == "participant" else labels.column(population.unit)
    adjusted = f", adjusted for {labels.columns(plan.covariates)}," if plan.covariates else ""
    comparisons = len(definition.arms) - 1
    corrected = (
        f" and corrected for making {comparisons} comparisons"
        if plan.correction != "none" and comparisons > 1
        else ""
    )
    level = f"{100 * (1 - plan.alpha):g}%"
    return " ".join(
        [
            f"People were put into the {len(definition.arms)} arms at random, by {unit}{within}, "
            f"and each arm is compared with {definition.control_arm.title.lower()} on {primary}.",
            f"The headline figures come from the analysis registered before the trial "
            f"began{adjusted} with {level} likely ranges (confidence intervals){corrected}.",
            "Everyone counts in the arm they were put into, whatever they received; people "
            "with no recorded outcome are left out and counted by arm in the health checks.",
        ]
    )


def methods_paragraph(definition: TrialDefinition, report: dict[str, Any]) -> str:
    """How the results were computed, in words, from the pre-registered analysis plan and the
    methods the report records for its primary outcome."""
    plan, population = definition.analysis, definition.population
    primary = definition.primary_outcome
    shown = next(o for o in report["outcomes"] if o["primary"])
    methods = shown.get("methods") or {}
    level = f"{100 * (1 - plan.alpha):g}%"
    unit = population.unit
    return " ".join(
        [
            _design_sentence(definition),
            f"The primary outcome is {(primary.description or primary.id).lower()}. People are "
            "compared in the arm they were randomised to, whatever they received, among those "
            "whose outcome was recorded (complete cases; no outcome is imputed); missing "
            "outcomes are counted by arm, with best- and worst-case bounds when the arms differ "
            "by more than 5 points (Horowitz and Manski 2000).",
            _model_sentence(definition),
            "Columns that are exact combinations of others are left out as R leaves them out "
            "(covariates before strata, never an arm), and named in the notes.",
            f"Intervals are {level} confidence intervals and p-values for the treatment arms are "
            f"corrected with {CORRECTIONS[plan.correction]} over every pre-registered "
            "comparison.",
            _unadjusted_sentence(methods, unit),
            "Odds ratios come from a logistic regression with the same terms"
            + (f", with t on the number of {unit}s minus one" if unit != "participant" else "")
            + ". Where delivery is known, the effect among people the messages reached is "
            "estimated by two-stage least squares with assignment as the instrument (Angrist, "
            "Imbens and Rubin 1996).",
            f"Probabilities that an arm is better use {methods.get('bayes', 'Beta(1, 1) priors')}. "
            "Cost per additional event is the extra cost per participant divided by the "
            "unadjusted difference, given only where an arm gains events at a price.",
            "The arms' sizes are checked against the planned weights (sample-ratio mismatch, "
            "flagged when p < 0.001), and baseline balance by standardised mean differences "
            "(flagged above 0.1).",
        ]
    )


def _design_sentence(definition: TrialDefinition) -> str:
    population = definition.population
    blocks = (
        f"permuted blocks of size {', '.join(str(b) for b in definition.block_sizes)}"
        if definition.randomisation.method == "permuted_blocks"
        else "simple randomisation"
    )
    labels = Labels.of(definition)
    strata = f", stratified by {labels.columns(population.strata)}" if population.strata else ""
    return f"Randomisation was by {population.unit} ({blocks}{strata})."


def _model_sentence(definition: TrialDefinition) -> str:
    labels = Labels.of(definition)
    plan, population, unit = definition.analysis, definition.population, definition.population.unit
    terms = ["arm indicators"]
    if plan.covariates:
        terms.append(f"the covariates {labels.columns(plan.covariates)}")
    if population.strata:
        terms.append(
            f"fixed effects for the randomisation strata ({labels.columns(population.strata)})"
        )
    if unit == "participant":
        errors = "HC2 robust standard errors and t-intervals on n − k degrees of freedom"
    else:
        errors = (
            f"CR2 cluster-robust standard errors clustered on the {unit}, with Bell–McCaffrey "
            f"degrees of freedom (Pustejovsky and Tipton 2018); an arm with fewer than two "
            f"{unit}s gets no interval, and fewer than {plan.min_clusters_per_arm} a warning"
        )
    missing = (
        "participants with a missing covariate were left out of the adjusted models"
        if plan.missing == "drop"
        else "a missing covariate was given its own indicator"
    )
    return (
        f"Each arm is compared with {definition.control_arm.title.lower()} by the pre-specified "
        f"linear probability model (least squares of the outcome on {', '.join(terms)}), with "
        f"{errors}; {missing}."
    )


def _unadjusted_sentence(methods: dict[str, Any], unit: str) -> str:
    if not methods:
        return ""
    tests = [methods["chi_square"], methods.get("fisher")]
    named = " and ".join(t for t in tests if t)
    clustered = (
        f" Because whole {unit}s were randomised, every unadjusted figure allows for it; "
        "Fisher's exact test, which assumes independent people, is not reported."
        if unit != "participant"
        else ""
    )
    return (
        f"Each arm's rate: {methods['arm_rates']}. Unadjusted differences: "
        f"{methods['risk_difference']}. Risk ratios: {methods['risk_ratio']}. Tests: {named}."
        f"{clustered}"
    )


def _points(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}"
