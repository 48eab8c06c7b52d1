"""What the results page shows, built from the disclosed results JSON and the definition. Pure.

Numbers are not recomputed here: each figure on the page is one value of the JSON (after
disclosure control), so the page, the CSV and the JSON download always agree.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from analysis import measure_words
from analysis.labels import Labels, listed
from analysis.numbers import percent
from analysis.plots import (
    ForestRow,
    TimePoint,
    answer_chart,
    bar_chart,
    forest_plot,
    over_time_chart,
    over_time_range,
    rows_in_words,
    signed,
)
from analysis.savings_view import savings_tables
from analysis.sites_view import sites_view
from analysis.standing import health_checks, nothing_yet, progress, status
from analysis.text import (
    Wording,
    adjusted_for,
    comparison_sentence,
    comparisons_tested,
    measured_sentence,
)
from analysis.time_to_event_words import page_view
from analysis.verdict import verdicts
from experiments.definition import TrialDefinition
from nudge.models import TrialStatus

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
    trial_status: str = TrialStatus.LIVE,
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
        "power_means": (
            {
                "designed": measure_words.design_words(report["power"]),
                "achieved": measure_words.achieved_words(report["power"]),
            }
            if report["power"].get("means")
            else None
        ),
        "notes": report["notes"],
        "enrolment": weeks,
        "methods": methods_paragraph(definition, report),
        "methods_short": methods_in_brief(definition, report),
        "disclosure": shown["disclosure_control"],
        "status": status(
            trial_status, closed_at, interim_planned=definition.analysis.interim is not None
        ),
        "progress": progress(shown, definition),
        "health": health_checks(shown, definition),
        "nothing_yet": nothing_yet(shown, trial_status),
        "verdicts": verdicts(shown, definition, closed=trial_status == TrialStatus.CLOSED),
        "labels": Labels.of(definition),
        "alpha": f"{definition.analysis.alpha:g}",
        "primary_better": definition.primary_outcome.better,
        "exclusions": shown["flow"].get("ineligible_reasons", {}),
        "savings": savings_tables(report, definition),
        **chart_views(shown, definition),
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
    block = outcome.get("time_to_event")
    level = f"{100 * (1 - definition.analysis.alpha):g}%"
    name = labels.outcome(outcome["id"])
    measured = outcome.get("measures")
    return {
        **outcome,
        "measured": measured_view(outcome, definition, labels) if measured else None,
        "followed": page_view(block, name, labels, level, long_date(block["as_of"]))
        if block
        else None,
        "description": spec.description
        or Labels.of(definition).outcome(outcome["id"]).capitalize(),
        "better": spec.better,
        "adjusted_for": adjusted_for(outcome, labels),
        "comparisons": comparisons,
        # Only the primary outcome of a multi-site trial has one (analysis/sites_view.py).
        "sites_view": sites_view(outcome, definition, labels),
    }


def measured_view(
    outcome: dict[str, Any], definition: TrialDefinition, labels: Labels
) -> dict[str, Any]:
    """A scale, count or measurement: its sentences, warning, chart and table rows."""
    measures = outcome["measures"]
    level = f"{100 * (1 - definition.analysis.alpha):g}%"
    name = labels.outcome(outcome["id"])
    tested = comparisons_tested(outcome)
    wording = Wording.of(definition)
    sentences = [
        SUPPRESSED_MEASURE
        if c.get("suppressed")
        else measured_sentence(c, outcome, wording, tested)
        for c in measures["comparisons"]
    ]
    chart = None
    if measures["distribution"]:
        points = measures["distribution"][0]["points"]
        meanings = {int(k): v for k, v in measures["scale_labels"].items()}
        rows = [(labels.arm(r["arm"]), r["shares"]) for r in measures["distribution"]]
        described = "; ".join(
            f"{arm}: "
            + ", ".join(
                f"{p} {percent(share)}" if share is not None else f"{p} not shown"
                for p, share in zip(points, shares, strict=True)
            )
            for arm, shares in rows
        )
        chart = answer_chart(
            rows,
            points,
            ident=f"answers-{outcome['id']}",
            title=f"Answers on {name} by arm",
            description=f"Share of each arm's answers at each point of the scale. {described}.",
            meanings=meanings,
        )
    supporting = measure_words.supporting_lines(measures, wording.titles, level)
    return {
        "scale": measure_words.on_scale(measures),
        "sentences": sentences,
        "warning": measure_words.response_warning(measures),
        "chart": chart,
        "arms": [
            {
                **arm,
                "mean_text": measure_words.number(arm.get("mean"), 2),
                "interval_text": (
                    f"{measure_words.number(arm['ci_low'], 2)} to "
                    f"{measure_words.number(arm['ci_high'], 2)}"
                    if arm.get("ci_low") is not None
                    else "–"
                ),
            }
            for arm in measures["arms"]
        ],
        "comparisons": [
            {
                **c,
                "difference_text": measure_words.difference(c.get("adjusted_difference")),
                "interval_text": (
                    f"{measure_words.difference(c['adjusted_ci_low'])} to "
                    f"{measure_words.difference(c['adjusted_ci_high'])}"
                    if c.get("adjusted_ci_low") is not None
                    else "–"
                ),
            }
            for c in measures["comparisons"]
        ],
        "supporting": [line.strip() for line in supporting],
        "methods": list(measures["methods"].values()),
        "subgroups": [_subgroup_texts(s) for s in outcome.get("subgroups", [])],
        "distribution": measures["distribution"],
        "meanings": measures["scale_labels"],
    }


def _subgroup_texts(subgroup: dict[str, Any]) -> dict[str, Any]:
    """A subgroup of a scale, count or measurement: each level's differences in means as text."""

    def worded(c: dict[str, Any]) -> str:
        shown = measure_words.difference(c.get("adjusted_risk_difference"))
        if c.get("adjusted_ci_low") is None:
            return shown
        low, high = c["adjusted_ci_low"], c["adjusted_ci_high"]
        return f"{shown} ({measure_words.difference(low)} to {measure_words.difference(high)})"

    levels = [
        {**level, "comparisons": [{**c, "text": worded(c)} for c in level["comparisons"]]}
        for level in subgroup["levels"]
    ]
    return {**subgroup, "levels": levels}


