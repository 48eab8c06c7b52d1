"""Linear probability models by OLS with the robust standard errors of R ``estimatr::lm_robust``.

Defaults match estimatr 1.0: HC2 with df ``n - k`` without clusters; CR2 with Bell-McCaffrey
(Satterthwaite) df per coefficient with clusters. The clustered computations live in
``analysis.stats.cr2`` and are vectorised over clusters of equal size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, stats

from analysis.stats import cr2
from analysis.stats._types import ArrayLike, FloatArray
from analysis.stats.cells import Cells
from analysis.stats.rank import Centring, column_rank

UNCLUSTERED_TYPES = ("HC0", "HC1", "HC2")
CLUSTERED_TYPES = ("CR0", "CR2", "stata")
DF_UNDEFINED = "the degrees of freedom of its interval cannot be formed: no interval or p-value"
# A robust SE this small relative to the classical SE is rounding noise, not information.
DEGENERATE_SE_RATIO = 1e-8


@dataclass(frozen=True)
class Coefficient:
    """One regression coefficient with its robust inference.

    ``df``, ``p_value`` and the interval are ``None`` (with ``note``) when undefined, for
    example a zero standard error or a Bell-McCaffrey df that cannot be formed.
    """

    term: str
    estimate: float
    std_error: float
    df: float | None
    statistic: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    note: str | None = None


@dataclass(frozen=True)
class RobustFit:
    """Result of :func:`lm_robust` or :func:`analysis.stats.iv.iv_robust`."""

    coefficients: tuple[Coefficient, ...]
    se_type: str
    alpha: float
    n_obs: int
    n_clusters: int | None
    vcov: FloatArray = field(repr=False, compare=False)

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(c.term for c in self.coefficients)

    def coefficient(self, term: str) -> Coefficient:
        """The coefficient named ``term`` (KeyError if absent)."""
        for c in self.coefficients:
            if c.term == term:
                return c
        raise KeyError(term)


def as_design(
    y: ArrayLike, x: ArrayLike, cells: Cells | None = None
) -> tuple[FloatArray, FloatArray]:
    """Validate and convert an outcome vector and a design matrix to float arrays.

    With ``cells`` whose table gives the rows of ``x`` (trusted as given), ``x`` is finite
    when the table is, and only the table is checked.
    """
    y_arr = np.asarray(y, dtype=np.float64)
    x_arr = np.asarray(x, dtype=np.float64)
    if y_arr.ndim != 1 or x_arr.ndim != 2 or x_arr.shape[0] != y_arr.shape[0]:
        raise ValueError(
            f"need y of shape (n,) and X of shape (n, k); got {y_arr.shape}, {x_arr.shape}"
        )
    shown = x_arr
    if cells is not None and cells.codes.shape == y_arr.shape:
        if cells.table.shape[1] == x_arr.shape[1]:
            shown = cells.table  # every cell has a row: the rows are finite when it is
    if not (np.all(np.isfinite(y_arr)) and np.all(np.isfinite(shown))):
        raise ValueError("y and X must be finite: drop or impute missing values first")
    if x_arr.shape[0] <= x_arr.shape[1]:
        raise ValueError(
            f"need more rows than columns; got {x_arr.shape[0]} rows, {x_arr.shape[1]} columns"
        )
    return y_arr, x_arr


def term_names(terms: Sequence[str] | None, k: int) -> tuple[str, ...]:
    """Use the caller's column names, or ``x0, x1, ...``."""
    if terms is None:
        return tuple(f"x{j}" for j in range(k))
    if len(terms) != k:
        raise ValueError(f"{len(terms)} terms given for {k} columns")
    return tuple(terms)


