"""Model-based effects of each arm on one outcome: the primary LPM, logistic, and CACE.

Pure: the analysed rows of the frame in, frozen results out. Every model failure (an arm with
nobody, separation, one cluster) becomes `None` values and a note, never an exception.

Columns that are exact linear combinations of others (a stratum listed again as a covariate, a
covariate fixed within each stratum, two covariates where one is a linear function of the
other) are dropped as R drops them and named in the notes; the primary model is lost only when
an arm indicator itself cannot be estimated. An arm (or control) with fewer than two
randomisation units gets its estimate without any standard error, interval or p-value: one
unit says nothing about the variation between units.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis.compliance import (
    ONE_SIDED,
    TWO_SIDED,
    ComplierEffect,
    one_sided_effects,
    reached_in_control,
    two_sided_effect,
)
from analysis.stats import (
    DesignMatrix,
    build_design,
    lm_robust,
    logistic_regression,
)
from analysis.stats.cr2 import ClusterBlocks, cluster_blocks
from analysis.stats.design import factor_codes

# Below this many randomisation units an arm's variance cannot be estimated at all.
MIN_UNITS_FOR_INFERENCE = 2
# What the logistic model gives each arm.
ODDS_FIELDS = ("odds_ratio", "or_ci_low", "or_ci_high", "or_p_value")


@dataclass(frozen=True)
class ModelSpec:
    """What the plan fixes for every model: arms, covariates, strata, clustering, alpha."""

    control: str
    treatments: tuple[str, ...]
    covariates: tuple[str, ...]
    stratified: bool
    clustered: bool
    alpha: float
    missing: str
    min_clusters: int = 10


@dataclass(frozen=True)
class ArmEffect:
    """One arm's model-based estimates against control (None where not estimable)."""

    adjusted_risk_difference: float | None = None
    adjusted_std_error: float | None = None
    adjusted_ci_low: float | None = None
    adjusted_ci_high: float | None = None
    adjusted_p_value: float | None = None
    odds_ratio: float | None = None
    or_ci_low: float | None = None
    or_ci_high: float | None = None
    or_p_value: float | None = None
    cace: float | None = None
    cace_std_error: float | None = None
    # Why the pre-registered estimate or its interval is missing, in words; None when both are
    # there. The report says it instead of passing another figure off as the primary one.
    primary_reason: str | None = None

    @property
    def has_primary(self) -> bool:
        keys = (self.adjusted_risk_difference, self.adjusted_ci_low, self.adjusted_ci_high)
        return all(value is not None for value in keys)


WITHOUT_INFERENCE = {
    "adjusted_std_error": None,
    "adjusted_ci_low": None,
    "adjusted_ci_high": None,
    "adjusted_p_value": None,
    "or_ci_low": None,
    "or_ci_high": None,
    "or_p_value": None,
    "cace_std_error": None,
}


@dataclass(frozen=True)
class Effects:
    """Every arm's model-based effects, with what the page must warn about.

    ``units`` counts the randomisation units of each arm (control included) in the model's
    rows. ``too_few_units`` lists arms (control included) with fewer than two units: they, or
    with control every arm, get no standard error, interval or p-value. In a clustered trial
    ``below_min_clusters`` lists arms (control included) with fewer units than the plan's
    ``min_clusters_per_arm``, whose intervals are unreliable. ``aliased`` names the design
    columns dropped as exact linear combinations of others.
    """

    arms: dict[str, ArmEffect]
    covariates_used: tuple[str, ...]
    n_model: int | None
    notes: tuple[str, ...] = field(default=())
    units: dict[str, int] = field(default_factory=dict)
    too_few_units: tuple[str, ...] = ()
    below_min_clusters: tuple[str, ...] = ()
    aliased: tuple[str, ...] = ()


def design_for(
    data: pd.DataFrame,
    outcome: str,
    spec: ModelSpec,
    extra: tuple[str, ...] = (),
    arms: tuple[str, ...] | None = None,
) -> DesignMatrix:
    """The primary model's design on `data`, with those of the arms (default: all) with rows."""
    present = set(factor_codes(data["arm"])[1])
    treatments = [arm for arm in (spec.treatments if arms is None else arms) if arm in present]
    return build_design(
        data,
        arm="arm",
        control=spec.control,
        arms=treatments,
        covariates=[*spec.covariates, *extra],
        strata="stratum" if spec.stratified else None,
        outcome=outcome,
        missing="indicator" if spec.missing == "indicator" else "drop",
    )


