"""The rank of a design decided from its cells' table (one row per cell, with counts) is the
rank decided from all its rows: the same kept and aliased columns, intercept and centring.

The CACE's second stage on the cells path (analysis/stats/iv.py) decides rank this way
instead of gathering an n x k matrix; these designs include the awkward columns: an indicator
that is 1 in more than 99% of rows (whose centred products are computed exactly), an exact
combination of other columns, and a covariate far from zero (a year), which needs centring.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.stats.cells import Cells, cells_of
from analysis.stats.rank import column_rank
from analysis.stats.regression import full_rank_cells, full_rank_design


def _cells(x: np.ndarray) -> Cells:
    """The rows of ``x`` as cells: each distinct row once, with its rows' count."""
    codes, first = cells_of([np.unique(x, axis=0, return_inverse=True)[1].ravel()])
    counts = np.bincount(codes, minlength=len(first)).astype(np.float64)
    return Cells(codes, np.ascontiguousarray(x[first]), counts)


def _design(seed: int, *, year: bool = False, aliased: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = 20_000
    arm = rng.integers(0, 3, n)
    common = (rng.random(n) < 0.995).astype(np.float64)  # mean 0.995: centred exactly
    columns = [np.ones(n), arm == 1, arm == 2, common, rng.integers(0, 4, n) == 0]
    if aliased:
        columns.append(columns[1] + columns[2])  # an exact combination of the arms
    if year:
        columns.append(2020.0 + rng.integers(0, 3, n))  # mean^2 far above its variance
    return np.column_stack(columns).astype(np.float64)


@pytest.mark.parametrize(("year", "aliased"), [(False, False), (True, False), (False, True)])
def test_the_rank_from_the_cells_is_the_rank_from_the_rows(year: bool, aliased: bool) -> None:
    x = _design(7, year=year, aliased=aliased)
    cells = _cells(x)
    assert cells.n_cells < len(x) / 100
    gram = x.T @ x
    by_rows = column_rank(x, cross_product=gram)
    by_cells = column_rank(cells.table, cross_product=cells.cross(), counts=cells.counts)
    assert by_cells.independent == by_rows.independent
    assert by_cells.aliased == by_rows.aliased
    assert by_cells.intercept == by_rows.intercept
    assert (by_cells.centring is None) == (by_rows.centring is None) == (not year)
    if year:
        assert by_cells.centring is not None and by_rows.centring is not None
        assert by_cells.centring.columns == by_rows.centring.columns
        np.testing.assert_allclose(by_cells.centring.means, by_rows.centring.means, rtol=1e-12)


def test_the_bread_from_the_cells_is_the_bread_from_the_rows() -> None:
    x = _design(8)
    names = [f"x{j}" for j in range(x.shape[1])]
    from_cells = full_rank_cells(_cells(x), names)
    assert from_cells is not None
    np.testing.assert_allclose(from_cells.bread, full_rank_design(x, names).bread, rtol=1e-10)


def test_a_design_to_centre_is_left_to_the_rows_and_an_aliased_one_refused_alike() -> None:
    year = _design(9, year=True)
    assert full_rank_cells(_cells(year), [f"x{j}" for j in range(year.shape[1])]) is None
    aliased = _design(9, aliased=True)
    names = [f"x{j}" for j in range(aliased.shape[1])]
    with pytest.raises(ValueError) as from_rows:
        full_rank_design(aliased, names)
    with pytest.raises(ValueError) as from_cells:
        full_rank_cells(_cells(aliased), names)
    assert str(from_cells.value) == str(from_rows.value)


def test_a_table_without_the_rows_cross_product_is_refused() -> None:
    x = _design(10)
    cells = _cells(x)
    with pytest.raises(ValueError, match="cross-product"):
        column_rank(cells.table, counts=cells.counts)
