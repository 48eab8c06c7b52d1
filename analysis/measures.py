"""Outcomes that are not yes/no (a scale, a count, a measurement): every arm's mean and effect.

Pure: the analysed rows (complete cases) and the outcome's population in, frozen results out.
The plan is the one binary outcomes follow (analysis/effects.py): the primary estimate is the
difference in means from the same linear model (arms, strata, covariates; HC2, or CR2 with
Bell-McCaffrey df when whole units were randomised, as estimatr::lm_robust), its p-values
corrected across arms as the plan says. Beside it: each arm's mean with its interval
(analysis/stats/continuous.py), Hedges' g, and

- for a scale, the answers by arm and a proportional-odds model as a secondary analysis
  (analysis/stats/ordinal.py), with the same adjustment;
- for a count, a Poisson model with robust errors, as a rate ratio (analysis/stats/counts.py);
- for every type, the response rate by arm (response = outcome observed) and Lee bounds on
  the difference in means (analysis/stats/bounds.py), since people who answer a survey in one
  arm need not be like those who answer in another.

A model that cannot be fitted leaves its figures ``None`` with a note, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.checks import MissingOutcomes
from analysis.effects import ArmEffect, Effects, ModelSpec, cluster_codes, design_for
from analysis.stats import continuous, counts, ordinal
from analysis.stats.bounds import RESPONSE_GAP, lee_bounds
from experiments.definition import Outcome

NUMERIC_TYPES = ("scale", "count", "continuous")


@dataclass(frozen=True)
class ArmMean:
    """One arm's analysed answers: how many, their mean and its interval, who responded."""

    arm: str
    randomised: int
    n: int
    response_rate: float | None
    mean: float | None
    sd: float | None
    std_error: float | None
    ci_low: float | None
    ci_high: float | None
    units: int | None = None


@dataclass(frozen=True)
class AnswerCounts:
    """How many in one arm gave each point of the scale, and the shares of those answering."""

    arm: str
    points: tuple[int, ...]
    counts: tuple[int, ...]
    shares: tuple[float | None, ...]


@dataclass(frozen=True)
class MeanComparison:
    """One arm against control: the difference in means (primary) and what supports it."""

    arm: str
    versus: str
    mean_difference: float | None
    adjusted_difference: float | None
    adjusted_std_error: float | None
    adjusted_ci_low: float | None
    adjusted_ci_high: float | None
    adjusted_p_value: float | None
    p_value_corrected: float | None
    hedges_g: float | None
    g_ci_low: float | None
    g_ci_high: float | None
    odds_ratio: float | None = None
    or_ci_low: float | None = None
    or_ci_high: float | None = None
    or_p_value: float | None = None
    rate_ratio: float | None = None
    rate_ci_low: float | None = None
    rate_ci_high: float | None = None
    rate_p_value: float | None = None
    lee_lower: float | None = None
    lee_upper: float | None = None
    lee_trimmed_share: float | None = None
    lee_trimmed_arm: str | None = None
    # Lee (2009) standard errors of each bound and the Imbens-Manski interval for the effect.
    lee_lower_std_error: float | None = None
    lee_upper_std_error: float | None = None
    lee_ci_low: float | None = None
    lee_ci_high: float | None = None
    lee_near_equal: bool | None = None
    primary_reason: str | None = None

    @property
    def has_primary(self) -> bool:
        keys = (self.adjusted_difference, self.adjusted_ci_low, self.adjusted_ci_high)
        return all(value is not None for value in keys)


@dataclass(frozen=True)
class Measures:
    """Everything reported for a scale, count or continuous outcome, with how it was computed."""

    type: str
    arms: tuple[ArmMean, ...]
    comparisons: tuple[MeanComparison, ...]
    distribution: tuple[AnswerCounts, ...]
    scale_min: int | None
    scale_max: int | None
    scale_labels: dict[str, str]
    response_gap: float | None
    response_flagged: bool
    methods: dict[str, str]


def arm_means(
    data: pd.DataFrame, outcome: str, spec: ModelSpec, missing: MissingOutcomes
) -> tuple[ArmMean, ...]:
    """Each arm's mean answer with the interval of lm_robust(y ~ 1) (CR2 by unit if clustered)."""
    randomised = {m.arm: m for m in missing.by_arm}
    arms = data["arm"].astype(str).to_numpy()
    y = data[outcome].to_numpy(dtype=np.float64)
    out = []
    for arm in (spec.control, *spec.treatments):
        rows = arms == arm
        clusters = None
        units = None
        if spec.clustered:
            clusters = np.asarray(pd.factorize(data["unit"].to_numpy()[rows])[0])
            units = int(len(np.unique(clusters)))
        m = continuous.mean_estimate(y[rows], clusters=clusters, alpha=spec.alpha)
        r = randomised.get(arm)
        total = r.randomised if r else 0
        rate = r.observed / r.randomised if r and r.randomised else None
        out.append(
            ArmMean(arm, total, m.n, rate, m.mean, m.sd, m.std_error, m.ci_low, m.ci_high, units)
        )
    return tuple(out)