def cluster_codes(
    data: pd.DataFrame, design: DesignMatrix, spec: ModelSpec
) -> ClusterBlocks | None:
    """The design rows' randomisation units, grouped once for every clustered model."""
    if not spec.clustered:
        return None
    return cluster_blocks(np.asarray(pd.factorize(data["unit"])[0])[design.rows])


def unit_counts(
    data: pd.DataFrame,
    rows: np.ndarray | None,
    arms: list[str],
    *,
    clustered: bool,
    unit_codes: np.ndarray | None = None,
) -> dict[str, int]:
    """Randomisation units of each arm among ``rows`` (all rows: None).

    Unclustered, each participant (row) is a unit. Clustered, the distinct ``data["unit"]``
    values are counted, from ``unit_codes`` (the rows' units as integer codes) when the
    caller has them already.
    """
    arm_codes, labels = factor_codes(data["arm"])
    if rows is not None:
        arm_codes = arm_codes[rows]
    if not clustered:
        counts = np.bincount(arm_codes[arm_codes >= 0], minlength=len(labels))
    else:
        if unit_codes is None:
            unit_codes = np.asarray(pd.factorize(data["unit"])[0])
            unit_codes = unit_codes if rows is None else unit_codes[rows]
        ok = (arm_codes >= 0) & (unit_codes >= 0)
        seen = np.zeros((len(labels), int(unit_codes.max(initial=0)) + 1), dtype=bool)
        seen[arm_codes[ok], unit_codes[ok]] = True
        counts = seen.sum(axis=1)
    by_label = dict(zip(labels, counts.tolist(), strict=True))
    return {arm: int(by_label.get(arm, 0)) for arm in arms}


def estimate_effects(
    data: pd.DataFrame, outcome: str, spec: ModelSpec, *, binary: bool = True
) -> Effects:
    """LPM with HC2/CR2 (Bell-McCaffrey df), logistic odds ratios, and 2SLS CACE.

    For an outcome that is not yes/no (``binary=False``) the same linear model gives the
    difference in means (in ``adjusted_risk_difference``); there is no logistic model and no
    complier effect.
    """
    everyone = [spec.control, *spec.treatments]
    failure = _no_model(data, outcome, spec)
    design = None
    if failure is None:
        try:
            design = design_for(data, outcome, spec)
        except ValueError as exc:
            failure = f"primary model not fitted: {exc}"
    if design is None:
        units = unit_counts(data, None, everyone, clustered=spec.clustered)
        reason = str(failure).removesuffix(": no model").removesuffix(": no model-based estimates")
        unfitted = {arm: ArmEffect(primary_reason=reason) for arm in spec.treatments}
        return Effects(unfitted, (), None, (str(failure),), units)
    notes = list(_design_notes(design, spec))
    clusters = cluster_codes(data, design, spec)
    codes = None if clusters is None else clusters.codes
    units = unit_counts(data, design.rows, everyone, clustered=spec.clustered, unit_codes=codes)
    too_few, below, unit_notes = _unit_floor(units, design, spec)
    notes += unit_notes
    y = data[outcome].to_numpy(dtype=np.float64)[design.rows]
    arms = _fitted(data, outcome, y, design, clusters, spec, notes, binary=binary)
    withheld = spec.treatments if spec.control in too_few else too_few
    for arm in withheld:
        if arm in arms:
            short = spec.control if spec.control in too_few else arm
            reason = f"only {units[short]} randomisation unit in {_who(short, spec)}"
            arms[arm] = replace(arms[arm], **WITHOUT_INFERENCE, primary_reason=reason)
    for arm in spec.treatments:
        if arm not in design.arm_terms:
            arms[arm] = replace(arms[arm], primary_reason="no observed outcomes in this arm")
        elif not arms[arm].has_primary and arms[arm].primary_reason is None:
            arms[arm] = replace(arms[arm], primary_reason="the model gave no interval")
    used = tuple(c for c in spec.covariates if _uses(design, c))
    return Effects(
        arms, used, len(design.rows), tuple(notes), units, too_few, below, design.aliased
    )