@dataclass(frozen=True)
class FullRankDesign:
    """A design checked to be of full rank, ready for least squares.

    ``x`` is the caller's design with any offset column centred (see
    :class:`analysis.stats.rank.Centring`; the caller's array itself when none is), ``bread``
    is ``(x'x)^{-1}`` for that ``x``, and ``transform`` maps its coefficients back to the
    caller's parametrisation (``beta = transform @ beta_c``; ``None`` for the identity).
    """

    x: FloatArray = field(repr=False)
    bread: FloatArray = field(repr=False)
    centring: Centring | None
    intercept: int | None = None

    @property
    def transform(self) -> FloatArray | None:
        return None if self.centring is None else self.centring.transform(self.x.shape[1])


def full_rank_design(
    x: FloatArray,
    terms: Sequence[str],
    *,
    overwrite: bool = False,
    cross_product: ArrayLike | None = None,
) -> FullRankDesign:
    """Check ``x`` has full column rank (centred, as R decides), centre offsets, invert X'X.

    Raises ValueError naming every all-zero, constant or aliased column (see
    :func:`analysis.stats.rank.column_rank`). Columns are scaled to unit length before the
    Cholesky inverse (equilibration), so it does not depend on the units of the covariates;
    a covariate with a large offset (a date) is centred first, so its near-collinearity with
    the intercept costs no accuracy. ``overwrite`` allows centring ``x`` in place;
    ``cross_product`` is ``x.T @ x`` when the caller has it (trusted, not recomputed).
    """
    xtx = x.T @ x if cross_product is None else np.asarray(cross_product, dtype=np.float64)
    if xtx.shape != (x.shape[1], x.shape[1]):
        raise ValueError(f"cross_product must be {x.shape[1]} x {x.shape[1]}, got {xtx.shape}")
    rank = column_rank(x, cross_product=xtx)
    _refuse_aliased(rank.aliased, xtx, terms)
    if rank.centring is not None:
        x = rank.centring.apply(x, overwrite=overwrite)
        xtx = x.T @ x
    return FullRankDesign(x, _scaled_inverse(xtx), rank.centring, rank.intercept)


def full_rank_cells(
    cells: Cells, terms: Sequence[str], cross_product: ArrayLike | None = None
) -> FullRankDesign | None:
    """:func:`full_rank_design` for the rows of ``cells``, from their table: no n x k matrix.

    The same checks and errors (the rank is decided from the table and the rows' ``X'X``,
    :func:`analysis.stats.rank.column_rank` with ``counts``); ``None`` when the design has an
    offset column to centre, which the caller fits from the rows. The result's ``x`` is the
    cells' table. ``cross_product`` is the rows' ``X'X`` when the caller has it (trusted).
    """
    table = cells.table
    xtx = cells.cross() if cross_product is None else np.asarray(cross_product, dtype=np.float64)
    if xtx.shape != (table.shape[1], table.shape[1]):
        raise ValueError(f"cross_product must be {table.shape[1]} x {table.shape[1]}")
    rank = column_rank(table, cross_product=xtx, counts=cells.counts)
    _refuse_aliased(rank.aliased, xtx, terms)
    if rank.centring is not None:
        return None
    return FullRankDesign(table, _scaled_inverse(xtx), None, rank.intercept)


def _refuse_aliased(aliased: Sequence[int], xtx: FloatArray, terms: Sequence[str]) -> None:
    """Raise ValueError naming the all-zero columns, else the constant or aliased ones."""
    if not aliased:
        return
    zero = [terms[j] for j in aliased if xtx[j, j] == 0.0]
    if zero:
        raise ValueError(f"design columns are all zero: {', '.join(zero)}")
    names = ", ".join(terms[j] for j in aliased)
    raise ValueError(
        f"design columns are constant or collinear with earlier columns: {names}; "
        "drop them before fitting"
    )


def _scaled_inverse(xtx: FloatArray) -> FloatArray:
    """(X'X)^-1 by Cholesky of X'X with columns scaled to unit length (equilibration)."""
    norms = np.sqrt(np.diag(xtx))
    factor = linalg.cho_factor(xtx / np.outer(norms, norms))
    return np.asarray(linalg.cho_solve(factor, np.eye(len(norms))) / np.outer(norms, norms))


