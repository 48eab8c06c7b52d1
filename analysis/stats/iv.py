"""Complier average causal effects by two-stage least squares (R ``estimatr::iv_robust``).

Random assignment instruments receipt ("delivered"): with one-sided non-compliance the
coefficient on receipt is the effect among those who would receive the reminder if assigned.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.stats import cr2
from analysis.stats._types import ArrayLike
from analysis.stats.cells import Cells
from analysis.stats.regression import (
    RobustFit,
    as_design,
    assemble_fit,
    full_rank_design,
    resolve_df_columns,
    robust_variance,
    solve_least_squares,
    solve_least_squares_cells,
    term_names,
)


def iv_robust(
    y: ArrayLike,
    x: ArrayLike,
    instruments: ArrayLike,
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
        (e.g. the arm indicators).
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
        rounding.

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
    y_arr, x_arr = as_design(y, x)
    names = term_names(terms, x_arr.shape[1])
    z_arr = np.asarray(instruments, dtype=np.float64)
    if z_arr.ndim == 1:
        z_arr = z_arr[:, None]
    missing = [e for e in endogenous if e not in names]
    if missing or not endogenous:
        raise ValueError(f"endogenous terms not in the design: {', '.join(missing) or '(none)'}")
    needed = len(endogenous) + (x_arr.shape[1] - len(endogenous)) * instruments_include_exogenous
    if z_arr.shape[0] != x_arr.shape[0] or z_arr.shape[1] < needed:
        raise ValueError("need one row per participant and at least one instrument per endogenous")
    endo = [names.index(e) for e in endogenous]
    exo = [j for j in range(len(names)) if j not in endo]
    if instruments_include_exogenous:
        first = z_arr
        first_names = [f"instrument{i}" for i in range(z_arr.shape[1])]
    else:
        first = np.column_stack([x_arr[:, exo], z_arr])
        first_names = [names[j] for j in exo] + [f"instrument{i}" for i in range(z_arr.shape[1])]
    given = instruments_cross_product if instruments_include_exogenous else None
    stage = full_rank_design(first, first_names, cross_product=given)
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
        if shapes != ((y_arr.shape[0],), x_arr.shape[1], (cells.n_cells, z_arr.shape[1])):
            raise ValueError("cells and their tables must describe the rows of x and instruments")
        hat_table = x_table.copy()
        zx = z_table.T @ (x_table[:, endo] * by_cell.counts[:, None])
        hat_table[:, endo] = z_table @ (stage.bread @ zx)
        hat_cells = by_cell.with_table(hat_table)
        x_hat = hat_cells.rows(hat_table)
        try:
            second = full_rank_design(
                x_hat, fitted_names, overwrite=True, cross_product=hat_cells.cross()
            )
        except ValueError as err:
            raise ValueError(f"instruments do not identify the endogenous terms: {err}") from err
        if second.centring is None:
            beta = solve_least_squares_cells(hat_cells, y_arr, second.bread)
            resid = y_arr - by_cell.rows(x_table @ beta)  # the observed regressors
            kind = se_type or ("HC2" if clusters is None else "CR2")
            wanted = resolve_df_columns(names, df_terms)
            variance = robust_variance(
                second.x, second.bread, resid, clusters, kind, wanted, None, hat_cells
            )
            return assemble_fit(names, beta, variance, kind, alpha, y_arr.shape[0])
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