def answer_counts(
    data: pd.DataFrame, outcome: str, spec: ModelSpec, low: int, high: int
) -> tuple[AnswerCounts, ...]:
    """The answers by arm on the scale's points, lowest first."""
    points = tuple(range(low, high + 1))
    arms = data["arm"].astype(str).to_numpy()
    y = data[outcome].to_numpy(dtype=np.float64)
    out = []
    for arm in (spec.control, *spec.treatments):
        given = y[arms == arm]
        tally = tuple(int((given == p).sum()) for p in points)
        total = sum(tally)
        shares = tuple((c / total if total else None) for c in tally)
        out.append(AnswerCounts(arm, points, tally, shares))
    return tuple(out)


def measure_outcome(
    data: pd.DataFrame,
    population: pd.DataFrame,
    outcome: Outcome,
    spec: ModelSpec,
    effects: Effects | None,
    corrected: Sequence[float | None],
    missing: MissingOutcomes,
) -> tuple[Measures, list[str]]:
    """The report's figures for a non-binary outcome, and its notes in words.

    ``data`` is the analysed rows (outcome observed); ``population`` everyone randomised in
    the outcome's population, observed or not (for response rates and Lee bounds);
    ``effects`` the linear model's estimates (analysis/effects.py, ``binary=False``) and
    ``corrected`` their p-values corrected across arms.
    """
    notes: list[str] = []
    arms = arm_means(data, outcome.id, spec, missing)
    nobody = ArmEffect(primary_reason="the outcome is observed for nobody")
    effect_of = effects.arms if effects else {}
    secondary = _secondary(data, outcome, spec, notes) if len(data) else {}
    y = data[outcome.id].to_numpy(dtype=np.float64)
    arm_col = data["arm"].astype(str).to_numpy()
    everyone = population["arm"].astype(str).to_numpy()
    control_y = y[arm_col == spec.control]
    comparisons = []
    for arm, p_corrected in zip(spec.treatments, corrected, strict=True):
        effect = effect_of.get(arm, nobody)
        treated_y = y[arm_col == arm]
        interval = None
        if spec.clustered:
            interval = (effect.adjusted_ci_low, effect.adjusted_ci_high)
        g = continuous.hedges_g(
            treated_y, control_y, alpha=spec.alpha, difference_interval=interval
        )
        lee = lee_bounds(
            treated_y,
            control_y,
            randomised_treated=int((everyone == arm).sum()),
            randomised_control=int((everyone == spec.control).sum()),
            alpha=spec.alpha,
        )
        raw = (
            float(treated_y.mean() - control_y.mean())
            if treated_y.size and control_y.size
            else None
        )
        comparisons.append(
            MeanComparison(
                arm=arm,
                versus=spec.control,
                mean_difference=raw,
                adjusted_difference=effect.adjusted_risk_difference,
                adjusted_std_error=effect.adjusted_std_error,
                adjusted_ci_low=effect.adjusted_ci_low,
                adjusted_ci_high=effect.adjusted_ci_high,
                adjusted_p_value=effect.adjusted_p_value,
                p_value_corrected=p_corrected,
                hedges_g=g.g,
                g_ci_low=g.ci_low,
                g_ci_high=g.ci_high,
                lee_lower=lee.lower,
                lee_upper=lee.upper,
                lee_trimmed_share=lee.trimmed_share if lee.trimmed_arm else None,
                lee_trimmed_arm=lee.trimmed_arm,
                lee_lower_std_error=lee.lower_std_error,
                lee_upper_std_error=lee.upper_std_error,
                lee_ci_low=lee.ci_low,
                lee_ci_high=lee.ci_high,
                lee_near_equal=lee.near_equal,
                primary_reason=effect.primary_reason,
                **secondary.get(arm, {}),
            )
        )
    distribution: tuple[AnswerCounts, ...] = ()
    low = high = None
    scale_labels: dict[str, str] = {}
    if outcome.type == "scale" and outcome.scale is not None:
        low, high = outcome.scale.min, outcome.scale.max
        distribution = answer_counts(data, outcome.id, spec, low, high)
        scale_labels = {str(k): str(v) for k, v in outcome.scale.labels.items()}
        off = ~np.isin(y, np.arange(low, high + 1))
        if off.any():
            notes.append(
                f"{int(off.sum())} answer(s) are not points of the {low} to {high} scale: "
                "they count in the means but not in the distribution of answers"
            )
    rates = [a.response_rate for a in arms if a.response_rate is not None]
    gap = max(rates) - min(rates) if len(rates) > 1 else None
    flagged = gap is not None and gap > RESPONSE_GAP + 1e-12
    if flagged:
        notes.append(
            "response rates differ between arms by more than 5 percentage points: those who "
            "answered may differ between arms, so the difference in means may be biased; see "
            "the Lee bounds"
        )
    methods = _methods(outcome.type, spec.clustered)
    measures = Measures(
        type=outcome.type,
        arms=arms,
        comparisons=tuple(comparisons),
        distribution=distribution,
        scale_min=low,
        scale_max=high,
        scale_labels=scale_labels,
        response_gap=gap,
        response_flagged=flagged,
        methods=methods,
    )
    return measures, notes