def as_cells_design(y: ArrayLike, cells: Cells) -> FloatArray:
    """:func:`as_design` for a design given by its cells (the rows' table, not gathered)."""
    y_arr = np.asarray(y, dtype=np.float64)
    n, k = cells.codes.shape[0], cells.table.shape[1]
    if y_arr.ndim != 1 or n != y_arr.shape[0]:
        raise ValueError(f"need y of shape (n,) and X of shape (n, k); got {y_arr.shape}, {(n, k)}")
    # Every cell has a row, so the rows are finite when the table is.
    if not (np.all(np.isfinite(y_arr)) and np.all(np.isfinite(cells.table))):
        raise ValueError("y and X must be finite: drop or impute missing values first")
    if n <= k:
        raise ValueError(f"need more rows than columns; got {n} rows, {k} columns")
    return y_arr


def usable_cells(cells: Cells | None, design: FullRankDesign, n: int) -> Cells | None:
    """The cells, when they describe these rows and the design was not reparametrised."""
    if cells is None or design.centring is not None:
        return None
    if cells.codes.shape != (n,) or cells.table.shape[1] != design.x.shape[1]:
        raise ValueError(f"cells must describe {n} rows of {design.x.shape[1]} columns")
    return cells


@dataclass(frozen=True)
class ModelDesign:
    """A model's checked outcome and full-rank design, from the rows or from the cells.

    ``x`` is the rows as given (None when the model is fitted from ``cells`` without them);
    ``design`` is the full-rank design (its ``x`` the cells' table when ``x`` is None);
    ``cells`` are the cells to sum over, None when the fit is made from the rows.
    """

    y: FloatArray
    x: FloatArray | None
    names: tuple[str, ...]
    design: FullRankDesign
    cells: Cells | None

    @property
    def rows(self) -> FloatArray | None:
        """The design's rows for the variance (None: from the cells)."""
        return None if self.x is None else self.design.x


def model_design(
    y: ArrayLike,
    x: ArrayLike | None,
    terms: Sequence[str] | None,
    cells: Cells | None,
    cross_product: ArrayLike | None,
    check_y: Callable[[FloatArray], None] | None = None,
) -> ModelDesign:
    """Check a model's outcome and design and make the design full rank.

    Without ``x`` the design is given by ``cells`` alone (:func:`full_rank_rows_or_cells`).
    ``check_y`` checks the outcome once it is known to be finite, before the rank.
    """
    if x is None:
        if cells is None:
            raise ValueError("a model needs the design x or its cells")
        y_arr, x_arr = as_cells_design(y, cells), None
        names = term_names(terms, cells.table.shape[1])
    else:
        y_arr, x_arr = as_design(y, x, cells)
        names = term_names(terms, x_arr.shape[1])
    if check_y is not None:
        check_y(y_arr)
    design, rows = full_rank_rows_or_cells(x_arr, cells, names, cross_product)
    if rows is None:
        return ModelDesign(y_arr, None, names, design, cells)
    return ModelDesign(y_arr, rows, names, design, usable_cells(cells, design, y_arr.shape[0]))


def full_rank_rows_or_cells(
    x: FloatArray | None,
    cells: Cells | None,
    terms: Sequence[str],
    cross_product: ArrayLike | None,
) -> tuple[FullRankDesign, FloatArray | None]:
    """The full-rank design of the rows ``x``, or without them of ``cells`` (its rank, bread
    and sums from their table: no n x k matrix); and the rows, gathered from the cells only
    for a design with an offset column to centre (None when the design is the cells')."""
    if x is None:
        if cells is None:
            raise ValueError("a design needs its rows or its cells")
        from_cells = full_rank_cells(cells, terms, cross_product)
        if from_cells is not None:
            return from_cells, None
        x = cells.rows(cells.table)
    return full_rank_design(x, terms, cross_product=cross_product), x