def _fitted(
    data: pd.DataFrame,
    outcome: str,
    y: np.ndarray,
    design: DesignMatrix,
    clusters: ClusterBlocks | None,
    spec: ModelSpec,
    notes: list[str],
    *,
    binary: bool,
) -> dict[str, ArmEffect]:
    """Each arm's figures from the linear model and, for a yes/no outcome, the logistic and
    complier models; their notes are added to ``notes`` in that order."""
    arms = {arm: ArmEffect() for arm in spec.treatments}
    if not binary:
        _linear(y, design, clusters, spec, arms, notes)
        return arms
    # The odds ratios and the complier effects share nothing with the linear model but its
    # inputs: they run on the second core meanwhile (numpy leaves the GIL for its long
    # loops), on their own copies of the results, merged after in the same order as before.
    odds, odds_notes, cace_notes = dict(arms), list[str](), list[str]()

    def second_core() -> dict[str, ComplierEffect]:
        _logistic(y, design, clusters, spec, odds, odds_notes)
        return _cace(data, outcome, design, clusters, spec, cace_notes)

    with ThreadPoolExecutor(max_workers=1) as pool:
        complier = pool.submit(second_core)
        _linear(y, design, clusters, spec, arms, notes)
        cace_effects = complier.result()
    notes += odds_notes + cace_notes
    for arm in arms:
        arms[arm] = replace(arms[arm], **{name: getattr(odds[arm], name) for name in ODDS_FIELDS})
    for arm, cace in cace_effects.items():
        arms[arm] = replace(arms[arm], cace=cace.estimate, cace_std_error=cace.std_error)
    return arms


def _who(arm: str, spec: ModelSpec) -> str:
    return "control" if arm == spec.control else "this arm"


def _no_model(data: pd.DataFrame, outcome: str, spec: ModelSpec) -> str | None:
    if not (data["arm"].astype(str) == spec.control).any():
        return "control has no observed outcomes: no model"
    if data[outcome].nunique() < 2:
        return "every analysed participant had the same outcome: no model-based estimates"
    return None


def belongs(term: str, variable: str) -> bool:
    """True when design column ``term`` comes from ``variable`` (itself or a level of it)."""
    return term == variable or term.startswith(f"{variable}[")


def _uses(design: DesignMatrix, covariate: str) -> bool:
    return any(belongs(t, covariate) for t in design.terms)


def _design_notes(design: DesignMatrix, spec: ModelSpec) -> list[str]:
    notes = []
    missing = [a for a in spec.treatments if a not in design.arm_terms]
    if missing:
        notes.append(f"no observed outcomes in arm(s) {', '.join(missing)}: not in the model")
    if design.n_dropped_missing:
        notes.append(
            f"{design.n_dropped_missing} participant(s) with a missing covariate were left out "
            "of the adjusted models (the plan says missing: drop)"
        )
    aliased_from = {c: [t for t in design.aliased if belongs(t, c)] for c in spec.covariates}
    constant = [c for c in spec.covariates if not _uses(design, c) and not aliased_from[c]]
    if constant:
        notes.append(f"covariate(s) {', '.join(constant)} constant in the analysed rows: dropped")
    notes += aliased_notes(design, aliased_from)
    if design.missing_indicators:
        notes.append(f"missing-value indicators used: {', '.join(design.missing_indicators)}")
    return notes


def aliased_notes(design: DesignMatrix, aliased_from: dict[str, list[str]]) -> list[str]:
    """Plain words for every design column dropped as an exact combination of others."""
    notes = []
    for covariate, columns in aliased_from.items():
        if not columns:
            continue
        listed = ", ".join(columns)
        if _uses(design, covariate):
            notes.append(
                f"covariate {covariate}: column(s) {listed} left out of the models, being exact "
                "linear combinations of the arms, strata and covariates before them (aliased); "
                "its other columns are kept"
            )
        else:
            notes.append(
                f"covariate {covariate} left out of the models: it is an exact linear "
                "combination of the arms, strata and covariates before it (aliased: "
                f"{listed}), so it adds nothing to the adjustment; R drops it the same way"
            )
    strata = [t for t in design.aliased if belongs(t, "stratum")]
    if strata:
        notes.append(
            f"stratum column(s) {', '.join(strata)} left out of the models: exact linear "
            "combinations of the arm indicators in the analysed rows (aliased)"
        )
    return notes


def _unit_floor(
    units: dict[str, int], design: DesignMatrix, spec: ModelSpec
) -> tuple[tuple[str, ...], tuple[str, ...], list[str]]:
    """Arms below two units (no inference), arms below the plan's minimum, and their notes."""
    modelled = [spec.control, *design.arm_terms]
    too_few = tuple(a for a in modelled if units[a] < MIN_UNITS_FOR_INFERENCE)
    below = tuple(a for a in modelled if spec.clustered and units[a] < spec.min_clusters)
    notes = []
    for arm in too_few:
        who = "any arm" if arm == spec.control else "this arm"
        notes.append(
            f"{arm}: only {units[arm]} randomisation unit in the analysed rows, so the "
            "variation between units cannot be estimated: no standard error, interval or "
            f"p-value for {who}, only the estimate"
        )
    for arm in (a for a in below if a not in too_few):
        whose = "every arm's" if arm == spec.control else "its"
        notes.append(
            f"{arm}: only {units[arm]} randomisation units in the analysed rows, fewer than the "
            f"{spec.min_clusters} per arm the plan asks for: {whose} interval and p-value rest "
            "on few clusters and may be unreliable"
        )
    return too_few, below, notes


