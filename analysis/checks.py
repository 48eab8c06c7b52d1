"""Checks on the design: sample-ratio mismatch, covariate balance, power, missing outcomes.

Pure: frame and definition in, frozen results out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.effects import ModelSpec
from analysis.labels import Labels
from analysis.stats import minimum_detectable_effect, sample_size_two_proportions, srm_check
from analysis.stats import standardised_mean_differences as smds
from analysis.stats.clustered import IntraclusterCorrelation, cluster_design_effect
from analysis.stats.design import factor_codes
from analysis.stats.power import minimum_detectable_standardised, sample_size_two_means
from experiments.definition import TrialDefinition

if TYPE_CHECKING:
    from analysis.summaries import ArmSummary

SMD_FLAG = 0.1
POWER = 0.8
# Missing-outcome shares that differ between arms by more than this are flagged.
MISSING_GAP_FLAG = 0.05


@dataclass(frozen=True)
class Randomisation:
    unit: str
    units: dict[str, int]
    srm_p_value: float | None
    srm_flagged: bool | None


@dataclass(frozen=True)
class BalanceRow:
    arm: str
    versus: str
    covariate: str
    level: str | None
    mean_arm: float | None
    mean_control: float | None
    smd: float | None
    flagged: bool


@dataclass(frozen=True)
class Balance:
    threshold: float
    differences: tuple[BalanceRow, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class PowerSummary:
    alpha: float
    power: float
    baseline_rate: float | None
    minimum_detectable_effect: float | None
    design_n_per_arm: int | None
    achieved_n_per_arm: int | None
    achieved_minimum_detectable_effect: float | None
    method: str
    notes: tuple[str, ...]
    allocation: dict[str, int]
    design_n_by_arm: dict[str, int] | None
    design_effect: float
    icc: float | None
    icc_source: str | None
    cluster_size: float | None
    # Only when the primary outcome is not yes/no (left out of the JSON otherwise).
    means: MeansPower | None = None


@dataclass(frozen=True)
class MeansPower:
    """The design and achieved power of a scale, count or measurement primary outcome: a
    difference in means, in the outcome's units (with its SD) and standardised (in SDs)."""

    outcome_type: str
    design_difference: float | None
    design_sd: float | None
    design_standardised: float | None
    achieved_standardised: float | None
    achieved_difference: float | None
    achieved_sd: float | None
    achieved_sd_source: str | None  # "plan" or "observed"


@dataclass(frozen=True)
class MissingByArm:
    arm: str
    randomised: int
    observed: int
    missing: int
    missing_share: float | None


@dataclass(frozen=True)
class MissingOutcomes:
    """Randomised, observed and missing per arm for one outcome, flagged when they differ."""

    by_arm: tuple[MissingByArm, ...]
    largest_gap: float | None
    threshold: float
    flagged: bool


def randomisation(frame: pd.DataFrame, definition: TrialDefinition) -> Randomisation:
    """Randomised units per arm and the sample-ratio check against the planned weights."""
    arm_codes, labels = factor_codes(frame["arm"])
    unit_codes = np.asarray(pd.factorize(frame["unit"])[0], dtype=np.intp)
    known = (arm_codes >= 0) & (unit_codes >= 0)
    units_seen = int(unit_codes.max(initial=-1)) + 1
    seen = np.zeros((len(labels), units_seen), dtype=bool)
    seen[arm_codes[known], unit_codes[known]] = True
    counted = seen.sum(axis=1)
    found = dict(zip(labels, counted.tolist(), strict=True))
    units = {arm.id: int(found.get(arm.id, 0)) for arm in definition.arms}
    if sum(units.values()) == 0:
        return Randomisation(definition.population.unit, units, None, None)
    check = srm_check(units, {arm.id: arm.weight for arm in definition.arms})
    return Randomisation(definition.population.unit, units, check.p_value, check.flagged)


def balance(frame: pd.DataFrame, definition: TrialDefinition) -> Balance:
    """Standardised mean differences of every covariate, each arm against control."""
    covariates = [c for c in definition.analysis.covariates if c in frame]
    control = definition.control_arm.id
    if frame.empty or not covariates:
        return Balance(SMD_FLAG, (), ("no covariates to compare",) if not covariates else ())
    rows = smds(frame, arm="arm", control=control, covariates=covariates)
    labels = Labels.of(definition)
    notes = tuple(
        dict.fromkeys(
            f"{labels.arm(r.arm)}, {labels.column(r.covariate)}: {r.note}"
            for r in rows
            if r.note is not None
        )
    )
    return Balance(
        SMD_FLAG,
        tuple(
            BalanceRow(
                r.arm,
                control,
                r.covariate,
                r.level,
                r.mean_arm,
                r.mean_control,
                r.smd,
                r.smd is not None and abs(r.smd) > SMD_FLAG,
            )
            for r in rows
        ),
        notes,
    )