def _secondary(
    data: pd.DataFrame, outcome: Outcome, spec: ModelSpec, notes: list[str]
) -> dict[str, dict[str, float | None]]:
    """The proportional-odds (scale) or robust Poisson (count) model's figures for each arm."""
    if outcome.type not in ("scale", "count"):
        return {}
    if data[outcome.id].nunique() < 2:
        return {}
    try:
        design = design_for(data, outcome.id, spec)
    except ValueError as exc:
        notes.append(f"secondary model not fitted: {exc}")
        return {}
    y = data[outcome.id].to_numpy(dtype=np.float64)[design.rows]
    clusters = cluster_codes(data, design, spec)
    out: dict[str, dict[str, float | None]] = {}
    try:
        if outcome.type == "scale":
            keep = [j for j, t in enumerate(design.terms) if t != "(Intercept)"]
            fit = ordinal.proportional_odds(
                y,
                design.x[:, keep],
                terms=[design.terms[j] for j in keep],
                clusters=clusters,
                alpha=spec.alpha,
            )
            if not fit.converged:
                notes.append("the proportional-odds model may not have converged")
            for arm, term in design.arm_terms.items():
                c = fit.coefficient(term)
                if c is not None:
                    out[arm] = {
                        "odds_ratio": c.odds_ratio,
                        "or_ci_low": c.ci_low,
                        "or_ci_high": c.ci_high,
                        "or_p_value": c.p_value,
                    }
        else:
            poisson = counts.robust_poisson(
                y, design.x, terms=design.terms, clusters=clusters, alpha=spec.alpha
            )
            for arm, term in design.arm_terms.items():
                r = poisson.coefficient(term)
                if r is not None:
                    out[arm] = {
                        "rate_ratio": r.rate_ratio,
                        "rate_ci_low": r.ci_low,
                        "rate_ci_high": r.ci_high,
                        "rate_p_value": r.p_value,
                    }
    except (ValueError, np.linalg.LinAlgError) as exc:
        which = "proportional-odds" if outcome.type == "scale" else "Poisson"
        notes.append(f"{which} model not fitted: {exc}")
        return {}
    return out


def _methods(kind: str, clustered: bool) -> dict[str, str]:
    by = "CR2 with Bell-McCaffrey degrees of freedom" if clustered else "HC2"
    methods = {
        "arm_means": f"mean with a t interval ({by}, as estimatr::lm_robust(y ~ 1))",
        "difference": (
            f"difference in means from the linear model with the plan's strata and covariates, "
            f"{by} standard errors (as estimatr::lm_robust)"
        ),
        "standardised": (continuous.HEDGES_CLUSTERED if clustered else continuous.HEDGES_METHOD),
        "bounds": (
            "Lee (2009) bounds: the answers of the arm that responded more trimmed by the "
            "difference in response rates, from the top and from the bottom; no covariates; "
            "their interval for the effect is Imbens and Manski's (2004) from Lee's (2009) "
            "standard errors of each bound"
            + (
                ", treating people as independent (it ignores the randomisation by unit, so "
                "it may be too narrow)"
                if clustered
                else ""
            )
        ),
    }
    if kind == "scale":
        methods["secondary"] = ordinal.METHOD_CLUSTERED if clustered else ordinal.METHOD
    if kind == "count":
        methods["secondary"] = counts.METHOD_CLUSTERED if clustered else counts.METHOD
    return methods


def pooled_sd(measures: Measures) -> float | None:
    """The arms' pooled standard deviation of the answers (None with fewer than two answers
    beyond one per arm): what a difference in means is measured against."""
    arms = [a for a in measures.arms if a.sd is not None and a.n > 1]
    df = sum(a.n - 1 for a in arms)
    if df < 1:
        return None
    return float(np.sqrt(sum((a.n - 1) * float(a.sd or 0.0) ** 2 for a in arms) / df))