SUPPRESSED_MEASURE = (
    "Not shown: an arm has fewer than 5 people with an answer, so the estimate could reveal "
    "them (statistical disclosure control)."
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
            *_measured_sentences(definition),
        ]
    )


def _measured_sentences(definition: TrialDefinition) -> list[str]:
    """How outcomes that are not yes/no were analysed; nothing for a trial without any."""
    kinds = {o.type for o in definition.outcomes if o.type != "binary"}
    if not kinds:
        return []
    clustered = definition.population.unit != "participant"
    errors = "CR2 with Bell-McCaffrey degrees of freedom" if clustered else "HC2"
    said = [
        "Outcomes that are not yes/no (a scale, a count or a measurement) follow the same plan "
        "with means in place of rates: each arm's mean with a t interval, and the difference "
        f"in means from the same linear model ({errors} standard errors, as R's "
        "estimatr::lm_robust), corrected in the same way; beside it the standardised difference "
        "(Hedges' g). The response rate (outcome observed) is given by arm, flagged when the "
        "arms differ by more than 5 points, with Lee (2009) bounds on the difference in means."
    ]
    if "scale" in kinds:
        said.append(
            "For a scale, the answers are shown by arm and a proportional-odds (ordered logit) "
            "model with the same terms gives the odds of a higher answer, as a secondary analysis"
            + (" with cluster-robust standard errors." if clustered else ".")
        )
    if "count" in kinds:
        said.append(
            "For a count, a Poisson model with the same terms and robust (sandwich HC0) "
            "standard errors gives the rate ratio, as a secondary analysis."
        )
    return said


def _design_sentence(definition: TrialDefinition) -> str:
    population = definition.population
    blocks = (
        f"permuted blocks of size {', '.join(str(b) for b in definition.block_sizes)}"
        if definition.randomisation.method == "permuted_blocks"
        else "simple randomisation"
    )
    labels = Labels.of(definition)
    named = _strata_words(definition, labels)
    strata = f", stratified by {named}" if named else ""
    return f"Randomisation was by {population.unit} ({blocks}{strata})."


def _strata_words(definition: TrialDefinition, labels: Labels) -> str:
    """The strata in words; a multi-site trial's site first (its model's stratum has it)."""
    strata = definition.population.strata
    if definition.sites:
        return listed(["site", *(labels.column(name) for name in strata)])
    return labels.columns(strata) if strata else ""