def solve_least_squares(x: FloatArray, y: FloatArray, bread: FloatArray) -> FloatArray:
    """OLS coefficients from ``(X'X)^{-1} X'y`` with one step of iterative refinement."""
    beta = bread @ (x.T @ y)
    return np.asarray(beta + bread @ (x.T @ (y - x @ beta)))


def solve_least_squares_cells(cells: Cells, y: FloatArray, bread: FloatArray) -> FloatArray:
    """:func:`solve_least_squares` from per-cell totals (``X'r = T' (sums of r per cell)``)."""
    table = cells.table
    beta = bread @ (table.T @ cells.sums(y))
    return np.asarray(beta + bread @ (table.T @ cells.sums(y - cells.rows(table @ beta))))


def _unclustered_vcov(
    x: FloatArray | None,
    bread: FloatArray,
    resid: FloatArray,
    se_type: str,
    cells: Cells | None = None,
) -> FloatArray:
    """HC0, HC1 (n/(n-k)) or HC2 (e_i^2 / (1 - h_ii)) sandwich; MacKinnon & White (1985).

    With ``cells`` the leverage is one per cell and the squared residuals are summed per
    cell, so the meat is ``T' diag(w_c) T``: the same sum over rows, grouped by cell (``x``
    is then not used, and may be None).
    """
    n, k = design_shape(x, cells)
    rows = x if cells is None else cells.table
    weights = resid * resid if cells is None else cells.sums(resid * resid)
    assert rows is not None
    if se_type == "HC2":
        one_minus_h = 1.0 - np.einsum("ik,ik->i", rows @ bread, rows)
        # A leverage-one row has a zero residual; estimatr gives NaN there, we give it weight 0.
        ok = one_minus_h > cr2.EIGEN_TOLERANCE
        weights = np.where(ok, weights / np.where(ok, one_minus_h, 1.0), 0.0)
    vcov = bread @ ((rows * weights[:, None]).T @ rows) @ bread
    return vcov * (n / (n - k)) if se_type == "HC1" else vcov


def design_shape(x: FloatArray | None, cells: Cells | None) -> tuple[int, int]:
    """``(n, k)`` of the design given as ``x`` or, when ``x`` is None, by its ``cells``."""
    if x is not None:
        return int(x.shape[0]), int(x.shape[1])
    if cells is None:
        raise ValueError("a design needs its rows or its cells")
    return int(cells.codes.shape[0]), int(cells.table.shape[1])


def check_clusters(clusters: cr2.Clusters, n: int) -> cr2.Clusters:
    """The cluster labels (or prebuilt :class:`cr2.ClusterBlocks`), checked to be one per row."""
    if isinstance(clusters, cr2.ClusterBlocks):
        size = clusters.codes.shape
    else:
        size = np.shape(np.asarray(clusters))
    if size != (n,):
        raise ValueError(f"clusters must have shape ({n},), got {size}")
    return clusters


@dataclass(frozen=True)
class _Variance:
    vcov: FloatArray
    df: tuple[float | None, ...]
    n_clusters: int | None
    classical_se: FloatArray


