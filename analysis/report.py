"""The trial report: frame + definition → frozen results → the results JSON. Pure.

For each outcome the analysed population is intention-to-treat: everyone randomised, in the
outcome's `population` rule, with the outcome observed (complete cases; no imputation of
outcomes). Arms keep their randomised arm whatever was delivered. Missing outcomes are
counted by arm, flagged when the arms differ, and bounded (best and worst case). When whole
units were randomised, every unadjusted figure is computed by unit (analysis/summaries.py).
An outcome imported with its dates is also followed in time from the charge, by arm, when
the caller gives the analysis date (analysis/time_to_event.py); only then does its results
JSON have `time_to_event`. See docs/analysis-methods.md, "The report".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from analysis.checks import (
    Balance,
    MissingOutcomes,
    PowerSummary,
    Randomisation,
    balance,
    means_power,
    missing_outcomes,
    power,
    randomisation,
)
from analysis.columns import column_notes
from analysis.concurrent import ConcurrentComparison, concurrent_outcome
from analysis.effects import ArmEffect, Effects, ModelSpec, estimate_effects
from analysis.labels import Labels, listed
from analysis.measures import Measures, measure_outcome, pooled_sd
from analysis.population import in_population
from analysis.sites import SiteResults, site_results, with_site_strata
from analysis.stats import adjust_p_values, cost_per_additional_event
from analysis.stats.clustered import IntraclusterCorrelation
from analysis.stats.design import factor_codes
from analysis.stats.proportions import IntervalEstimate
from analysis.stats.savings import NetSaving, net_saving
from analysis.subgroups import SubgroupResult, subgroup_results
from analysis.summaries import (
    CLUSTERED,
    INDEPENDENT,
    ArmRates,
    ArmSummary,
    SummaryMethods,
    arm_rates,
    compare_unadjusted,
    extreme_bounds,
)
from analysis.time_to_event import TimeToEvent, is_dated, time_to_event
from experiments.definition import Outcome, TrialDefinition

# The models are tall and thin (millions of rows, tens of columns): memory-bound products
# that a second BLAS thread hardly speeds up, while on a busy machine OpenBLAS threads that
# wait for each other made single products of X'X take seconds instead of milliseconds.
BLAS_THREADS = 1


__all__ = ["ArmSummary", "Comparison", "OutcomeReport", "TrialReport", "build_report"]


@dataclass(frozen=True)
class Comparison:
    """One treatment arm against control on one outcome; every key of the results JSON."""

    arm: str
    versus: str
    risk_difference: float | None
    rd_ci_low: float | None
    rd_ci_high: float | None
    risk_ratio: float | None
    rr_ci_low: float | None
    rr_ci_high: float | None
    chi2_p_value: float | None
    fisher_p_value: float | None
    adjusted_risk_difference: float | None
    adjusted_std_error: float | None
    adjusted_ci_low: float | None
    adjusted_ci_high: float | None
    adjusted_p_value: float | None
    p_value_corrected: float | None
    odds_ratio: float | None
    or_ci_low: float | None
    or_ci_high: float | None
    or_p_value: float | None
    cace: float | None
    cace_std_error: float | None
    prob_better: float | None
    expected_loss: float | None
    cost_per_extra_event: float | None
    cost_ci_low: float | None
    cost_ci_high: float | None
    incremental_cost: float | None = None
    cost_status: str | None = None
    rd_bound_worst: float | None = None
    rd_bound_best: float | None = None
    primary_reason: str | None = None
    # Only with the outcome's `costs.cost_of_event`: otherwise left out of the JSON, so the
    # results of a trial without it are as they always were.
    net_saving: NetSaving | None = None


@dataclass(frozen=True)
class OutcomeReport:
    id: str
    primary: bool
    covariates_used: tuple[str, ...]
    arms: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]
    subgroups: tuple[SubgroupResult, ...]
    notes: tuple[str, ...]
    missing: MissingOutcomes | None = None
    methods: SummaryMethods | None = None
    clustered: bool = False
    icc: float | None = None
    cluster_size: float | None = None
    # Every arm has the pre-registered estimate with its interval; when not, each comparison's
    # primary_reason says why, and the page and text say so rather than show another figure
    # in its place.
    primary_available: bool = False
    # Randomisation units per arm in the primary model's rows; the arms with fewer than two
    # (no inference), and, in a clustered trial, those below the plan's min_clusters_per_arm.
    model_units: dict[str, int] = field(default_factory=dict)
    too_few_units: tuple[str, ...] = ()
    below_min_clusters: tuple[str, ...] = ()
    # Design columns left out as exact linear combinations of others (R drops them too).
    aliased: tuple[str, ...] = ()
    # From the charge to the event, by arm; only for an outcome imported with its dates.
    time_to_event: TimeToEvent | None = None
    # binary, scale, count or continuous. Only a binary outcome has `arms` and `comparisons`
    # (rates); the others have `measures` (means) instead; their subgroups are differences in
    # means, and they are not followed in time.
    type: str = "binary"
    measures: Measures | None = None
    # Only after an arm was excluded from enrolment while paused: who each comparison used
    # and left out (analysis/concurrent.py); otherwise left out of the JSON.
    concurrent: tuple[ConcurrentComparison, ...] = ()
    # Only for the primary outcome of a multi-site trial: the pooled estimate, each site's and
    # the test of heterogeneity (analysis/sites.py); otherwise left out of the JSON.
    sites: SiteResults | None = None


@dataclass(frozen=True)
class TrialReport:
    trial: str
    randomisation: Randomisation
    outcomes: tuple[OutcomeReport, ...]
    balance: Balance
    power: PowerSummary
    notes: tuple[str, ...]


def model_spec(definition: TrialDefinition) -> ModelSpec:
    control = definition.control_arm.id
    plan = definition.analysis
    return ModelSpec(
        control=control,
        treatments=tuple(arm.id for arm in definition.arms if arm.id != control),
        covariates=tuple(plan.covariates),
        # A multi-site trial is randomised within each site: the site is a stratum.
        stratified=bool(definition.population.strata) or bool(definition.sites),
        clustered=definition.population.unit != "participant",
        alpha=plan.alpha,
        missing=plan.missing,
        min_clusters=plan.min_clusters_per_arm,
    )


def build_report(
    frame: pd.DataFrame,
    definition: TrialDefinition,
    *,
    planned_costs: Mapping[str, float] | None = None,
    as_of: date | None = None,
    site_names: Mapping[str, str] | None = None,
) -> TrialReport:
    """Analyse every outcome of the definition on the frame (see module docstring).

    `planned_costs` (arm → cost of sending every planned message to one participant) is used
    for cost per extra event only when the frame has no `cost` column (a flat file). `as_of`
    is the analysis date, where follow-up of a dated outcome ends (time_to_event.analysis_date);
    without it no outcome is followed in time. `site_names` (slug → name) names a multi-site
    trial's sites where the definition does not (the organisations' names, from the database).
    """
    spec = model_spec(definition)
    # Without a costs section message prices are unknown, not zero: no planned cost then.
    explicit = "costs" in definition.model_fields_set
    costs, cost_note = _cost_per_participant(frame, planned_costs, explicit)
    analysed = with_site_strata(frame, definition)
    with (
        threadpool_limits(limits=BLAS_THREADS, user_api="blas"),
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        # The balance table reads the frame only: it is worked out on the second core while
        # the outcomes are, in the gaps their own threads leave.
        balanced = pool.submit(balance, frame, definition)
        outcomes = tuple(
            _concurrent_report(analysed, definition, outcome, spec, costs, as_of, site_names)
            for outcome in definition.outcomes
        )
        covariate_balance = balanced.result()
    primary = next(o for o in outcomes if o.id == definition.primary_outcome.id)
    notes = [cost_note] if cost_note else []
    notes += column_notes(frame)
    if frame.empty:
        notes.append("nobody is randomised yet")
    observed = IntraclusterCorrelation(primary.icc, primary.cluster_size, 0)
    clusters = observed if spec.clustered else None
    if primary.measures is not None:
        # A difference in means, not a rate: the t-test's power, on the answers given.
        sizes = tuple(ArmSummary(a.arm, a.n, 0, None, None, None) for a in primary.measures.arms)
        designed = means_power(definition, sizes, spec, clusters, pooled_sd(primary.measures))
    else:
        designed = power(definition, primary.arms, spec, clusters)
    return TrialReport(
        trial=definition.id,
        randomisation=randomisation(frame, definition),
        outcomes=outcomes,
        balance=covariate_balance,
        power=designed,
        notes=tuple(notes),
    )


def _concurrent_report(
    frame: pd.DataFrame,
    definition: TrialDefinition,
    outcome: Outcome,
    spec: ModelSpec,
    costs: pd.Series | None,
    as_of: date | None,
    site_names: Mapping[str, str] | None = None,
) -> OutcomeReport:
    """The outcome's report; after an arm was excluded from enrolment while paused, each
    comparison on its concurrent participants only (analysis/concurrent.py)."""

    def build(rows: pd.DataFrame, used: ModelSpec) -> OutcomeReport:
        return _outcome_report(rows, definition, outcome, used, costs, as_of, site_names)

    labels = Labels.of(definition)
    return concurrent_outcome(build, frame, spec, labels, definition.analysis.correction)


def _cost_per_participant(
    frame: pd.DataFrame, planned: Mapping[str, float] | None, explicit_costs: bool
) -> tuple[pd.Series | None, str | None]:
    if "cost" in frame:
        return frame["cost"], (
            "costs are what each participant's messages cost when sent (status sent, delivered "
            "or undelivered)"
        )
    if planned is not None and not explicit_costs:
        return None, "the definition has no costs section: no cost per extra event"
    if planned is not None:
        arm_cost = frame["arm"].astype(str).map(dict(planned)).astype("float64").fillna(0.0)
        return arm_cost, (
            "the data has no cost column: costs are the planned cost of every message of each "
            "arm (the definition's costs section), as if every message were sent"
        )
    return None, "the data has no cost column and no planned costs: no cost per extra event"


def _mean_cost(data: pd.DataFrame, costs: pd.Series | None) -> pd.Series | None:
    """Mean cost per analysed participant in each arm with anyone analysed."""
    if costs is None:
        return None
    codes, labels = factor_codes(data["arm"])
    present = codes >= 0
    totals = np.bincount(codes[present], costs.loc[data.index].to_numpy()[present], len(labels))
    counts = np.bincount(codes[present], minlength=len(labels))
    return pd.Series(totals[counts > 0] / counts[counts > 0], np.array(labels)[counts > 0])


def _outcome_report(
    frame: pd.DataFrame,
    definition: TrialDefinition,
    outcome: Outcome,
    spec: ModelSpec,
    costs: pd.Series | None,
    as_of: date | None = None,
    site_names: Mapping[str, str] | None = None,
) -> OutcomeReport:
    if outcome.type != "binary":
        return _measured_report(frame, definition, outcome, spec, site_names)
    population = in_population(frame, outcome.population)
    mask = population & frame[outcome.id].notna()
    data = frame if mask.all() else frame.loc[mask]
    labels = Labels.of(definition)
    notes = _population_notes(outcome, labels, int(population.sum()), int(mask.sum()))
    missing = missing_outcomes(frame, population, outcome.id, definition)
    notes += _missing_notes(missing)
    rates = arm_rates(data, outcome.id, definition, spec)
    arms = rates.arms
    notes += list(rates.notes)
    if spec.clustered and len(data):
        notes.append(_clustered_note(definition.population.unit))
    by_arm = {a.arm: a for a in arms}
    effects, arm_effects, corrected, more = _model(data, outcome.id, spec, definition, labels)
    notes += more
    mean_cost = _mean_cost(data, costs)
    missing_by_arm = {m.arm: m for m in missing.by_arm}
    comparisons = []
    for arm, p_corrected in zip(spec.treatments, corrected, strict=True):
        comparison, arm_notes = _comparison(
            by_arm[arm],
            by_arm[spec.control],
            arm_effects[arm],
            p_corrected,
            definition,
            outcome,
            mean_cost,
            rates,
        )
        worst, best = extreme_bounds(
            by_arm[arm], by_arm[spec.control], missing_by_arm[arm], missing_by_arm[spec.control]
        )
        comparisons.append(replace(comparison, rd_bound_worst=worst, rd_bound_best=best))
        notes += [f"{labels.arm(arm)}: {note}" for note in arm_notes]
    variables = definition.analysis.subgroups
    names = {v: labels.column(v) for v in variables}
    subgroups = subgroup_results(data, outcome.id, spec, variables, names)
    pooled = {
        c.arm: (
            c.adjusted_risk_difference,
            c.adjusted_std_error,
            c.adjusted_ci_low,
            c.adjusted_ci_high,
            c.adjusted_p_value,
        )
        for c in comparisons
    }
    sites = _sites(data, definition, outcome, spec, pooled, site_names)
    followed = None
    if as_of is not None and is_dated(frame, outcome.id):
        followed = time_to_event(data, outcome.id, spec, labels, as_of)
    return OutcomeReport(
        id=outcome.id,
        primary=outcome.id == definition.primary_outcome.id,
        covariates_used=effects.covariates_used if effects else (),
        arms=arms,
        comparisons=tuple(comparisons),
        subgroups=subgroups,
        notes=tuple(dict.fromkeys(notes)),
        missing=missing,
        methods=_methods(spec, definition.analysis.continuity == "yates"),
        clustered=spec.clustered,
        icc=rates.icc.icc if rates.icc else None,
        cluster_size=rates.icc.size_weighted_mean if rates.icc else None,
        primary_available=all(arm_effects[a].has_primary for a in spec.treatments),
        model_units=effects.units if effects else {},
        too_few_units=effects.too_few_units if effects else (),
        below_min_clusters=effects.below_min_clusters if effects else (),
        aliased=effects.aliased if effects else (),
        time_to_event=followed,
        sites=sites,
    )


def _measured_report(
    frame: pd.DataFrame,
    definition: TrialDefinition,
    outcome: Outcome,
    spec: ModelSpec,
    site_names: Mapping[str, str] | None = None,
) -> OutcomeReport:
    """A scale, count or continuous outcome: means, as analysis/measures.py says."""
    population = in_population(frame, outcome.population)
    values = pd.to_numeric(frame[outcome.id], errors="coerce")
    mask = population & values.notna()
    data = frame.loc[mask].assign(**{outcome.id: values[mask].astype("float64")})
    labels = Labels.of(definition)
    notes = _population_notes(outcome, labels, int(population.sum()), int(mask.sum()))
    missing = missing_outcomes(
        frame.assign(**{outcome.id: values}), population, outcome.id, definition
    )
    if spec.clustered and len(data):
        unit = definition.population.unit
        notes.append(
            f"whole {unit}s were randomised: every interval and test accounts for the "
            f"clustering by {unit}"
        )
    effects, arm_effects, corrected, more = _model(
        data, outcome.id, spec, definition, labels, binary=False
    )
    notes += more
    measures, measure_notes = measure_outcome(
        data, frame.loc[population], outcome, spec, effects, corrected, missing
    )
    notes += measure_notes
    variables = definition.analysis.subgroups
    names = {v: labels.column(v) for v in variables}
    subgroups = subgroup_results(data, outcome.id, spec, variables, names)
    pooled = {
        c.arm: (
            c.adjusted_difference,
            c.adjusted_std_error,
            c.adjusted_ci_low,
            c.adjusted_ci_high,
            c.adjusted_p_value,
        )
        for c in measures.comparisons
    }
    return OutcomeReport(
        id=outcome.id,
        primary=outcome.id == definition.primary_outcome.id,
        covariates_used=effects.covariates_used if effects else (),
        arms=(),
        comparisons=(),
        subgroups=subgroups,
        notes=tuple(dict.fromkeys(notes)),
        missing=missing,
        methods=None,
        clustered=spec.clustered,
        primary_available=all(c.has_primary for c in measures.comparisons),
        model_units=effects.units if effects else {},
        too_few_units=effects.too_few_units if effects else (),
        below_min_clusters=effects.below_min_clusters if effects else (),
        aliased=effects.aliased if effects else (),
        type=outcome.type,
        measures=measures,
        sites=_sites(data, definition, outcome, spec, pooled, site_names),
    )


def _sites(
    data: pd.DataFrame,
    definition: TrialDefinition,
    outcome: Outcome,
    spec: ModelSpec,
    pooled: Mapping[str, tuple[float | None, ...]],
    names: Mapping[str, str] | None = None,
) -> SiteResults | None:
    """The primary outcome by site, in a multi-site trial only; a site is named by its own
    name in the definition, else by `names` (its organisation's), else by its short name."""
    if not definition.sites or outcome.id != definition.primary_outcome.id:
        return None
    named = {
        site.organisation: site.name or (names or {}).get(site.organisation) or site.organisation
        for site in definition.sites
    }
    return site_results(data, outcome.id, spec, named, pooled)


def _methods(spec: ModelSpec, yates: bool) -> SummaryMethods:
    if spec.clustered:
        return CLUSTERED
    if yates:
        return replace(INDEPENDENT, chi_square="Pearson's chi-square test with Yates' correction")
    return INDEPENDENT


def _model(
    data: pd.DataFrame,
    outcome_id: str,
    spec: ModelSpec,
    definition: TrialDefinition,
    labels: Labels,
    *,
    binary: bool = True,
) -> tuple[Effects | None, dict[str, ArmEffect], tuple[float | None, ...], list[str]]:
    """The pre-registered model's effects for every arm (a reason where there are none), the
    p-values corrected across arms, and the notes both say."""
    effects = estimate_effects(data, outcome_id, spec, binary=binary) if len(data) else None
    notes = list(effects.notes) if effects else []
    nobody = ArmEffect(primary_reason="the outcome is observed for nobody")
    arm_effects = effects.arms if effects else {a: nobody for a in spec.treatments}
    raw_p = [arm_effects[a].adjusted_p_value for a in spec.treatments]
    corrected = adjust_p_values(
        raw_p, definition.analysis.correction, family_size=len(spec.treatments)
    )
    notes += _family_notes(spec.treatments, raw_p, definition.analysis.correction, labels)
    return effects, arm_effects, corrected, notes


def _clustered_note(unit: str) -> str:
    return (
        f"whole {unit}s were randomised: every interval, test and probability accounts for "
        f"the clustering by {unit}; Fisher's exact test is not reported because it treats "
        "participants as independent, and the chi-square test is Rao-Scott corrected"
    )


def _missing_notes(missing: MissingOutcomes) -> list[str]:
    if not missing.flagged:
        return []
    return [
        "missing outcomes differ between arms by more than 5 percentage points: the "
        "complete-case comparison may be biased; see the best- and worst-case bounds"
    ]


def _family_notes(
    treatments: tuple[str, ...], raw_p: list[float | None], correction: str, labels: Labels
) -> list[str]:
    """Say so when a comparison without a p-value still counts in the corrected family."""
    lost = [arm for arm, p in zip(treatments, raw_p, strict=True) if p is None]
    if correction == "none" or len(treatments) < 2 or not lost or len(lost) == len(treatments):
        return []
    return [
        f"the {correction} correction counts all {len(treatments)} pre-registered comparisons; "
        f"{listed(labels.arm(arm) for arm in lost)} could not be tested and "
        f"count{'s' if len(lost) == 1 else ''} as p = 1"
    ]


def _population_notes(
    outcome: Outcome, labels: Labels, in_population: int, analysed: int
) -> list[str]:
    notes = []
    if outcome.population is not None:
        notes.append(
            f"population: randomised participants with {labels.inclusion(outcome.population)} "
            f"({in_population})"
        )
    if analysed == 0:
        notes.append("the outcome is observed for nobody: nothing to estimate")
    elif analysed < in_population:
        notes.append(
            f"{in_population - analysed} randomised participant(s) have no observed outcome "
            "and are not analysed (complete cases)"
        )
    return notes


def _comparison(
    arm: ArmSummary,
    control: ArmSummary,
    effect: ArmEffect,
    p_corrected: float | None,
    definition: TrialDefinition,
    outcome: Outcome,
    mean_cost: pd.Series | None,
    rates: ArmRates,
) -> tuple[Comparison, list[str]]:
    lower = outcome.better == "lower"
    two = compare_unadjusted(arm, control, rates, definition.analysis, lower_is_better=lower)
    notes = list(two.notes)
    rd, rr = two.risk_difference, two.risk_ratio
    both = arm.n > 0 and control.n > 0
    cost = None
    if mean_cost is not None and both:
        cost = cost_per_additional_event(
            float(mean_cost.get(arm.arm, 0.0)),
            float(mean_cost.get(control.arm, 0.0)),
            rd,
            lower_is_better=lower,
        )
        if cost.note:
            notes.append(f"cost per {cost.per}: {cost.note}")
    saving = _net_saving(definition, outcome, effect, mean_cost, arm.arm, control.arm)
    if saving is not None and saving.note:
        notes.append(saving.note)
    comparison = Comparison(
        arm=arm.arm,
        versus=control.arm,
        risk_difference=rd.estimate,
        rd_ci_low=rd.ci_low,
        rd_ci_high=rd.ci_high,
        risk_ratio=rr.estimate,
        rr_ci_low=rr.ci_low,
        rr_ci_high=rr.ci_high,
        chi2_p_value=two.chi2_p_value,
        fisher_p_value=two.fisher_p_value,
        p_value_corrected=p_corrected,
        prob_better=two.prob_better,
        expected_loss=two.expected_loss,
        cost_per_extra_event=cost.estimate if cost else None,
        cost_ci_low=cost.ci_low if cost else None,
        cost_ci_high=cost.ci_high if cost else None,
        incremental_cost=cost.incremental_cost if cost else None,
        cost_status=str(cost.status) if cost else None,
        net_saving=saving,
        **asdict(effect),
    )
    return comparison, notes


def _net_saving(
    definition: TrialDefinition,
    outcome: Outcome,
    effect: ArmEffect,
    mean_cost: pd.Series | None,
    arm: str,
    control: str,
) -> NetSaving | None:
    """The net saving per 1,000 from the pre-registered estimate, when the outcome has a cost
    of an event and message costs are known; without the estimate, none, with its reason."""
    event_cost = definition.costs.cost_of_event.get(outcome.id)
    if event_cost is None or mean_cost is None:
        return None
    pre_registered = IntervalEstimate(
        effect.adjusted_risk_difference,
        effect.adjusted_ci_low,
        effect.adjusted_ci_high,
        effect.primary_reason or "the pre-registered estimate could not be computed",
    )
    return net_saving(
        pre_registered,
        cost_of_event=event_cost.amount,
        source=event_cost.source,
        mean_cost_arm=float(mean_cost.get(arm, 0.0)),
        mean_cost_control=float(mean_cost.get(control, 0.0)),
        lower_is_better=outcome.better == "lower",
    )


def report_json(report: TrialReport) -> dict[str, Any]:
    """The results JSON: plain dicts, lists and JSON numbers; no NaN or infinity anywhere.

    An outcome has `time_to_event` only when it was followed in time, and `type` and
    `measures` only when it is not yes/no, so the JSON of a trial without outcome dates or
    other outcome types is as it always was.
    """
    data = _plain(asdict(report))
    assert isinstance(data, dict)
    for outcome in data["outcomes"]:
        if outcome["time_to_event"] is None:
            del outcome["time_to_event"]
        # A yes/no outcome's JSON is as it always was: no type, no measures.
        if outcome["type"] == "binary":
            del outcome["type"], outcome["measures"]
        if not outcome["concurrent"]:
            del outcome["concurrent"]
        if outcome["sites"] is None:
            del outcome["sites"]
        for comparison in outcome["comparisons"]:
            if comparison["net_saving"] is None:
                del comparison["net_saving"]
    # A yes/no primary outcome's power is as it always was: no means.
    if data["power"].get("means") is None:
        data["power"].pop("means", None)
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value) + 0.0  # -0.0 becomes 0.0: a zero has no sign in the results
        return number if math.isfinite(number) else None
    return value