def _model_sentence(definition: TrialDefinition) -> str:
    labels = Labels.of(definition)
    plan, population, unit = definition.analysis, definition.population, definition.population.unit
    terms = ["arm indicators"]
    if plan.covariates:
        terms.append(f"the covariates {labels.columns(plan.covariates)}")
    if population.strata or definition.sites:
        terms.append(
            f"fixed effects for the randomisation strata ({_strata_words(definition, labels)})"
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


# Charts (templates/results/_charts.html): each with its text alternative and its table.


def chart_views(shown: dict[str, Any], definition: TrialDefinition) -> dict[str, Any]:
    """The charts and the words beside them, from the disclosed JSON."""
    labels = Labels.of(definition)
    words = {
        "control": labels.arm(definition.control_arm.id),
        "level": f"{100 * (1 - definition.analysis.alpha):g}%",
        "arms": {arm.id: labels.arm(arm.id) for arm in definition.arms},
    }
    return {
        "chart_words": words,
        "forests": {
            o["id"]: _forest(o, definition, labels)
            if o.get("measures") is None
            else _forest_of_means(o, definition, labels)
            for o in shown["report"]["outcomes"]
        },
        **_over_time_view(shown.get("over_time"), definition, labels),
        **_enrolment_view(shown, labels),
    }


def _better_words(better: str, outcome: str) -> str:
    side, more = ("right", "more") if better == "higher" else ("left", "less")
    return f"Differences to the {side} of 0 are better ({more} {outcome})."


def _interval_words(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "no interval"
    return f"{signed(100 * low)} to {signed(100 * high)}"


def _forest(outcome: dict[str, Any], definition: TrialDefinition, labels: Labels) -> dict[str, Any]:
    spec = next(o for o in definition.outcomes if o.id == outcome["id"])
    rows = [
        ForestRow(
            labels.arm(c["arm"]),
            c["adjusted_risk_difference"],
            c["adjusted_ci_low"],
            c["adjusted_ci_high"],
        )
        for c in outcome["comparisons"]
    ]
    described = rows_in_words(
        rows,
        lambda r: (
            None
            if r.estimate is None
            else f"{signed(100 * r.estimate)} points ({_interval_words(r.low, r.high)})"
        ),
    )
    name = labels.outcome(outcome["id"])
    better = _better_words(spec.better, name)
    ident = f"forest-{outcome['id']}"
    chart = forest_plot(
        rows,
        ident=ident,
        title=f"Forest plot: effect of each arm on {name} against control",
        description=f"Adjusted differences from control in percentage points with intervals. "
        f"{better} {described}.",
        better=spec.better,
    )
    return {"chart": chart, "id": ident, "better": better}


def _forest_of_means(
    outcome: dict[str, Any], definition: TrialDefinition, labels: Labels
) -> dict[str, Any]:
    """The forest plot of a scale, count or measurement: adjusted differences in means."""
    spec = next(o for o in definition.outcomes if o.id == outcome["id"])
    measures = outcome["measures"]
    rows = [
        ForestRow(
            labels.arm(c["arm"]),
            c.get("adjusted_difference"),
            c.get("adjusted_ci_low"),
            c.get("adjusted_ci_high"),
        )
        for c in measures["comparisons"]
    ]
    scale = measure_words.on_scale(measures)
    described = rows_in_words(
        rows,
        lambda r: (
            None
            if r.estimate is None or r.low is None
            else f"{measure_words.difference(r.estimate)} ({measure_words.difference(r.low)} to "
            f"{measure_words.difference(r.high)})"
        ),
    )
    name = labels.outcome(outcome["id"])
    better = _better_words(spec.better, name)
    ident = f"forest-{outcome['id']}"
    units = f"the outcome's units (difference in means{scale})"
    chart = forest_plot(
        rows,
        ident=ident,
        title=f"Forest plot: effect of each arm on {name} against control",
        description=f"Adjusted differences in means from control{scale} with intervals. "
        f"{better} {described}.",
        better=spec.better,
        scale=1.0,
        axis=f"Difference in means{scale}",
    )
    return {"chart": chart, "id": ident, "better": better, "units": units}


def long_date(iso: str) -> str:
    """ "2027-01-04" as GOV.UK writes dates: "4 January 2027"."""
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%B} {day.year}"


def short_date(iso: str) -> str:
    """ "2027-01-04" for tables: "4 Jan 2027"."""
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%b} {day.year}"