def missing_outcomes(
    frame: pd.DataFrame, population: pd.Series, outcome: str, definition: TrialDefinition
) -> MissingOutcomes:
    """Per arm: randomised in the outcome's population, outcome observed, outcome missing.

    Flagged when the missing shares of two arms differ by more than 5 percentage points:
    then complete cases may no longer compare like with like (CONSORT 2010, item 13b).
    """
    codes, labels = factor_codes(frame["arm"])
    chosen = population.to_numpy(dtype=bool) & (codes >= 0)
    observed = chosen & frame[outcome].notna().to_numpy()
    randomised = np.bincount(codes[chosen], minlength=len(labels))
    seen = np.bincount(codes[observed], minlength=len(labels))
    index = {label: i for i, label in enumerate(labels)}
    rows = []
    for arm in definition.arms:
        i = index.get(arm.id)
        r, o = (0, 0) if i is None else (int(randomised[i]), int(seen[i]))
        rows.append(MissingByArm(arm.id, r, o, r - o, (r - o) / r if r else None))
    shares = [row.missing_share for row in rows if row.missing_share is not None]
    gap = max(shares) - min(shares) if len(shares) > 1 else None
    return MissingOutcomes(
        tuple(rows), gap, MISSING_GAP_FLAG, gap is not None and gap > MISSING_GAP_FLAG + 1e-12
    )


@dataclass(frozen=True)
class _Design:
    """The design effect the power calculations use, and where its parts came from."""

    effect: float
    icc: float | None
    source: str | None
    size: float | None
    notes: tuple[str, ...]


def _design(
    definition: TrialDefinition, spec: ModelSpec, observed: IntraclusterCorrelation | None
) -> _Design:
    if not spec.clustered:
        return _Design(1.0, None, None, None, ())
    icc, source = definition.analysis.icc, "plan"
    notes = []
    if icc is None and observed is not None and observed.icc is not None:
        icc, source = observed.icc, "observed"
        notes.append(
            f"ICC {icc:.3f}: observed on the primary outcome (one-way ANOVA estimator); "
            "the plan gives no icc"
        )
    elif icc is not None:
        notes.append(f"ICC {icc:.3f}: from the plan")
    size = observed.size_weighted_mean if observed is not None else None
    if size == 1.0:
        note = "every analysed unit has one participant: the design effect is 1"
        return _Design(1.0, icc, source if icc is not None else None, size, (*notes, note))
    if icc is None or size is None:
        notes.append(
            "with cluster randomisation the design effect is unknown (no icc in the plan, "
            "none observable, or no unit sizes yet): both calculations treat participants as "
            "independent and overstate the power"
        )
        return _Design(1.0, icc, source if icc is not None else None, size, tuple(notes))
    effect = cluster_design_effect(icc, size)
    notes.append(
        f"design effect {effect:.3f} = 1 + (m - 1) x ICC with m = {size:.2f}, the "
        "size-weighted mean number of analysed participants per unit"
    )
    return _Design(effect, icc, source, size, tuple(notes))


def power(
    definition: TrialDefinition,
    arms: Sequence[ArmSummary],
    spec: ModelSpec,
    observed: IntraclusterCorrelation | None = None,
) -> PowerSummary:
    """Design n by arm and the effect the achieved primary-outcome sample can detect.

    Each arm against control with the planned allocation (arm weights), sizes divided by
    the cluster design effect when units are randomised (see :func:`_design`).
    """
    plan, notes = definition.analysis, []
    design = _design(definition, spec, observed)
    weights = {arm.id: arm.weight for arm in definition.arms}
    design_by_arm = None
    if plan.baseline_rate is not None and plan.minimum_detectable_effect is not None:
        try:
            design_by_arm = _design_n(definition, design.effect)
        except ValueError as exc:
            notes.append(f"design sample size not computed: {exc}")
    else:
        notes.append("the plan gives no baseline_rate and minimum_detectable_effect")
    baseline = plan.baseline_rate
    control = next(a for a in arms if a.arm == spec.control)
    if baseline is None and control.rate is not None and 0.0 < control.rate < 1.0:
        baseline = control.rate
        notes.append("baseline for the achieved detectable effect: the observed control rate")
    achieved = min(a.n for a in arms)
    mde = None
    if achieved > 0 and baseline is not None:
        mde = _achieved_mde(arms, control, baseline, plan.alpha, design.effect, notes)
    return PowerSummary(
        plan.alpha,
        POWER,
        plan.baseline_rate,
        plan.minimum_detectable_effect,
        max(design_by_arm.values()) if design_by_arm else None,
        achieved if achieved > 0 else None,
        mde,
        "two-sided two-proportion test, normal approximation (R power.prop.test) for each "
        "arm against control with the planned allocation, sizes divided by the design "
        "effect; achieved n is the smallest arm's n on the primary outcome, the achieved "
        "detectable effect that of the least powered comparison",
        tuple([*design.notes, *notes]),
        weights,
        design_by_arm,
        design.effect,
        design.icc,
        design.source,
        design.size,
    )


