"""Model-based effects of each arm on one outcome: the primary LPM, logistic, and CACE.

Pure: the analysed rows of the frame in, frozen results out. Every model failure (an arm with
nobody, separation, one cluster) becomes `None` values and a note, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis.stats import (
    DesignMatrix,
    build_design,
    iv_robust,
    lm_robust,
    logistic_regression,
)
from analysis.stats.cr2 import ClusterBlocks, cluster_blocks
from analysis.stats.design import factor_codes


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


@dataclass(frozen=True)
class Effects:
    arms: dict[str, ArmEffect]
    covariates_used: tuple[str, ...]
    n_model: int | None
    notes: tuple[str, ...] = field(default=())


def design_for(
    data: pd.DataFrame, outcome: str, spec: ModelSpec, extra: tuple[str, ...] = ()
) -> DesignMatrix:
    """The primary model's design on `data`, with the treatment arms that have rows."""
    present = set(factor_codes(data["arm"])[1])
    treatments = [arm for arm in spec.treatments if arm in present]
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


def estimate_effects(data: pd.DataFrame, outcome: str, spec: ModelSpec) -> Effects:
    """LPM with HC2/CR2 (Bell-McCaffrey df), logistic odds ratios, and 2SLS CACE."""
    empty = {arm: ArmEffect() for arm in spec.treatments}
    if not (data["arm"].astype(str) == spec.control).any():
        return Effects(empty, (), None, ("control has no observed outcomes: no model",))
    if data[outcome].nunique() < 2:
        note = "every analysed participant had the same outcome: no model-based estimates"
        return Effects(empty, (), None, (note,))
    try:
        design = design_for(data, outcome, spec)
    except ValueError as exc:
        return Effects(empty, (), None, (f"primary model not fitted: {exc}",))
    notes = list(_design_notes(design, spec))
    y = data[outcome].to_numpy(dtype=np.float64)[design.rows]
    clusters = cluster_codes(data, design, spec)
    arms = dict(empty)
    _linear(y, design, clusters, spec, arms, notes)
    _logistic(y, design, clusters, spec, arms, notes)
    _cace(data, y, design, clusters, spec, arms, notes)
    used = tuple(c for c in spec.covariates if _uses(design, c))
    return Effects(arms, used, len(design.rows), tuple(notes))


def _uses(design: DesignMatrix, covariate: str) -> bool:
    return any(t == covariate or t.startswith(f"{covariate}[") for t in design.terms)


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
    dropped = [c for c in spec.covariates if not _uses(design, c)]
    if dropped:
        notes.append(f"covariate(s) {', '.join(dropped)} constant in the analysed rows: dropped")
    if design.missing_indicators:
        notes.append(f"missing-value indicators used: {', '.join(design.missing_indicators)}")
    return notes


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
            y, design.x, terms=design.terms, clusters=clusters, alpha=spec.alpha, df_terms=terms
        )
    except ValueError as exc:
        notes.append(f"primary model not fitted: {exc}")
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
            y, design.x, terms=design.terms, clusters=clusters, alpha=spec.alpha
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
    y: np.ndarray,
    design: DesignMatrix,
    clusters: ClusterBlocks | None,
    spec: ModelSpec,
    arms: dict[str, ArmEffect],
    notes: list[str],
) -> None:
    """2SLS: assignment to each arm instruments receipt of that arm's messages."""
    if "delivered" not in data:
        notes.append("delivery is not recorded: no complier average causal effect")
        return
    delivered = data["delivered"].to_numpy(dtype=np.float64)[design.rows]
    if np.isnan(delivered).any():
        notes.append("delivery is unknown for some participants: no complier effect")
        return
    columns = [design.terms.index(t) for t in design.arm_terms.values()]
    received = {t: f"received[{arm}]" for arm, t in design.arm_terms.items()}
    x = design.x.copy()
    x[:, columns] *= delivered[:, None]
    terms = [received.get(t, t) for t in design.terms]
    try:
        fit = iv_robust(
            y,
            x,
            design.x,  # the first stage: every exogenous term and the arm indicators
            endogenous=list(received.values()),
            terms=terms,
            clusters=clusters,
            alpha=spec.alpha,
            df_terms=[],  # only the estimate and its SE are reported
            instruments_include_exogenous=True,
        )
    except ValueError as exc:
        notes.append(f"complier average causal effect not estimable: {exc}")
        return
    for arm, term in design.arm_terms.items():
        c = fit.coefficient(received[term])
        arms[arm] = replace(arms[arm], cace=c.estimate, cace_std_error=c.std_error)
