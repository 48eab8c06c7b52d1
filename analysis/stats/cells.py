"""A design of categorical terms only, as its cells: each row's cell and one design row per cell.

When every column of a design is the intercept or an indicator (arms, strata, categorical
covariates), rows in the same cell (the same combination of levels) have the same design row,
so every sum a linear or logistic model needs is a sum over cells of per-cell totals:
``X'X = sum_c n_c x_c x_c'``, ``X'y = sum_c x_c (sum of y in c)``, the HC2 leverage of a row
is its cell's ``x_c' (X'X)^{-1} x_c``, and the HC2 meat is
``sum_c x_c x_c' (sum of e_i^2 in c) / (1 - h_c)``. These are the same sums grouped
differently: exact, not an approximation; only the rounding differs (about 1e-15 relative).
A million rows with a few hundred cells then cost a few passes of ``np.bincount`` over the
rows instead of products with an n x k matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.stats._types import FloatArray, IntArray


@dataclass(frozen=True)
class Cells:
    """``codes[i]`` is row i's cell; ``table[c]`` is the design row of every row in cell c.

    ``counts`` is the number of rows in each cell (every cell has at least one row).
    """

    codes: IntArray = field(repr=False)
    table: FloatArray
    counts: FloatArray = field(repr=False)

    @property
    def n_cells(self) -> int:
        return int(self.table.shape[0])

    def sums(self, values: FloatArray) -> FloatArray:
        """The total of ``values`` (one per row) in each cell."""
        totals = np.bincount(self.codes, weights=values, minlength=self.n_cells)
        return np.asarray(totals, dtype=np.float64)

    def cross(
        self, weights: FloatArray | None = None, other: FloatArray | None = None
    ) -> FloatArray:
        """``X' diag(w) Z`` over the rows, from per-cell totals of ``w`` (default: counts);
        ``Z`` is given by its per-cell table ``other`` (default: this design)."""
        per_cell = self.counts if weights is None else weights
        right = self.table if other is None else other
        return np.asarray(self.table.T @ (right * per_cell[:, None]))

    def rows(self, per_cell: FloatArray) -> FloatArray:
        """A per-cell value spread to every row of the cell."""
        return np.asarray(per_cell)[self.codes]

    def with_table(self, table: FloatArray) -> Cells:
        """The same rows and cells with another design row per cell."""
        return Cells(self.codes, np.ascontiguousarray(table), self.counts)

    def split(self, flag: FloatArray) -> tuple[Cells, IntArray, FloatArray]:
        """Cells refined by a 0/1 value per row: the finer cells, each one's parent cell, and
        each one's value of the flag."""
        joined = self.codes * 2 + (np.asarray(flag) != 0.0)
        codes, seen = pd.factorize(joined, sort=True)
        seen = np.asarray(seen, dtype=np.intp)
        parent, value = seen // 2, (seen % 2).astype(np.float64)
        codes = np.asarray(codes, dtype=np.intp)
        counts = np.bincount(codes, minlength=len(seen)).astype(np.float64)
        return Cells(codes, self.table[parent], counts), parent, value


def cells_of(codes: list[IntArray]) -> tuple[IntArray, IntArray]:
    """Each row's cell from its level codes in several factors (none missing), and the first
    row of each cell; cells are numbered in order of first appearance."""
    combined = np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    for factor in codes:
        width = int(factor.max(initial=0)) + 2
        combined = combined * width + (factor + 1)  # a missing level (-1) is a level too
        combined = np.asarray(pd.factorize(combined)[0], dtype=np.int64)
    return np.asarray(combined, dtype=np.intp), first_rows(combined)


def first_rows(codes: IntArray) -> IntArray:
    """The first row of each code, for codes numbered in order of first appearance (as
    ``pd.factorize`` numbers them): a row is the first of its code where the running
    maximum of the codes goes up."""
    running = np.maximum.accumulate(np.asarray(codes, dtype=np.int64))
    rises = np.empty(running.shape, dtype=bool)  # running[i] > running[i - 1], running[-1] = -1
    if running.size:
        rises[0] = running[0] > -1
        np.greater(running[1:], running[:-1], out=rises[1:])
    return np.flatnonzero(rises).astype(np.intp)


def unique_first(codes: IntArray) -> tuple[IntArray, IntArray]:
    """``np.unique(codes, return_index=True)`` for non-negative integer codes: each distinct
    code and the row where it first appears. Codes numbered in order of first appearance
    (``pd.factorize``'s, a categorical's read from a file) take one pass, not a sort."""
    codes = np.asarray(codes)
    first = first_rows(codes)
    numbered = np.arange(len(first), dtype=np.intp)
    if codes.min(initial=0) >= 0 and np.array_equal(codes[first], numbered):
        # Each code c first appears where the running maximum rises to c: these rows.
        return numbered, first
    seen, where = np.unique(codes, return_index=True)
    return np.asarray(seen, dtype=np.intp), np.asarray(where, dtype=np.intp)
