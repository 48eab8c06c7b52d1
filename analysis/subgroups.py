"""Subgroup analyses the plan lists: the primary model within each level, and a joint test.

The interaction test adds every arm × level product to the primary model (with the subgroup's
own level dummies) on all analysed rows and tests the products jointly: a Wald chi-square
`b' V^-1 b` on q df, V the same robust covariance as the primary model (HC2, or CR2 by unit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from analysis.columns import subgroup_labels
from analysis.effects import ModelSpec, cluster_codes, design_for
from analysis.stats import lm_robust

INTERACTION_TEST = "joint Wald chi-square of the arm x subgroup terms, robust (HC2/CR2) covariance"


@dataclass(frozen=True)
class SubgroupComparison:
    arm: str
    versus: str
    adjusted_risk_difference: float | None
    adjusted_std_error: float | None
    adjusted_ci_low: float | None
    adjusted_ci_high: float | None
    adjusted_p_value: float | None


@dataclass(frozen=True)
class SubgroupLevel:
    level: str
    n: int
    comparisons: tuple[SubgroupComparison, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class SubgroupResult:
    variable: str
    interaction_test: str
    interaction_statistic: float | None
    interaction_df: int | None
    interaction_p_value: float | None
    levels: tuple[SubgroupLevel, ...]
    notes: tuple[str, ...]


def subgroup_results(
    data: pd.DataFrame, outcome: str, spec: ModelSpec, variables: list[str]
) -> tuple[SubgroupResult, ...]:
    return tuple(_one_variable(data, outcome, spec, v) for v in variables)


def _one_variable(data: pd.DataFrame, outcome: str, spec: ModelSpec, name: str) -> SubgroupResult:
    if name not in data or data[name].isna().all():
        return SubgroupResult(name, INTERACTION_TEST, None, None, None, (), ("not observed",))
    labels = subgroup_labels(data, name)
    inner = replace(spec, covariates=tuple(c for c in spec.covariates if c != name))
    levels = tuple(
        _level(data.loc[labels == level], outcome, inner, level)
        for level in sorted(labels.dropna().unique())
    )
    notes = []
    if labels.isna().any():
        notes.append(f"{int(labels.isna().sum())} participant(s) with no {name}: in no level")
    statistic, df, p, note = _interaction(data.assign(_subgroup=labels), outcome, inner)
    if note:
        notes.append(note)
    return SubgroupResult(name, INTERACTION_TEST, statistic, df, p, levels, tuple(notes))


def _level(data: pd.DataFrame, outcome: str, spec: ModelSpec, level: str) -> SubgroupLevel:
    empty = tuple(
        SubgroupComparison(arm, spec.control, None, None, None, None, None)
        for arm in spec.treatments
    )
    try:
        design = design_for(data, outcome, spec)
        fit = lm_robust(
            data[outcome].to_numpy(dtype=np.float64)[design.rows],
            design.x,
            terms=design.terms,
            clusters=cluster_codes(data, design, spec),
            alpha=spec.alpha,
            df_terms=list(design.arm_terms.values()),
        )
    except ValueError as exc:
        return SubgroupLevel(level, len(data), empty, (f"model not fitted: {exc}",))
    comparisons, notes = [], []
    for arm in spec.treatments:
        term = design.arm_terms.get(arm)
        if term is None:
            comparisons.append(SubgroupComparison(arm, spec.control, None, None, None, None, None))
            notes.append(f"{arm}: nobody in this level")
            continue
        c = fit.coefficient(term)
        if c.note:
            notes.append(f"{arm}: {c.note}")
        comparisons.append(
            SubgroupComparison(
                arm, spec.control, c.estimate, c.std_error, c.ci_low, c.ci_high, c.p_value
            )
        )
    return SubgroupLevel(level, len(design.rows), tuple(comparisons), tuple(notes))


def _interaction(
    data: pd.DataFrame, outcome: str, spec: ModelSpec
) -> tuple[float | None, int | None, float | None, str | None]:
    try:
        design = design_for(data, outcome, spec, extra=("_subgroup",))
    except ValueError as exc:
        return None, None, None, f"interaction test not done: {exc}"
    levels = [t for t in design.terms if t.startswith("_subgroup[")]
    columns, names, interactions = [design.x], list(design.terms), []
    for arm_term in design.arm_terms.values():
        for level in levels:
            product = design.x[:, design.terms.index(arm_term)] * design.x[:, names.index(level)]
            if product.any():
                columns.append(product[:, None])
                names.append(f"{arm_term}:{level}")
                interactions.append(names[-1])
    if not interactions:
        return None, None, None, "interaction test not done: one level only"
    try:
        fit = lm_robust(
            data[outcome].to_numpy(dtype=np.float64)[design.rows],
            np.hstack(columns),
            terms=names,
            clusters=cluster_codes(data, design, spec),
            alpha=spec.alpha,
            df_terms=[],
        )
    except ValueError as exc:
        return None, None, None, f"interaction test not done: {exc}"
    index = [names.index(n) for n in interactions]
    b = np.array([fit.coefficients[i].estimate for i in index])
    v = fit.vcov[np.ix_(index, index)]
    try:
        statistic = float(b @ np.linalg.solve(v, b))
    except np.linalg.LinAlgError:
        return None, None, None, "interaction test not done: singular robust covariance"
    if not np.isfinite(statistic) or statistic < 0:
        return None, None, None, "interaction test not done: singular robust covariance"
    df = len(index)
    return statistic, df, float(stats.chi2.sf(statistic, df)), None
