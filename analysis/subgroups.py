"""Subgroup analyses the plan lists: the primary model within each level, and a joint test.

The model is the linear one of every outcome: for a yes/no outcome its arm terms are risk
differences, for a scale, count or measurement differences in means in the outcome's units
(the JSON keeps the one key, `adjusted_risk_difference`, for both).

The interaction test adds every arm × level product to the primary model (with the subgroup's
own level dummies) on all analysed rows and tests the products jointly: a Wald chi-square
`b' V^-1 b` on q df, V the same robust covariance as the primary model (HC2, or CR2 by unit).
Products that are exact linear combinations of the model's columns and the products before
them (an arm missing from a level, or the subgroup being the stratum) are dropped as R drops
them (:func:`analysis.stats.rank.column_rank`), and q counts the products kept.

A level gets no model, only a note, when its outcome is the same for everyone (a robust
standard error would be rounding noise) or when an arm, or control, has fewer than two
randomisation units in it (one unit says nothing about the variation between units); for the
same reason the interaction test is not done when an arm (or control) has exactly one unit in
some level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from analysis.columns import subgroup_labels
from analysis.effects import (
    MIN_UNITS_FOR_INFERENCE,
    ModelSpec,
    cluster_codes,
    design_for,
    unit_counts,
)
from analysis.stats import DesignMatrix, lm_robust
from analysis.stats.design import MISSING_LEVEL
from analysis.stats.rank import column_rank

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
    data: pd.DataFrame,
    outcome: str,
    spec: ModelSpec,
    variables: list[str],
    labels: Mapping[str, str] | None = None,
) -> tuple[SubgroupResult, ...]:
    """Each subgroup variable's levels and interaction test; `labels` name them in the notes."""
    labels = labels or {}
    return tuple(_one_variable(data, outcome, spec, v, labels.get(v, v)) for v in variables)


def _one_variable(
    data: pd.DataFrame, outcome: str, spec: ModelSpec, name: str, label: str
) -> SubgroupResult:
    if name not in data or data[name].isna().all():
        return SubgroupResult(name, INTERACTION_TEST, None, None, None, (), ("not observed",))
    labels = subgroup_labels(data, name)
    inner = replace(spec, covariates=tuple(c for c in spec.covariates if c != name))
    levels = tuple(
        _level(data.loc[labels == level], outcome, inner, level) for level in _in_order(labels)
    )
    notes = []
    if labels.isna().any():
        notes.append(f"{int(labels.isna().sum())} participant(s) with no {label}: in no level")
    statistic, df, p, note = _interaction(data.assign(_subgroup=labels), outcome, inner)
    if note:
        notes.append(note)
    return SubgroupResult(name, INTERACTION_TEST, statistic, df, p, levels, tuple(notes))


def _in_order(labels: pd.Series) -> list[str]:
    """The levels that have anyone, in the column's own order ("under 25" before "25 to 39")."""
    if isinstance(labels.dtype, pd.CategoricalDtype):
        present = set(labels.dropna().unique())
        return [str(level) for level in labels.cat.categories if level in present]
    return sorted(labels.dropna().unique())


def _level(data: pd.DataFrame, outcome: str, spec: ModelSpec, level: str) -> SubgroupLevel:
    empty = tuple(
        SubgroupComparison(arm, spec.control, None, None, None, None, None)
        for arm in spec.treatments
    )
    try:
        design = design_for(data, outcome, spec)
    except ValueError as exc:
        return SubgroupLevel(level, len(data), empty, (f"model not fitted: {exc}",))
    y = data[outcome].to_numpy(dtype=np.float64)[design.rows]
    refusal = _no_model(data, y, design, spec)
    if refusal:
        return SubgroupLevel(level, len(design.rows), empty, (refusal,))
    try:
        fit = lm_robust(
            y,
            design.x,
            terms=design.terms,
            clusters=cluster_codes(data, design, spec),
            alpha=spec.alpha,
            df_terms=list(design.arm_terms.values()),
            cross_product=design.cross_product,
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


def _no_model(data: pd.DataFrame, y: np.ndarray, design: DesignMatrix, spec: ModelSpec) -> str:
    """Why this level gets no model ("" if it gets one)."""
    if np.all(y == y[0]):
        return f"the outcome is {y[0]:g} for everyone in this level: no model, no test"
    arms = [spec.control, *design.arm_terms]
    units = unit_counts(data, design.rows, arms, clustered=spec.clustered)
    few = [f"{arm} ({units[arm]})" for arm in arms if units[arm] < MIN_UNITS_FOR_INFERENCE]
    if few:
        return (
            f"fewer than two randomisation units in this level for {', '.join(few)}: the "
            "variation between units cannot be estimated, so no model"
        )
    return ""


def _interaction(
    data: pd.DataFrame, outcome: str, spec: ModelSpec
) -> tuple[float | None, int | None, float | None, str | None]:
    try:
        design = design_for(data, outcome, spec, extra=("_subgroup",))
    except ValueError as exc:
        return None, None, None, f"interaction test not done: {exc}"
    labels = data["_subgroup"].to_numpy()[design.rows]
    x, names, interactions = _with_products(labels, design)
    if not interactions:
        return None, None, None, "interaction test not done: one level only"
    thin = _single_unit_cells(data[["arm", "_subgroup", "unit"]].iloc[design.rows])
    if thin:
        return (
            None,
            None,
            None,
            (
                f"interaction test not done: only one randomisation unit for {', '.join(thin)}, "
                "so the variation between units there cannot be estimated"
            ),
        )
    try:
        fit = lm_robust(
            data[outcome].to_numpy(dtype=np.float64)[design.rows],
            x,
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


def _single_unit_cells(rows: pd.DataFrame) -> list[str]:
    """Arm-by-level cells (control included) with exactly one randomisation unit."""
    cells = rows.groupby(["arm", "_subgroup"], dropna=False, observed=True)
    counts = cells["unit"].nunique()
    return [f"{cell[0]} in {cell[1]}" for cell in counts.index[counts.to_numpy() == 1]]


def _with_products(
    labels: np.ndarray, design: DesignMatrix
) -> tuple[np.ndarray, list[str], list[str]]:
    """The design with every estimable arm x level product appended, and the products' names.

    Levels are compared with the first (sorted) level present; products are built from the
    labels, not from the design's level columns, which the strata may have absorbed. Missing
    labels (kept when the plan says ``missing: indicator``) are a level of their own.
    """
    present = pd.Series(labels).notna().to_numpy()
    labels = np.where(present, labels, MISSING_LEVEL)
    levels = sorted(set(labels[present].tolist())) + ([MISSING_LEVEL] if not present.all() else [])
    columns, names = [design.x], list(design.terms)
    for arm_term in design.arm_terms.values():
        arm = design.x[:, design.terms.index(arm_term)]
        for level in levels[1:]:
            columns.append((arm * (labels == level))[:, None])
            names.append(f"{arm_term}:_subgroup[{level}]")
    x = np.hstack(columns)
    aliased = set(column_rank(x).aliased)
    keep = [j for j in range(x.shape[1]) if j not in aliased]
    names = [names[j] for j in keep]
    return x[:, keep], names, [n for n in names if n not in design.terms]
