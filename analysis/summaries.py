"""Unadjusted summaries of one binary outcome: each arm's rate, and each arm against control.

Pure: the analysed rows in, frozen results out. When the randomisation unit is the
participant these are the classical two-sample figures (Wilson, Newcombe, Katz, Pearson,
Fisher, Beta posteriors). When whole units (cases, households, officers) were randomised,
every interval, test and probability uses the units instead (analysis.stats.clustered):
people in one unit are not independent, and treating them so makes intervals too narrow and
p-values too small. See docs/analysis-methods.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.checks import MissingByArm
from analysis.effects import ModelSpec
from analysis.stats import bayes_comparison, compare_two_arms, wilson_interval
from analysis.stats.clustered import (
    ArmUnits,
    IntraclusterCorrelation,
    clustered_proportion,
    clustered_risk_ratio,
    cr2_difference,
    observed_icc,
    rao_scott_test,
    units_by_arm,
)
from analysis.stats.design import factor_codes
from analysis.stats.proportions import IntervalEstimate, newcombe_difference
from experiments.definition import AnalysisPlan, TrialDefinition


@dataclass(frozen=True)
class ArmSummary:
    """One arm's analysed participants, events and rate; with clustering, its units too."""

    arm: str
    n: int
    events: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    units: int | None = None
    design_effect: float | None = None
    effective_n: float | None = None


@dataclass(frozen=True)
class SummaryMethods:
    """How each unadjusted figure was computed; ``None`` for a test that is not reported."""

    arm_rates: str
    risk_difference: str
    risk_ratio: str
    chi_square: str | None
    fisher: str | None
    bayes: str


@dataclass(frozen=True)
class ArmRates:
    arms: tuple[ArmSummary, ...]
    units: dict[str, ArmUnits] | None
    icc: IntraclusterCorrelation | None
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Unadjusted:
    """One arm against control, without covariates."""

    risk_difference: IntervalEstimate
    risk_ratio: IntervalEstimate
    chi2_p_value: float | None
    fisher_p_value: float | None
    prob_better: float | None
    expected_loss: float | None
    notes: tuple[str, ...]


INDEPENDENT = SummaryMethods(
    arm_rates="Wilson score interval (Wilson 1927)",
    risk_difference="Newcombe's hybrid score interval (Newcombe 1998, method 10)",
    risk_ratio="Katz log interval (Katz et al. 1978)",
    chi_square="Pearson's chi-square test, 1 df",
    fisher="Fisher's exact test, two-sided",
    bayes="Beta(1, 1) priors, exact posterior probability and expected loss",
)
CLUSTERED = SummaryMethods(
    arm_rates=(
        "Wilson interval at the effective sample size n / deff with Korn & Graubard's "
        "degrees-of-freedom correction; deff from the cluster-robust variance of the arm's "
        "proportion, floored at 1 (Korn & Graubard 1998; Kish 1965)"
    ),
    risk_difference=(
        "linear model of the outcome on arm without covariates, CR2 cluster-robust standard "
        "errors and Bell-McCaffrey degrees of freedom (Bell & McCaffrey 2002; estimatr)"
    ),
    risk_ratio=(
        "log risk ratio with delta-method cluster-robust standard error, t on units minus 2 "
        "df (as a quasi-Poisson model on the cluster design; Zou 2004)"
    ),
    chi_square=(
        "Rao-Scott corrected chi-square: Pearson's statistic (no continuity correction) "
        "divided by the table's design effect, referred to F(1, units - 2) (Rao & Scott "
        "1984; survey::svychisq)"
    ),
    fisher=None,
    bayes=(
        "Beta(1, 1) priors on effective counts (events and participants divided by the arm's "
        "design effect)"
    ),
)


def arm_rates(
    data: pd.DataFrame, outcome: str, definition: TrialDefinition, spec: ModelSpec
) -> ArmRates:
    """Every arm's rate and interval on the analysed rows, by unit when clustered."""
    values = data[outcome].to_numpy(dtype=np.float64)
    codes, labels = factor_codes(data["arm"])
    present = codes >= 0
    index = {label: i for i, label in enumerate(labels)}
    if not spec.clustered:
        sizes = np.bincount(codes[present], minlength=len(labels))
        sums = np.bincount(codes[present], weights=values[present], minlength=len(labels))
        counts = {
            arm.id: (0, 0)
            if arm.id not in index
            else (int(sizes[index[arm.id]]), int(sums[index[arm.id]]))
            for arm in definition.arms
        }
        return rates_from_counts(counts, spec.alpha)
    unit_codes = np.asarray(pd.factorize(data["unit"])[0], dtype=np.intp)
    keep = present & (unit_codes >= 0)
    found = units_by_arm(values[keep], codes[keep], unit_codes[keep], len(labels))
    empty = ArmUnits(np.zeros(0), np.zeros(0))
    units = {arm.id: found[index[arm.id]] if arm.id in index else empty for arm in definition.arms}
    return rates_from_units(units, spec.alpha)