MEANS_POWER_METHOD = (
    "two-sided two-sample t-test, noncentral t (R power.t.test; unequal arms with df n0 + n1 - 2 "
    "and ncp d / sqrt(1/n0 + 1/n1)) for each arm against control with the planned allocation, "
    "sizes divided by the design effect; d is the difference in means in standard deviations; "
    "achieved n is the smallest arm's answers on the primary outcome, the achieved detectable "
    "difference that of the least powered comparison"
)


def means_power(
    definition: TrialDefinition,
    arms: Sequence[ArmSummary],
    spec: ModelSpec,
    observed: IntraclusterCorrelation | None = None,
    observed_sd: float | None = None,
) -> PowerSummary:
    """Design n by arm and the achieved detectable difference for a non-binary primary outcome.

    As :func:`power`, with the t-test of :func:`analysis.stats.power.power_two_means` for a
    difference in means stated in the plan (``minimum_detectable_difference`` with
    ``outcome_sd``, or ``minimum_detectable_standardised``). The achieved detectable
    difference is in SDs, and in the outcome's units with the plan's SD or, without one, the
    observed pooled SD of the answers.
    """
    plan, notes = definition.analysis, []
    design = _design(definition, spec, observed)
    weights = {arm.id: arm.weight for arm in definition.arms}
    standardised, control_arm = plan.design_standardised, definition.control_arm
    design_by_arm = None
    if standardised is not None:
        needed = max(
            sample_size_two_means(
                standardised, plan.alpha, POWER, ratio=arm.weight / control_arm.weight
            ).n_exact
            for arm in definition.arms
            if arm.id != control_arm.id
        )
        design_by_arm = {
            arm.id: math.ceil(needed * arm.weight / control_arm.weight * design.effect - 1e-9)
            for arm in definition.arms
        }
    else:
        notes.append(
            "the plan gives no difference in means to detect (minimum_detectable_difference "
            "with outcome_sd, or minimum_detectable_standardised)"
        )
    control = next(a for a in arms if a.arm == spec.control)
    achieved = min(a.n for a in arms)
    detectable = None
    if achieved > 0:
        found = [
            minimum_detectable_standardised(
                control.n / design.effect, plan.alpha, POWER, ratio=a.n / control.n
            )
            for a in arms
            if a.arm != control.arm
        ]
        known = [f for f in found if f is not None]
        detectable = max(known) if known and len(known) == len(found) else None
    sd, source = (plan.outcome_sd, "plan") if plan.outcome_sd else (observed_sd, "observed")
    means = MeansPower(
        definition.primary_outcome.type,
        plan.minimum_detectable_difference,
        plan.outcome_sd,
        standardised,
        detectable,
        detectable * sd if detectable is not None and sd else None,
        sd,
        source if sd else None,
    )
    return PowerSummary(
        plan.alpha,
        POWER,
        None,
        None,
        max(design_by_arm.values()) if design_by_arm else None,
        achieved if achieved > 0 else None,
        None,
        MEANS_POWER_METHOD,
        tuple([*design.notes, *notes]),
        weights,
        design_by_arm,
        design.effect,
        design.icc,
        design.source,
        design.size,
        means,
    )


def _design_n(definition: TrialDefinition, deff: float) -> dict[str, int]:
    """Participants needed in every arm: control sized for the hardest comparison."""
    plan, control = definition.analysis, definition.control_arm
    assert plan.baseline_rate is not None and plan.minimum_detectable_effect is not None
    needed = max(
        sample_size_two_proportions(
            plan.baseline_rate,
            plan.minimum_detectable_effect,
            plan.alpha,
            POWER,
            ratio=arm.weight / control.weight,
        ).n_exact
        for arm in definition.arms
        if arm.id != control.id
    )
    return {
        arm.id: math.ceil(needed * arm.weight / control.weight * deff - 1e-9)
        for arm in definition.arms
    }


def _achieved_mde(
    arms: Sequence[ArmSummary],
    control: ArmSummary,
    baseline: float,
    alpha: float,
    deff: float,
    notes: list[str],
) -> float | None:
    """The largest of the arms' detectable effects against control (the weakest comparison)."""
    effects = []
    for arm in arms:
        if arm.arm == control.arm:
            continue
        found = minimum_detectable_effect(
            control.n / deff, baseline, alpha, POWER, ratio=arm.n / control.n
        )
        if found.effect is None:
            notes.append(f"{arm.arm}: no increase is detectable at power {POWER} with the sizes")
            return None
        effects.append(found.effect)
    return max(effects) if effects else None