def robust_variance(
    x: FloatArray | None,
    bread: FloatArray,
    resid: FloatArray,
    clusters: cr2.Clusters | None,
    se_type: str,
    df_columns: Sequence[int],
    transform: FloatArray | None = None,
    cells: Cells | None = None,
) -> _Variance:
    """Sandwich variance and per-coefficient df as estimatr computes them.

    ``x`` and ``bread`` may be a reparametrised design ``X A`` (offset columns centred);
    ``transform`` is then ``A`` and the variance is returned for ``beta = A beta_c``. The
    sandwich, the hat matrix and so the CR2 adjustments depend only on the column space, so
    this equals the variance computed on the caller's design, without its rounding error.
    With ``cells`` (and no ``transform``) ``x`` may be None: the rows come from the cells.
    """
    n, k = design_shape(x, cells)
    back = np.eye(k) if transform is None else transform
    sigma2 = float(resid @ resid) / (n - k)
    classical = np.sqrt(np.einsum("ij,jk,ik->i", back, bread, back) * sigma2)
    if clusters is None:
        if se_type not in UNCLUSTERED_TYPES:
            raise ValueError(f"se_type {se_type!r} without clusters; use {UNCLUSTERED_TYPES}")
        vcov = _unclustered_vcov(x, bread, resid, se_type, cells)
        return _Variance(back @ vcov @ back.T, (float(n - k),) * k, None, classical)
    if se_type not in CLUSTERED_TYPES:
        raise ValueError(f"se_type {se_type!r} with clusters; use one of {CLUSTERED_TYPES}")
    blocks = cr2.cluster_blocks(check_clusters(clusters, n))
    g = blocks.n_clusters
    if g < 2:
        raise ValueError("cluster-robust standard errors need at least 2 clusters")
    if se_type != "CR2":
        x_blocks = tuple(cr2.gather_rows(x, cells, rows) for rows in blocks.rows)
        meat = cr2.cluster_meat(x_blocks, cr2.residual_blocks(resid, blocks))
        vcov = bread @ meat @ bread
        if se_type == "stata":
            vcov = vcov * (g * (n - 1)) / ((g - 1) * (n - k))
        return _Variance(back @ vcov @ back.T, (float(g - 1),) * k, g, classical)
    work = cr2.cr2_work(x, bread, blocks, cells)
    vcov = bread @ cr2.cr2_meat(work, resid, blocks) @ bread
    wanted = sorted(set(df_columns))
    # Coefficient j of beta = A beta_c is the contrast A' e_j of beta_c.
    dfs = cr2.bell_mccaffrey_df(work, bread, back.T[:, wanted])
    df_of = dict(zip(wanted, dfs, strict=True))
    df = tuple(df_of.get(j) for j in range(k))
    return _Variance(back @ vcov @ back.T, df, g, classical)


def coefficient(
    term: str,
    estimate: float,
    variance: float,
    df: float | None,
    alpha: float,
    classical_se: float = 0.0,
) -> Coefficient:
    """t-based inference for one coefficient (``estimate / se`` on ``df`` degrees of freedom).

    A robust SE that is 0, or negligible beside the classical SE ``classical_se``, carries
    no information (for example one cluster per arm: within-cluster residuals sum to zero),
    so no test or interval is reported for it.
    """
    se = float(np.sqrt(max(variance, 0.0)))
    if se == 0.0 or se <= DEGENERATE_SE_RATIO * classical_se:
        note = (
            "robust standard error is degenerate (about 0): the term does not vary within "
            "enough clusters, e.g. one cluster per arm; no test or interval"
        )
        return Coefficient(term, estimate, se, None, None, None, None, None, note)
    if df is None or not df > 0.0:
        return Coefficient(term, estimate, se, None, estimate / se, None, None, None, DF_UNDEFINED)
    t = estimate / se
    crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    p = float(2.0 * stats.t.sf(abs(t), df))
    return Coefficient(term, estimate, se, df, t, p, estimate - crit * se, estimate + crit * se)


def assemble_fit(
    terms: Sequence[str],
    beta: FloatArray,
    variance: _Variance,
    se_type: str,
    alpha: float,
    n_obs: int,
) -> RobustFit:
    """Bundle coefficients and variance into a :class:`RobustFit`."""
    diag = np.diag(variance.vcov)
    classical = variance.classical_se
    coefs = tuple(
        coefficient(t, float(beta[j]), float(diag[j]), variance.df[j], alpha, float(classical[j]))
        for j, t in enumerate(terms)
    )
    return RobustFit(coefs, se_type, alpha, n_obs, variance.n_clusters, variance.vcov)


