"""Build a regression design matrix from a participant frame: arms, covariates, strata.

Pure: a pandas DataFrame in, a frozen :class:`DesignMatrix` out. Control is the reference
arm; categorical covariates and strata are dummy-coded against their first level; columns
that are constant in the analysed rows are dropped and reported, and so are columns that are
exact linear combinations of others (aliased), as R's ``lm`` drops them: the intercept and the
arms are kept first, then the strata, then the covariates in the order listed, so a covariate
is dropped before a stratum and a stratum before an arm (see :mod:`analysis.stats.rank`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from analysis.stats._types import BoolArray, FloatArray, IntArray
from analysis.stats.cells import Cells, cells_of
from analysis.stats.rank import column_rank

MISSING_LEVEL = "(missing)"
# Rows per block when filling the design matrix (a k x block buffer stays in cache).
FILL_BLOCK = 65_536
# A design is summed per cell (analysis.stats.cells) when it has at most this many cells per row.
MAX_CELL_SHARE = 0.25


@dataclass(frozen=True)
class DesignMatrix:
    """Design matrix ``x`` for the frame rows ``rows`` (positions), with what was dropped.

    ``arm_terms`` maps each non-control arm to its column name in ``terms``.
    ``dropped_constant`` names columns with one value in every analysed row; ``aliased``
    names columns dropped because they are exact linear combinations of columns kept before
    them (in the order intercept, arms, strata, covariates). ``cross_product`` is
    ``x.T @ x``, computed for the rank check and handed to the models so that they need not
    compute it again.

    A design with ``cells`` keeps only its cells' table: ``x`` (n x k, a million rows are
    150 MB) is gathered from it the first time something asks for it. The models of such a
    design work from the cells and never do (lm_robust, logistic_regression, iv_robust).
    """

    dense: FloatArray | None = field(repr=False, compare=False)
    terms: tuple[str, ...]
    arm_terms: dict[str, str]
    rows: IntArray = field(repr=False, compare=False)
    n_dropped_missing: int
    dropped_constant: tuple[str, ...]
    missing_indicators: tuple[str, ...]
    aliased: tuple[str, ...] = ()
    cross_product: FloatArray | None = field(default=None, repr=False, compare=False)
    # When rows share design rows (every column an indicator, or numeric with few values): the
    # rows' cells (analysis.stats.cells), from which the models compute the same sums.
    cells: Cells | None = field(default=None, repr=False, compare=False)

    @property
    def x(self) -> FloatArray:
        """The n x k design, gathered from the cells' table on first use when it has cells."""
        if self.dense is None:
            with _GATHERING:
                if self.dense is None:
                    assert self.cells is not None, "a design has its rows or its cells"
                    rows = np.ascontiguousarray(self.cells.rows(self.cells.table))
                    object.__setattr__(self, "dense", rows)
        assert self.dense is not None
        return self.dense

    @property
    def rows_x(self) -> FloatArray | None:
        """The n x k design for a model to fit from the rows; None when it has cells, from
        which the models fit (without gathering the rows)."""
        return None if self.cells is not None else self.x


# Models of one design may run in threads side by side: one of them gathers its rows.
_GATHERING = threading.Lock()


@dataclass(frozen=True)
class _Factor:
    """A categorical variable as each row's level index (-1: none) and its levels' names."""

    name: str
    codes: IntArray
    levels: list[str]

    def dummies(self, levels: Sequence[str]) -> list[tuple[str, int]]:
        """(term name, level index) for the given levels."""
        return [(f"{self.name}[{level}]", self.levels.index(level)) for level in levels]