def _over_time_view(
    over_time: dict[str, Any] | None, definition: TrialDefinition, labels: Labels
) -> dict[str, Any]:
    if not over_time or not over_time["weeks"]:
        return {"over_time": None, "over_time_charts": []}
    weeks = over_time["weeks"]
    outcome = definition.primary_outcome
    measured = over_time.get("type", "binary") != "binary"
    scale = 1.0 if measured else 100.0

    def said(estimate: float, low: float | None, high: float | None) -> str:
        if not measured:
            return f"{signed(100 * estimate)} points ({_interval_words(low, high)})"
        interval = (
            f"{measure_words.difference(low)} to {measure_words.difference(high)}"
            if low is not None and high is not None
            else "no interval"
        )
        return f"{measure_words.difference(estimate)} ({interval})"

    arms = [c["arm"] for c in weeks[0]["comparisons"]]
    series = {
        arm: [
            TimePoint(
                date.fromisoformat(w["week_starting"]), c["estimate"], c["ci_low"], c["ci_high"]
            )
            for w in weeks
            for c in w["comparisons"]
            if c["arm"] == arm
        ]
        for arm in arms
    }
    span = over_time_range(list(series.values()), scale)
    name = labels.outcome(outcome.id)
    better = (
        _better_words(outcome.better, name)
        .replace("to the right of", "above")
        .replace("to the left of", "below")
    )
    enough = sum(1 for points in series.values() for p in points if p.estimate is not None)
    units = "percentage points"
    if measured and outcome.type == "scale" and outcome.scale is not None:
        units = f"points on the {outcome.scale.min}\u2013{outcome.scale.max} scale"
    elif measured:
        units = "the outcome's own units (a difference in means)"
    charts = []
    for i, arm in enumerate(arms):
        described = "; ".join(
            f"week starting {long_date(p.week.isoformat())}: "
            + (said(p.estimate, p.low, p.high) if p.estimate is not None else "not shown")
            for p in series[arm]
        )
        charts.append(
            {
                "arm": labels.arm(arm),
                "chart": over_time_chart(
                    series[arm],
                    ident=f"over-time-{arm}",
                    title=f"Results over time: {labels.arm(arm)} against control, on {name}",
                    description=f"Unadjusted difference from control in {units} with "
                    f"intervals, counting outcomes up to the end of each week. {better} "
                    f"{described}.",
                    better=outcome.better,
                    span=span,
                    marker=i,
                    scale=scale,
                    places=2 if measured else 1,
                ),
            }
        )
    rows = [
        {
            "week": short_date(w["week_starting"]),
            "observed": sum(a["n"] for a in w["arms"])
            if all(isinstance(a["n"], int) for a in w["arms"])
            else None,
            "differences": {
                c["arm"]: (
                    said(c["estimate"], c["ci_low"], c["ci_high"])
                    if measured and c["estimate"] is not None
                    else _difference_cell(c["estimate"], c["ci_low"], c["ci_high"])
                )
                for c in w["comparisons"]
            },
        }
        for w in weeks
    ]
    view = {
        "outcome": name,
        "arms": arms,
        "rows": rows,
        "enough": enough > len(arms),  # more than one week with an estimate
        "first_week": long_date(weeks[0]["week_starting"]),
        "weeks_hidden": over_time.get("weeks_hidden", 0),
        "undated": over_time.get("undated", 0),
        "better": better,
        "units": units,
    }
    return {"over_time": view, "over_time_charts": charts}


def _enrolment_view(shown: dict[str, Any], labels: Labels) -> dict[str, Any]:
    weeks, at = shown["enrolment"], shown.get("randomised_at")
    total = shown["flow"]["randomised"]
    everyone = f"All {total:,} people were" if isinstance(total, int) else "Everyone was"
    summary, chart = None, None
    if weeks and at and at["first_day"] == at["last_day"]:
        how = "in one import" if at["imports"] == 1 else f"in {at['imports']} imports"
        summary = f"{everyone} randomised on {long_date(at['first_day'])}, {how}."
    elif weeks and len(weeks) == 1 and at:
        summary = (
            f"{everyone} randomised in the week starting {long_date(weeks[0]['week_starting'])}, "
            f"between {long_date(at['first_day'])} and {long_date(at['last_day'])}."
        )
    elif weeks:
        if at:
            summary = (
                f"People were randomised from {long_date(at['first_day'])} to "
                f"{long_date(at['last_day'])}, in {at['imports']:,} imports over "
                f"{len(weeks)} weeks."
            )
        described = "; ".join(
            f"week starting {long_date(w['week_starting'])}: {w['total']}" for w in weeks
        )
        chart = bar_chart(
            [date.fromisoformat(w["week_starting"]) for w in weeks],
            [w["total"] if isinstance(w["total"], int) else None for w in weeks],
            ident="enrolment",
            title="People randomised per week",
            description=f"People randomised per week (weeks start on Monday). {described}.",
        )
    rows = [{**w, "week": short_date(w["week_starting"])} for w in weeks]
    return {"enrolment_chart": chart, "enrolment_summary": summary, "enrolment_rows": rows}


def _difference_cell(estimate: float | None, low: float | None, high: float | None) -> str:
    if estimate is None:
        return "not shown"
    return f"{signed(100 * estimate)} ({_interval_words(low, high)})"
