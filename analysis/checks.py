"""Checks on the design: sample-ratio mismatch, covariate balance, and power.

Pure: frame and definition in, frozen results out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.effects import ModelSpec
from analysis.stats import minimum_detectable_effect, sample_size_two_proportions, srm_check
from analysis.stats import standardised_mean_differences as smds
from analysis.stats.design import factor_codes
from experiments.definition import TrialDefinition

if TYPE_CHECKING:
    from analysis.report import ArmSummary

SMD_FLAG = 0.1
POWER = 0.8


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
    notes = tuple(
        dict.fromkeys(f"{r.arm} {r.covariate}: {r.note}" for r in rows if r.note is not None)
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


def power(definition: TrialDefinition, arms: Sequence[ArmSummary], spec: ModelSpec) -> PowerSummary:
    """Design-time n per arm, and the effect the achieved primary-outcome sample can detect."""
    plan, notes = definition.analysis, []
    design_n = None
    if plan.baseline_rate is not None and plan.minimum_detectable_effect is not None:
        try:
            design_n = sample_size_two_proportions(
                plan.baseline_rate, plan.minimum_detectable_effect, plan.alpha, POWER
            ).n_per_arm
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
        found = minimum_detectable_effect(achieved, baseline, plan.alpha, POWER)
        mde = found.effect
        if found.note:
            notes.append(found.note)
    if spec.clustered:
        notes.append(
            "both calculations treat participants as independent; with cluster randomisation "
            "the design effect makes the real detectable effect larger"
        )
    return PowerSummary(
        plan.alpha,
        POWER,
        plan.baseline_rate,
        plan.minimum_detectable_effect,
        design_n,
        achieved if achieved > 0 else None,
        mde,
        "two-sided two-proportion test, normal approximation (R power.prop.test); achieved n "
        "is the smallest arm's n on the primary outcome",
        tuple(notes),
    )