def factor_codes(values: pd.Series) -> tuple[IntArray, list[str]]:
    """Each row's level index (-1 if missing) and the levels as text.

    Levels are a categorical's present categories in order, else the sorted distinct values.
    Each distinct value is converted to text once; rows are handled as integer codes.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes.to_numpy(), dtype=np.intp)
        text = [str(c) for c in values.cat.categories]
        present = np.bincount(codes[codes >= 0], minlength=len(text)) > 0
        levels = list(dict.fromkeys(t for t, p in zip(text, present, strict=True) if p))
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.intp)
        text = [str(u) for u in uniques]
        levels = sorted(set(text))
    position = {level: i for i, level in enumerate(levels)}
    remap = np.array([position.get(t, -1) for t in text] + [-1], dtype=np.intp)
    return remap[codes], levels


def _factor(name: str, values: pd.Series) -> _Factor:
    return _Factor(name, *factor_codes(values))


def _with_missing_level(factor: _Factor) -> _Factor:
    missing = len(factor.levels)
    codes = np.where(factor.codes < 0, missing, factor.codes)
    return _Factor(factor.name, codes, [*factor.levels, MISSING_LEVEL])


def _is_categorical(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))


@dataclass
class _Columns:
    """Design columns before any are dropped: numeric arrays and dummies of factors."""

    names: list[str] = field(default_factory=list)
    numeric: dict[str, FloatArray] = field(default_factory=dict)
    dummy: dict[str, tuple[_Factor, int]] = field(default_factory=dict)

    def add_numeric(self, name: str, values: FloatArray) -> None:
        self.names.append(name)
        self.numeric[name] = values

    def add_dummies(self, factor: _Factor, levels: Sequence[str]) -> list[str]:
        added = []
        for name, index in factor.dummies(levels):
            self.names.append(name)
            self.dummy[name] = (factor, index)
            added.append(name)
        return added

    def constant(self, n: int) -> tuple[str, ...]:
        """Columns (other than the intercept) with one value in all rows."""
        counts: dict[int, IntArray] = {}
        out = []
        for name in self.names[1:]:
            if name in self.numeric:
                if np.ptp(self.numeric[name]) == 0.0:
                    out.append(name)
                continue
            factor, index = self.dummy[name]
            if id(factor) not in counts:
                valid = factor.codes[factor.codes >= 0]
                counts[id(factor)] = np.bincount(valid, minlength=len(factor.levels))
            if counts[id(factor)][index] in (0, n):
                out.append(name)
        return tuple(out)

    def matrix(self, terms: Sequence[str], n: int) -> FloatArray:
        """The design (C order), filled a block of rows at a time.

        Each block is built column by column in a small transposed buffer (contiguous writes)
        and copied in as rows: about twice as fast at 1M rows as writing each column of the
        C-ordered array with a stride of k.
        """
        x = np.empty((n, len(terms)))
        for start in range(0, n, FILL_BLOCK):
            stop = min(n, start + FILL_BLOCK)
            block = np.empty((len(terms), stop - start))
            block[0] = 1.0
            for j, name in enumerate(terms[1:], start=1):
                if name in self.numeric:
                    block[j] = self.numeric[name][start:stop]
                else:
                    factor, index = self.dummy[name]
                    np.equal(factor.codes[start:stop], index, out=block[j], casting="unsafe")
            x[start:stop] = block.T
        return x


def _add_covariate(columns: _Columns, used: pd.DataFrame, name: str, missing: str) -> str | None:
    """Add a covariate's columns; return the name of its missing indicator, if any."""
    values = used[name]
    has_missing = bool(values.isna().any())
    if _is_categorical(values):
        factor = _factor(name, values)
        levels = factor.levels[1:]
        if has_missing:
            factor = _with_missing_level(factor)
            levels = factor.levels[1:]
        columns.add_dummies(factor, levels)
        return None
    numeric = values.astype(np.float64)
    if not has_missing:
        columns.add_numeric(name, np.asarray(numeric, dtype=np.float64))
        return None
    indicator = f"{name}[missing]"
    filled = numeric.fillna(float(numeric.mean()) if numeric.notna().any() else 0.0)
    columns.add_numeric(name, np.asarray(filled, dtype=np.float64))
    columns.add_numeric(indicator, np.asarray(numeric.isna(), dtype=np.float64))
    return indicator