def _linear(
    y: np.ndarray,
    design: DesignMatrix,
    clusters: ClusterBlocks | None,
    spec: ModelSpec,
    arms: dict[str, ArmEffect],
    notes: list[str],
) -> None:
    terms = list(design.arm_terms.values())
    try:
        fit = lm_robust(
            y,
            design.rows_x,
            terms=design.terms,
            clusters=clusters,
            alpha=spec.alpha,
            df_terms=terms,
            cross_product=design.cross_product,
            cells=design.cells,
        )
    except ValueError as exc:
        notes.append(f"primary model not fitted: {exc}")
        for arm in design.arm_terms:
            arms[arm] = replace(arms[arm], primary_reason=f"the model could not be fitted: {exc}")
        return
    for arm, term in design.arm_terms.items():
        c = fit.coefficient(term)
        if c.note:
            notes.append(f"{arm}: adjusted estimate: {c.note}")
        arms[arm] = replace(
            arms[arm],
            adjusted_risk_difference=c.estimate,
            adjusted_std_error=c.std_error,
            adjusted_ci_low=c.ci_low,
            adjusted_ci_high=c.ci_high,
            adjusted_p_value=c.p_value,
            primary_reason=c.note,
        )


def _logistic(
    y: np.ndarray,
    design: DesignMatrix,
    clusters: ClusterBlocks | None,
    spec: ModelSpec,
    arms: dict[str, ArmEffect],
    notes: list[str],
) -> None:
    try:
        fit = logistic_regression(
            y,
            design.rows_x,
            terms=design.terms,
            clusters=clusters,
            alpha=spec.alpha,
            cross_product=design.cross_product,
            cells=design.cells,
        )
    except ValueError as exc:
        notes.append(f"logistic model not fitted: {exc}")
        return
    if fit.note:
        notes.append(fit.note)
    for arm, term in design.arm_terms.items():
        c = fit.coefficient(term)
        if c is not None:
            arms[arm] = replace(
                arms[arm],
                odds_ratio=c.odds_ratio,
                or_ci_low=c.ci_low,
                or_ci_high=c.ci_high,
                or_p_value=c.p_value,
            )


def _cace(
    data: pd.DataFrame,
    outcome: str,
    design: DesignMatrix,
    clusters: ClusterBlocks | None,
    spec: ModelSpec,
    notes: list[str],
) -> dict[str, ComplierEffect]:
    """2SLS: one joint model if no control was reached, else each arm against control."""
    if "delivered" not in data:
        notes.append("delivery is not recorded: no complier average causal effect")
        return {}
    delivered = data["delivered"].to_numpy(dtype=np.float64)[design.rows]
    if np.isnan(delivered).any():
        notes.append("delivery is unknown for some participants: no complier effect")
        return {}
    if reached_in_control(design, delivered) > 0.0:
        effects = {arm: _two_sided(data, outcome, spec, arm) for arm in design.arm_terms}
        method = TWO_SIDED
    else:
        y = data[outcome].to_numpy(dtype=np.float64)[design.rows]
        effects = one_sided_effects(y, design, delivered, clusters, spec.alpha)
        method = ONE_SIDED
    if any(e.estimate is not None for e in effects.values()):
        notes.append(method)
    notes += [f"{arm}: {e.note}" for arm, e in effects.items() if e.note]
    return effects


def _two_sided(data: pd.DataFrame, outcome: str, spec: ModelSpec, arm: str) -> ComplierEffect:
    """One arm's CACE on its own and control's rows, with that pair's design."""
    codes, labels = factor_codes(data["arm"])
    pair = data.iloc[
        np.flatnonzero(np.isin(codes, [labels.index(spec.control), labels.index(arm)]))
    ]
    try:
        design = design_for(pair, outcome, spec, arms=(arm,))
    except ValueError as exc:
        return ComplierEffect(None, None, f"complier average causal effect not estimable: {exc}")
    y = pair[outcome].to_numpy(dtype=np.float64)[design.rows]
    delivered = pair["delivered"].to_numpy(dtype=np.float64)[design.rows]
    clusters = cluster_codes(pair, design, spec)
    return two_sided_effect(y, design, delivered, clusters, spec.alpha)