def rates_from_counts(counts: dict[str, tuple[int, int]], alpha: float) -> ArmRates:
    """Each arm's Wilson rate from its (participants, events), people being independent."""
    summaries = []
    for arm, (n, events) in counts.items():
        w = wilson_interval(events, n, alpha)
        summaries.append(ArmSummary(arm, n, events, w.proportion, w.ci_low, w.ci_high))
    return ArmRates(tuple(summaries), None, None, ())


def rates_from_units(units: dict[str, ArmUnits], alpha: float) -> ArmRates:
    """Each arm's rate from its randomisation units' totals (Korn & Graubard; module doc)."""
    summaries, notes = [], []
    for arm_id, arm_units in units.items():
        rate = clustered_proportion(arm_units, alpha)
        e = rate.estimate
        if arm_units.n and e.note:
            notes.append(f"{arm_id}: {e.note}")
        summaries.append(
            ArmSummary(
                arm=arm_id,
                n=e.n,
                events=e.events,
                rate=e.proportion,
                ci_low=e.ci_low,
                ci_high=e.ci_high,
                units=rate.units,
                design_effect=rate.design_effect,
                effective_n=rate.effective_n,
            )
        )
    return ArmRates(tuple(summaries), units, observed_icc(tuple(units.values())), tuple(notes))


def compare_unadjusted(
    arm: ArmSummary,
    control: ArmSummary,
    rates: ArmRates,
    plan: AnalysisPlan,
    *,
    lower_is_better: bool = False,
) -> Unadjusted:
    """The arm against control: the classical figures, or the clustered ones (module doc).

    When fewer events are better (withdrawal), the Bayesian summaries are of the events not
    had: P(arm's rate below control's) and the expected excess of events if the arm is chosen.
    """
    good_arm, good_control = (
        _good_events(arm, lower_is_better),
        _good_events(control, lower_is_better),
    )
    if rates.units is None:
        two = compare_two_arms(
            arm.events, arm.n, control.events, control.n, plan.alpha, plan.continuity == "yates"
        )
        both = arm.n > 0 and control.n > 0
        bayes = bayes_comparison(good_arm, arm.n, good_control, control.n) if both else None
        return Unadjusted(
            two.risk_difference,
            two.risk_ratio,
            two.chi_square_p,
            two.fisher_p,
            bayes.prob_better if bayes else None,
            bayes.expected_loss if bayes else None,
            two.notes,
        )
    ours, theirs = rates.units[arm.arm], rates.units[control.arm]
    difference = cr2_difference(ours, theirs, plan.alpha)
    ratio = clustered_risk_ratio(ours, theirs, plan.alpha)
    test = rao_scott_test(ours, theirs)
    notes = [n for n in (difference.interval.note, ratio.note) if n]
    if test.note and arm.n and control.n:
        notes.append(f"chi-square not computed: {test.note}")
    prob, loss = None, None
    if arm.design_effect is not None and control.design_effect is not None:
        bayes = bayes_comparison(
            good_arm,
            arm.n,
            good_control,
            control.n,
            deff_arm=arm.design_effect,
            deff_control=control.design_effect,
        )
        prob, loss = bayes.prob_better, bayes.expected_loss
    elif arm.n and control.n:
        notes.append("no probability to beat control: an arm's design effect is unknown")
    return Unadjusted(
        difference.interval, ratio, test.p_value, None, prob, loss, tuple(dict.fromkeys(notes))
    )


def unadjusted_difference(
    arm: ArmSummary, control: ArmSummary, rates: ArmRates, alpha: float
) -> IntervalEstimate:
    """The arm's risk difference from control with its interval, exactly as `compare_unadjusted`
    gives it (Newcombe's, or CR2 by unit when clustered), without its tests and posteriors:
    cheap enough to repeat for every week of results over time."""
    if rates.units is not None:
        return cr2_difference(rates.units[arm.arm], rates.units[control.arm], alpha).interval
    return newcombe_difference(arm.events, arm.n, control.events, control.n, alpha)


def _good_events(arm: ArmSummary, lower_is_better: bool) -> int:
    return arm.n - arm.events if lower_is_better else arm.events


def extreme_bounds(
    arm: ArmSummary, control: ArmSummary, arm_missing: MissingByArm, control_missing: MissingByArm
) -> tuple[float | None, float | None]:
    """Worst- and best-case risk differences over everyone randomised in the population.

    Worst: every missing outcome in the arm a non-event and in control an event; best: the
    reverse. The difference over everyone randomised lies between them whatever the missing
    outcomes were (extreme-case bounds; Horowitz & Manski 2000, JASA 95:77-84).
    """
    r_arm, r_control = arm_missing.randomised, control_missing.randomised
    if r_arm == 0 or r_control == 0:
        return None, None
    worst = arm.events / r_arm - (control.events + control_missing.missing) / r_control
    best = (arm.events + arm_missing.missing) / r_arm - control.events / r_control
    return worst, best
