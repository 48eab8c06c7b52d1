"""Complier average causal effects by two-stage least squares (R ``estimatr::iv_robust``).

Random assignment instruments receipt ("delivered"): with one-sided non-compliance the
coefficient on receipt is the effect among those who would receive the reminder if assigned.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.stats import cr2
from analysis.stats._types import ArrayLike, FloatArray
from analysis.stats.cells import Cells
from analysis.stats.regression import (
    RobustFit,
    as_cells_design,
    as_design,
    assemble_fit,
    full_rank_cells,
    full_rank_design,
    full_rank_rows_or_cells,
    resolve_df_columns,
    robust_variance,
    solve_least_squares,
    solve_least_squares_cells,
    term_names,
)


def iv_robust(
    y: ArrayLike,
    x: ArrayLike | None,
    instruments: ArrayLike | None,
    *,
    endogenous: Sequence[str],
    terms: Sequence[str],
    clusters: cr2.Clusters | None = None,
    se_type: str | None = None,
    alpha: float = 0.05,
    df_terms: Sequence[str] | None = None,
    instruments_include_exogenous: bool = False,
    instruments_cross_product: ArrayLike | None = None,
    cells: Cells | None = None,
    instruments_table: ArrayLike | None = None,
) -> RobustFit:
    """Two-stage least squares with estimatr's robust standard errors.

    First stage: each endogenous column of ``x`` is regressed on the exogenous columns of
    ``x`` plus ``instruments``; second stage: OLS of ``y`` on ``x`` with the endogenous
    columns replaced by their first-stage fitted values ``X_hat``. Residuals use the
    observed regressors, ``e = y - X beta``; the sandwich uses ``X_hat`` in the bread, the
    leverages and the CR2 adjustments, exactly as ``estimatr::iv_robust`` (HC2 with df
    ``n - k`` unclustered; CR2 with Bell-McCaffrey df clustered).

    Parameters
    ----------
    y : outcome, shape (n,).
    x : second-stage design, shape (n, k), containing the intercept, the endogenous columns
        (e.g. ``received_sms``) and the exogenous covariates and fixed effects.
    instruments : excluded instruments, shape (n, q) with q >= number of endogenous columns
        (e.g. the arm indicators); None with ``cells`` and ``instruments_table`` (below).
    endogenous : names (in ``terms``) of the endogenous columns.
    terms : names of the columns of ``x``.
    clusters, se_type, alpha, df_terms : as :func:`analysis.stats.regression.lm_robust`.
    instruments_include_exogenous : when True, ``instruments`` is the whole first-stage
        design (every exogenous column of ``x`` and the excluded instruments, like the part
        after ``|`` in estimatr's formula) and is used as it is, without a copy.
    instruments_cross_product : with ``instruments_include_exogenous``, ``Z'Z`` for that
        whole first-stage design if already computed (trusted as given).
    cells, instruments_table : when every column of ``x`` and of the whole first-stage
        design ``instruments`` is the intercept or an indicator: the rows' cells with ``x``'s
        row per cell as their table, and the instruments' row per cell (with
        ``instruments_include_exogenous``; trusted as given). Both stages' sums and the HC
        sandwich are then taken per cell (:mod:`analysis.stats.cells`): the same figures, to
        rounding. ``x`` and ``instruments`` may then be None: their rows are the cells'
        tables, gathered only if the fit has to be made from the rows (a design with an
        offset column to centre).

    Raises
    ------
    ValueError
        If shapes disagree, a design is collinear, or the instruments cannot identify the
        endogenous columns (for example an arm in which no one received the reminder).

    References
    ----------
    Angrist JD, Imbens GW, Rubin DB (1996) JASA 91:444-455. Imbens GW, Rubin DB (2015)
    Causal Inference, ch. 23-24. Blair G et al., estimatr 1.0 "Mathematical notes".
    """
    by_rows = x is not None or not (instruments_include_exogenous and instruments_table is not None)
    y_arr, x_arr, (n, k) = _outcome_and_design(y, x, cells, by_rows=by_rows)
    names = term_names(terms, k)
    z_arr, z_cells = _instruments(instruments, instruments_table, cells)
    z_shape = z_arr.shape if z_arr is not None else (n, z_cells.table.shape[1])  # type: ignore[union-attr]
    missing = [e for e in endogenous if e not in names]
    if missing or not endogenous:
        raise ValueError(f"endogenous terms not in the design: {', '.join(missing) or '(none)'}")
    needed = len(endogenous) + (k - len(endogenous)) * instruments_include_exogenous
    if z_shape[0] != n or z_shape[1] < needed:
        raise ValueError("need one row per participant and at least one instrument per endogenous")
    endo = [names.index(e) for e in endogenous]
    exo = [j for j in range(len(names)) if j not in endo]
    first_names = [f"instrument{i}" for i in range(z_shape[1])]
    given = instruments_cross_product if instruments_include_exogenous else None
    if instruments_include_exogenous:
        stage, z_arr = full_rank_rows_or_cells(z_arr, z_cells, first_names, given)
    else:
        assert x_arr is not None and z_arr is not None
        first = np.column_stack([x_arr[:, exo], z_arr])
        stage = full_rank_design(first, [names[j] for j in exo] + first_names)
    fitted_names = [f"fitted {t}" if t in endogenous else t for t in names]
    if (
        cells is not None
        and instruments_table is not None
        and instruments_include_exogenous
        and stage.centring is None
    ):
        by_cell = cells
        z_table = np.asarray(instruments_table, dtype=np.float64)
        x_table = cells.table
        shapes = (cells.codes.shape, x_table.shape[1], z_table.shape)
        if shapes != ((n,), k, (cells.n_cells, z_shape[1])):
            raise ValueError("cells and their tables must describe the rows of x and instruments")
        hat_table = x_table.copy()
        zx = z_table.T @ (x_table[:, endo] * by_cell.counts[:, None])
        hat_table[:, endo] = z_table @ (stage.bread @ zx)
        hat_cells = by_cell.with_table(hat_table)
        # X_hat's rank, bread and sandwich from its table: no n x k matrix is gathered.
        try:
            second_cells = full_rank_cells(hat_cells, fitted_names)
        except ValueError as err:
            raise ValueError(f"instruments do not identify the endogenous terms: {err}") from err
        if second_cells is not None:
            beta = solve_least_squares_cells(hat_cells, y_arr, second_cells.bread)
            resid = y_arr - by_cell.rows(x_table @ beta)  # the observed regressors
            kind = se_type or ("HC2" if clusters is None else "CR2")
            wanted = resolve_df_columns(names, df_terms)
            variance = robust_variance(
                None, second_cells.bread, resid, clusters, kind, wanted, None, hat_cells
            )
            return assemble_fit(names, beta, variance, kind, alpha, n)
    if x_arr is None:  # an offset column to centre: the fit is made from the rows
        assert cells is not None
        x_arr = cells.rows(cells.table)
    if z_arr is None:  # the first stage was made from the table: again, from the rows
        z_arr = z_cells.rows(z_cells.table)  # type: ignore[union-attr]
        stage = full_rank_design(z_arr, first_names, cross_product=given)
    x_hat = x_arr.copy()
    x_hat[:, endo] = stage.x @ (stage.bread @ (stage.x.T @ x_arr[:, endo]))
    try:
        second = full_rank_design(x_hat, fitted_names, overwrite=True)
    except ValueError as err:
        raise ValueError(f"instruments do not identify the endogenous terms: {err}") from err
    # Residuals use the observed regressors, centred as the second stage's were.
    x_obs = x_arr if second.centring is None else second.centring.apply(x_arr)
    beta = solve_least_squares(second.x, y_arr, second.bread)
    resid = y_arr - x_obs @ beta
    kind = se_type or ("HC2" if clusters is None else "CR2")
    transform = second.transform
    wanted = resolve_df_columns(names, df_terms)
    variance = robust_variance(second.x, second.bread, resid, clusters, kind, wanted, transform)
    beta = beta if transform is None else transform @ beta
    return assemble_fit(names, beta, variance, kind, alpha, y_arr.shape[0])


def _instruments(
    instruments: ArrayLike | None, table: ArrayLike | None, cells: Cells | None
) -> tuple[FloatArray | None, Cells | None]:
    """The instruments' rows, or (given as None) their cells: the rows' cells with the
    instruments' table."""
    if instruments is not None:
        z_arr = np.asarray(instruments, dtype=np.float64)
        return (z_arr[:, None] if z_arr.ndim == 1 else z_arr), None
    if cells is None or table is None:
        raise ValueError("iv_robust needs the instruments, or their table and the cells")
    return None, cells.with_table(np.asarray(table, dtype=np.float64))


def _outcome_and_design(
    y: ArrayLike, x: ArrayLike | None, cells: Cells | None, *, by_rows: bool
) -> tuple[FloatArray, FloatArray | None, tuple[int, int]]:
    """The outcome and the design checked; the design's rows only if ``by_rows`` (without
    ``x``, gathered from the cells), else None with the shape of the cells' rows."""
    if x is None and cells is None:
        raise ValueError("iv_robust needs the design x or its cells")
    if by_rows:
        rows = x if x is not None else cells.rows(cells.table)  # type: ignore[union-attr]
        y_arr, x_arr = as_design(y, rows)
        return y_arr, x_arr, (x_arr.shape[0], x_arr.shape[1])
    assert cells is not None
    return as_cells_design(y, cells), None, (cells.codes.shape[0], cells.table.shape[1])