def _kept_rows(
    frame: pd.DataFrame, required: Sequence[str], covariates: Sequence[str], missing: str
) -> BoolArray:
    checked = [*required, *covariates] if missing == "drop" else list(required)
    keep = np.ones(len(frame), dtype=bool)
    for name in dict.fromkeys(checked):
        keep &= frame[name].notna().to_numpy()
    return keep


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
        If the control arm or a listed arm has no analysed rows, or an arm indicator is
        aliased (an exact combination of the intercept and other arms; not possible while
        control and every listed arm have analysed rows, but checked).
    """
    if missing not in ("drop", "indicator"):
        raise ValueError(f"missing must be 'drop' or 'indicator', got {missing!r}")
    required = [c for c in (arm, strata, outcome) if c is not None]
    keep = _kept_rows(frame, required, covariates, missing)
    named = frame[list(dict.fromkeys([*required, *covariates]))]
    used = named if keep.all() else named.iloc[np.flatnonzero(keep)]
    n = len(used)
    arm_factor = _factor(arm, used[arm])
    others = list(arms) if arms is not None else [a for a in arm_factor.levels if a != control]
    for label in [control, *others]:
        if label not in arm_factor.levels:
            raise ValueError(f"arm {label!r} has no participants in the analysed rows")
    columns = _Columns()
    columns.add_numeric("(Intercept)", np.ones(n))
    arm_columns = columns.add_dummies(arm_factor, others)
    indicators = []
    before = len(columns.names)
    # The strata column listed again as a covariate would only repeat the strata's columns.
    for name in (c for c in covariates if c != strata):
        indicator = _add_covariate(columns, used, name, missing)
        if indicator:
            indicators.append(indicator)
    covariate_terms = set(columns.names[before:])
    strata_terms: list[str] = []
    if strata is not None:
        strata_factor = _factor(strata, used[strata])
        strata_terms = columns.add_dummies(strata_factor, strata_factor.levels[1:])
    constant = columns.constant(n)
    terms = [name for name in columns.names if name not in constant]
    x, cells = _matrix_and_cells(columns, terms, n)
    reduced = _without_aliased(x, cells, terms, arm_columns, strata_terms, covariate_terms)
    if cells is not None and len(reduced.terms) != len(terms):
        cells = cells.with_table(cells.table[:, [terms.index(t) for t in reduced.terms]])
    return DesignMatrix(
        dense=reduced.x,
        terms=reduced.terms,
        arm_terms=dict(zip(others, arm_columns, strict=True)),
        rows=np.flatnonzero(keep),
        n_dropped_missing=int((~keep).sum()),
        dropped_constant=constant,
        missing_indicators=tuple(i for i in indicators if i in reduced.terms),
        aliased=reduced.aliased,
        cross_product=reduced.cross_product,
        cells=cells,
    )


def _matrix_and_cells(
    columns: _Columns, terms: list[str], n: int
) -> tuple[FloatArray | None, Cells | None]:
    """The design, or the rows' cells (rows with the same design row) if few enough.

    Every factor's levels and every numeric column's distinct values (an age in years, a
    missing-value indicator) combine into a cell; a design of indicators only always has
    few cells, one with a continuous covariate as many as rows, and then none are kept.
    With cells, only each cell's first row is filled: the rows are not gathered.
    """
    factors = {id(f): f.codes for f, _ in columns.dummy.values()}
    numbers = [
        np.asarray(pd.factorize(values)[0], dtype=np.intp)
        for name, values in columns.numeric.items()
        if name in terms and name != "(Intercept)"
    ]
    codes, first = cells_of([*factors.values(), *numbers])
    if len(codes) != n or len(first) > MAX_CELL_SHARE * len(codes):
        # No column varies (an intercept alone: nothing to tell cells apart), or too many cells.
        return columns.matrix(terms, n), None
    firsts = {id(f): _Factor(f.name, f.codes[first], f.levels) for f, _ in columns.dummy.values()}
    table = _Columns(
        columns.names,
        {name: values[first] for name, values in columns.numeric.items()},
        {name: (firsts[id(f)], i) for name, (f, i) in columns.dummy.items()},
    ).matrix(terms, len(first))
    counts = np.bincount(codes, minlength=len(first)).astype(np.float64)
    return None, Cells(codes, table, counts)


@dataclass(frozen=True)
class _FullRank:
    x: FloatArray | None
    terms: tuple[str, ...]
    cross_product: FloatArray
    aliased: tuple[str, ...]


def _without_aliased(
    x: FloatArray | None,
    cells: Cells | None,
    terms: list[str],
    arm_terms: Sequence[str],
    strata_terms: Sequence[str],
    covariate_terms: set[str],
) -> _FullRank:
    """Drop columns aliased with those kept before them: intercept and arms, strata, covariates.

    That is R's formula order ``y ~ arm + stratum + covariates``, so R drops the same columns.
    The rank is decided on the rows ``x``, or on the cells' table with their counts.
    """
    strata = set(strata_terms)
    first = [j for j, t in enumerate(terms) if t not in strata and t not in covariate_terms]
    priority = [*first, *(j for j, t in enumerate(terms) if t in strata)]
    priority += [j for j, t in enumerate(terms) if t in covariate_terms]
    if cells is not None:
        gram = cells.cross()
        rank = column_rank(cells.table, priority=priority, cross_product=gram, counts=cells.counts)
    else:
        assert x is not None, "a design has its rows or its cells"
        gram = x.T @ x
        rank = column_rank(x, priority=priority, cross_product=gram)
    aliased = [terms[j] for j in rank.aliased]
    lost = [t for t in arm_terms if t in aliased]
    if lost:
        raise ValueError(
            f"arm indicator(s) {', '.join(lost)} not estimable: an exact linear combination of "
            "the intercept and the other arms in the analysed rows"
        )
    if aliased:
        kept = [j for j, t in enumerate(terms) if t not in aliased]
        x = None if x is None else np.ascontiguousarray(x[:, kept])
        gram = gram[np.ix_(kept, kept)]
        terms = [terms[j] for j in kept]
    return _FullRank(x, tuple(terms), gram, tuple(aliased))