def resolve_df_columns(terms: Sequence[str], df_terms: Sequence[str] | None) -> list[int]:
    """Indices of the terms needing Bell-McCaffrey df (all when ``df_terms`` is None)."""
    if df_terms is None:
        return list(range(len(terms)))
    missing = [t for t in df_terms if t not in terms]
    if missing:
        raise ValueError(f"df_terms not in the design: {', '.join(missing)}")
    return [terms.index(t) for t in df_terms]


def lm_robust(
    y: ArrayLike,
    x: ArrayLike | None,
    *,
    terms: Sequence[str] | None = None,
    clusters: cr2.Clusters | None = None,
    se_type: str | None = None,
    alpha: float = 0.05,
    df_terms: Sequence[str] | None = None,
    cross_product: ArrayLike | None = None,
    cells: Cells | None = None,
) -> RobustFit:
    """OLS with heteroskedasticity- or cluster-robust standard errors (``estimatr::lm_robust``).

    Parameters
    ----------
    y : array of shape (n,)
        Outcome (0/1 for a linear probability model).
    x : array of shape (n, k), or None with ``cells``
        Full-rank design including the intercept column; see
        :func:`analysis.stats.design.build_design`, which drops aliased columns. Rank is
        decided on the centred design (:func:`analysis.stats.rank.column_rank`), so a
        covariate with a large offset is accepted and centred internally; every coefficient,
        the intercept included, is reported for the columns as given.
    terms : names of the k columns.
    clusters : array of shape (n,), optional
        Cluster labels (any hashable values). Defaults the SE type to CR2.
    se_type : {"HC0", "HC1", "HC2", "CR0", "CR2", "stata"}, optional
        ``HC2`` without clusters and ``CR2`` with clusters by default, as estimatr.
        HC types use df ``n - k``; CR0 and stata use df ``G - 1``; CR2 uses Bell-McCaffrey df.
    alpha : float
        Two-sided level of the t intervals.
    df_terms : terms whose CR2 df to compute (default: all). Others get ``df=None``.
    cross_product : ``x.T @ x`` if already computed (e.g. ``DesignMatrix.cross_product``),
        to save one pass over a large design; trusted as given.
    cells : the rows' cells when every column is the intercept or an indicator
        (``DesignMatrix.cells``; trusted as given): the coefficients and, without clusters,
        the HC sandwich are then summed per cell (:mod:`analysis.stats.cells`). The same
        figures, to rounding. ``x`` may then be None: the rows are gathered from the cells
        only for a design with an offset column to centre.

    Returns
    -------
    RobustFit

    Raises
    ------
    ValueError
        For mismatched shapes, non-finite values, a zero, constant or collinear column, or
        fewer than two clusters.

    References
    ----------
    MacKinnon JG, White H (1985) J Econometrics 29:305-325 (HC2). Bell RM, McCaffrey DF
    (2002) Survey Methodology 28:169-181. Pustejovsky JE, Tipton E (2018) J Bus Econ Stat
    36:672-683. Blair G et al., estimatr 1.0 "Mathematical notes".
    """
    model = model_design(y, x, terms, cells, cross_product)
    y_arr, names, design, by_cell = model.y, model.names, model.design, model.cells
    kind = se_type or ("HC2" if clusters is None else "CR2")
    if by_cell is None:
        beta = solve_least_squares(design.x, y_arr, design.bread)
        resid = y_arr - design.x @ beta
    else:
        beta = solve_least_squares_cells(by_cell, y_arr, design.bread)
        resid = y_arr - by_cell.rows(by_cell.table @ beta)
    transform = design.transform
    wanted = resolve_df_columns(names, df_terms)
    variance = robust_variance(
        model.rows, design.bread, resid, clusters, kind, wanted, transform, by_cell
    )
    beta = beta if transform is None else transform @ beta
    return assemble_fit(names, beta, variance, kind, alpha, y_arr.shape[0])
