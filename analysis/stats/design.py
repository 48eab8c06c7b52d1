"""Build a regression design matrix from a participant frame: arms, covariates, strata.

Pure: a pandas DataFrame in, a frozen :class:`DesignMatrix` out. Control is the reference
arm; categorical covariates and strata are dummy-coded against their first level; columns
that are constant in the analysed rows are dropped and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from analysis.stats._types import FloatArray, IntArray

MISSING_LEVEL = "(missing)"


@dataclass(frozen=True)
class DesignMatrix:
    """Design matrix ``x`` for the frame rows ``rows`` (positions), with what was dropped.

    ``arm_terms`` maps each non-control arm to its column name in ``terms``.
    """

    x: FloatArray = field(repr=False, compare=False)
    terms: tuple[str, ...]
    arm_terms: dict[str, str]
    rows: IntArray = field(repr=False, compare=False)
    n_dropped_missing: int
    dropped_constant: tuple[str, ...]
    missing_indicators: tuple[str, ...]


def _levels(values: pd.Series) -> list[str]:
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().astype(str))
        return [str(c) for c in values.cat.categories if str(c) in present]
    return sorted(values.dropna().astype(str).unique())


def _floats(values: pd.Series) -> FloatArray:
    return np.asarray(values.to_numpy(dtype=np.float64), dtype=np.float64)


def _is_categorical(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))


def _dummies(name: str, values: pd.Series, levels: Sequence[str]) -> dict[str, FloatArray]:
    text = values.astype(str)
    return {f"{name}[{level}]": _floats(text == level) for level in levels}


def _covariate_columns(
    frame: pd.DataFrame, name: str, missing: str
) -> tuple[dict[str, FloatArray], str | None]:
    values = frame[name]
    has_missing = bool(values.isna().any())
    if _is_categorical(values):
        levels = _levels(values)
        if has_missing:
            values = values.astype(object).where(values.notna(), MISSING_LEVEL)
            levels.append(MISSING_LEVEL)
        return _dummies(name, values, levels[1:]), None
    numeric = values.astype(np.float64)
    if not has_missing:
        return {name: _floats(numeric)}, None
    indicator = f"{name}[missing]"
    filled = numeric.fillna(float(numeric.mean()) if numeric.notna().any() else 0.0)
    return {name: _floats(filled), indicator: _floats(numeric.isna())}, indicator


def _kept_rows(
    frame: pd.DataFrame, required: Sequence[str], covariates: Sequence[str], missing: str
) -> pd.Series:
    checked = [*required, *covariates] if missing == "drop" else list(required)
    return frame[checked].notna().all(axis=1) if checked else pd.Series(True, index=frame.index)


def build_design(
    frame: pd.DataFrame,
    *,
    arm: str,
    control: str,
    arms: Sequence[str] | None = None,
    covariates: Sequence[str] = (),
    strata: str | None = None,
    outcome: str | None = None,
    missing: Literal["drop", "indicator"] = "drop",
) -> DesignMatrix:
    """Intercept, arm indicators (control as reference), covariates and stratum fixed effects.

    Parameters
    ----------
    frame : one row per participant.
    arm, control : the arm column and the label of the control arm.
    arms : the non-control arms in column order (default: categorical order, else sorted).
    covariates : columns to adjust for; numeric ones enter linearly, others (strings,
        categoricals) as dummies against their first level.
    strata : column of randomisation strata, entered as fixed effects (dummies).
    outcome : rows with this column missing are dropped (and counted).
    missing : ``"drop"`` drops rows with any missing covariate; ``"indicator"`` keeps them,
        filling a numeric covariate with its observed mean plus a 0/1 ``name[missing]``
        column, and giving a categorical one its own ``(missing)`` level (Groenwold et al.
        2012, CMAJ 184:1265; valid in randomised trials because covariates precede assignment).

    Raises
    ------
    ValueError
        If the control arm or a listed arm has no analysed rows.
    """
    if missing not in ("drop", "indicator"):
        raise ValueError(f"missing must be 'drop' or 'indicator', got {missing!r}")
    required = [c for c in (arm, strata, outcome) if c is not None]
    keep = _kept_rows(frame, required, covariates, missing)
    used = frame.loc[keep]
    arm_values = used[arm].astype(str)
    others = list(arms) if arms is not None else [a for a in _levels(used[arm]) if a != control]
    for label in [control, *others]:
        if not (arm_values == label).any():
            raise ValueError(f"arm {label!r} has no participants in the analysed rows")
    columns: dict[str, FloatArray] = {"(Intercept)": np.ones(len(used))}
    arm_columns = _dummies(arm, used[arm], others)
    columns.update(arm_columns)
    indicators = []
    for name in covariates:
        extra, indicator = _covariate_columns(used, name, missing)
        columns.update(extra)
        if indicator:
            indicators.append(indicator)
    if strata is not None:
        columns.update(_dummies(strata, used[strata], _levels(used[strata])[1:]))
    constant = tuple(
        name for name, col in columns.items() if name != "(Intercept)" and np.ptp(col) == 0.0
    )
    terms = tuple(name for name in columns if name not in constant)
    return DesignMatrix(
        x=np.column_stack([columns[t] for t in terms]),
        terms=terms,
        arm_terms=dict(zip(others, arm_columns, strict=True)),
        rows=np.flatnonzero(keep.to_numpy()),
        n_dropped_missing=int((~keep).sum()),
        dropped_constant=constant,
        missing_indicators=tuple(i for i in indicators if i not in constant),
    )
