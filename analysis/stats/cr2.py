"""Cluster-robust variance blocks: CR0, CR2 and Bell-McCaffrey degrees of freedom, vectorised.

Clusters are grouped by size; every cluster of one size is handled in one stacked numpy
call (batched ``eigh`` for the CR2 adjustment matrices), so the cost is O(N k^2) with no
Python loop over clusters and no N x N or G x G matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

from analysis.stats._types import ArrayLike, FloatArray, IntArray
from analysis.stats.cells import Cells

# estimatr's threshold: eigenvalues of (I - H_gg) at or below it are treated as zero.
EIGEN_TOLERANCE = 1e-12


@dataclass(frozen=True)
class ClusterBlocks:
    """Rows grouped by cluster size: ``rows[i]`` is ``(clusters of size sizes[i], size)``.

    ``codes`` gives each row's cluster as 0..n_clusters-1. Build it once with
    :func:`cluster_blocks` and pass it as ``clusters`` to every model on the same rows.
    """

    sizes: tuple[int, ...]
    rows: tuple[IntArray, ...]
    n_clusters: int
    codes: IntArray


# Cluster labels, one per row, or the same already grouped by :func:`cluster_blocks`.
Clusters: TypeAlias = "ArrayLike | ClusterBlocks"


def cluster_codes(clusters: Clusters) -> tuple[IntArray, int]:
    """Each row's cluster as an integer code, and the number of clusters."""
    if isinstance(clusters, ClusterBlocks):
        return clusters.codes, clusters.n_clusters
    codes = np.asarray(pd.factorize(np.asarray(clusters), use_na_sentinel=False)[0])
    return codes, int(codes.max()) + 1 if codes.size else 0


def cluster_blocks(clusters: Clusters) -> ClusterBlocks:
    """Group row indices by cluster, and clusters by size, for batched linear algebra."""
    if isinstance(clusters, ClusterBlocks):
        return clusters
    codes, n_clusters = cluster_codes(clusters)
    counts = np.bincount(codes, minlength=n_clusters)
    row_size = counts[codes]
    # Rows by cluster size, then cluster, then row: one stable sort of one combined key (the
    # same order as np.lexsort((codes, row_size)), in one pass instead of two).
    key = row_size.astype(np.int64) * max(n_clusters, 1) + codes
    order = np.argsort(key, kind="stable")
    sorted_sizes = row_size[order]
    sizes = np.flatnonzero(np.bincount(counts))
    sizes = sizes[sizes > 0]
    starts = np.searchsorted(sorted_sizes, sizes, side="left")
    ends = np.searchsorted(sorted_sizes, sizes, side="right")
    rows = tuple(
        order[start:end].reshape(-1, int(size))
        for size, start, end in zip(sizes, starts, ends, strict=True)
    )
    return ClusterBlocks(tuple(int(s) for s in sizes), rows, n_clusters, codes)


def _inverse_sqrt(eigenvalues: FloatArray) -> FloatArray:
    safe = np.where(eigenvalues > EIGEN_TOLERANCE, eigenvalues, 1.0)
    return np.where(eigenvalues > EIGEN_TOLERANCE, 1.0 / np.sqrt(safe), 0.0)


@dataclass(frozen=True)
class SingleCells:
    """Clusters of one row, grouped by the design's cells (:mod:`analysis.stats.cells`).

    A one-row cluster's ``A_g`` is ``(1 - h)^{-1/2}`` with ``h`` its cell's leverage, so every
    sum over such clusters (the meat, the df traces) is a sum over cells of per-cell totals.
    ``rows`` are the clusters' rows, ``codes`` their cells, ``counts`` how many fall in each
    cell, ``table`` the cells' design rows and ``a`` each cell's ``(1 - h)^{-1/2}``.
    """

    rows: IntArray
    codes: IntArray
    counts: FloatArray
    table: FloatArray
    a: FloatArray


@dataclass(frozen=True)
class CR2Work:
    """Per-size stacks of ``X_g`` and ``A_g = (I - H_gg)^{-1/2}`` (pseudo-inverse root).

    ``rows`` are the stacks' rows (``ClusterBlocks.rows``, less the one-row clusters when
    ``singles`` holds them per cell).
    """

    x_blocks: tuple[FloatArray, ...]
    a_blocks: tuple[FloatArray, ...]
    rows: tuple[IntArray, ...] = ()
    singles: SingleCells | None = None


def gather_rows(x: FloatArray | None, cells: Cells | None, rows: IntArray) -> FloatArray:
    """The design rows ``rows`` (any shape of indices) from ``x``, or from the cells' table."""
    if x is not None:
        return np.asarray(x[rows])
    if cells is None:
        raise ValueError("a design needs its rows or its cells")
    return np.asarray(cells.table[cells.codes[rows]])


def cr2_work(
    x: FloatArray | None, bread: FloatArray, blocks: ClusterBlocks, cells: Cells | None = None
) -> CR2Work:
    """Compute the CR2 adjustment matrices for every cluster, one batched call per size.

    With ``cells`` (the rows' cells, whose table gives ``x``), the one-row clusters are
    handled per cell (:class:`SingleCells`): the same figures, with k x k work per cell
    instead of per cluster; ``x`` may then be None (other clusters' rows come from the table).

    References
    ----------
    Bell RM, McCaffrey DF (2002) Survey Methodology 28:169-181. Pustejovsky JE, Tipton E
    (2018) J Bus Econ Stat 36:672-683 (with working model I, as estimatr::lm_robust).
    """
    x_blocks = []
    a_blocks = []
    used = []
    singles = None
    for size, rows in zip(blocks.sizes, blocks.rows, strict=True):
        if size == 1 and cells is not None:
            single = rows[:, 0]
            codes = cells.codes[single]
            counts = np.bincount(codes, minlength=cells.n_cells).astype(np.float64)
            leverage = np.einsum("ck,ck->c", cells.table @ bread, cells.table)
            a_cell = _inverse_sqrt(1.0 - leverage)
            singles = SingleCells(single, codes, counts, cells.table, a_cell)
            continue
        used.append(rows)
        # From the cells' table when there is one: the same rows, gathered from a small table.
        xs = gather_rows(None if cells is not None else x, cells, rows)
        # One 2-D product for the whole stack, not one tiny product per cluster.
        xb = (xs.reshape(-1, xs.shape[2]) @ bread).reshape(xs.shape)
        if size == 1:
            leverage = np.einsum("gik,gik->g", xb, xs)
            a = _inverse_sqrt(1.0 - leverage)[:, None, None]
        elif size == 2:
            a = _inverse_sqrt_pairs(np.eye(2) - np.einsum("gik,gjk->gij", xb, xs))
        else:
            a = _inverse_sqrt_stack(np.eye(size) - np.einsum("gik,gjk->gij", xb, xs))
        x_blocks.append(xs)
        a_blocks.append(a)
    return CR2Work(tuple(x_blocks), tuple(a_blocks), tuple(used), singles)


def _inverse_sqrt_stack(m: FloatArray) -> FloatArray:
    """``M^{-1/2}`` (pseudo-inverse root) of each symmetric matrix of a stack, by ``eigh``."""
    values, vectors = np.linalg.eigh(m)
    scaled = vectors * _inverse_sqrt(values)[:, None, :]
    return np.asarray(np.einsum("gik,gjk->gij", scaled, vectors))


# A 2 x 2 matrix whose smaller eigenvalue is above this is inverted in closed form.
CLOSED_FORM_FLOOR = 1e-3


def _inverse_sqrt_pairs(m: FloatArray) -> FloatArray:
    """:func:`_inverse_sqrt_stack` for 2 x 2 matrices, in closed form where well conditioned.

    With eigenvalues ``l1 >= l2 > 0``, ``s = sqrt(l1 l2)`` and ``t = sqrt(l1) + sqrt(l2)``,
    ``M^{1/2} = (M + s I) / t`` (Higham 2008, Functions of Matrices, section 6.1), so
    ``M^{-1/2} = t (M + s I)^{-1}``: a few operations per cluster instead of a LAPACK call.
    Where ``l2`` is at most ``CLOSED_FORM_FLOOR`` (near-singular, leverage near one),
    ``eigh`` decides as for larger clusters.
    """
    m00, m01, m11 = m[:, 0, 0], 0.5 * (m[:, 0, 1] + m[:, 1, 0]), m[:, 1, 1]
    mean = 0.5 * (m00 + m11)
    spread = np.hypot(0.5 * (m00 - m11), m01)
    large = mean + spread
    det = m00 * m11 - m01 * m01
    small = np.divide(det, large, out=np.zeros_like(det), where=large > 0.0)
    well = small > CLOSED_FORM_FLOOR
    out = np.empty_like(m)
    if well.any():
        root = np.sqrt(large[well] * small[well])
        scale = np.sqrt(large[well]) + np.sqrt(small[well])
        n00, n11, n01 = m00[well] + root, m11[well] + root, m01[well]
        factor = scale / (n00 * n11 - n01 * n01)
        out[well, 0, 0] = factor * n11
        out[well, 1, 1] = factor * n00
        out[well, 0, 1] = out[well, 1, 0] = -factor * n01
    if not well.all():
        out[~well] = _inverse_sqrt_stack(m[~well])
    return out


def _apply(a: FloatArray, v: FloatArray) -> FloatArray:
    if a.shape[1] == 1:
        return a[:, :, 0] * v
    return np.einsum("gij,gj->gi", a, v)


def cluster_meat(
    x_blocks: tuple[FloatArray, ...],
    resid_blocks: tuple[FloatArray, ...],
) -> FloatArray:
    """Return ``sum_g (X_g' e_g)(X_g' e_g)'`` over clusters given per-size residual stacks."""
    if not x_blocks:
        raise ValueError("no clusters to sum over")
    k = x_blocks[0].shape[2]
    meat = np.zeros((k, k))
    for xs, es in zip(x_blocks, resid_blocks, strict=True):
        scores = np.einsum("gsk,gs->gk", xs, es)
        meat += scores.T @ scores
    return meat


def residual_blocks(resid: FloatArray, blocks: ClusterBlocks) -> tuple[FloatArray, ...]:
    """Residuals gathered into the per-size ``(clusters, size)`` stacks."""
    return tuple(resid[rows] for rows in blocks.rows)


def cr2_meat(work: CR2Work, resid: FloatArray, blocks: ClusterBlocks) -> FloatArray:
    """CR2 meat ``sum_g X_g' A_g e_g e_g' A_g X_g``."""
    rows = work.rows if work.rows or work.singles is not None else blocks.rows
    adjusted = tuple(_apply(a, resid[r]) for a, r in zip(work.a_blocks, rows, strict=True))
    single = work.singles
    if single is None:
        return cluster_meat(work.x_blocks, adjusted)
    # A one-row cluster adds (a_c e_i)^2 x_c x_c': summed per cell, then one k x k product.
    scaled = single.a[single.codes] * resid[single.rows]
    weight = np.bincount(single.codes, weights=scaled * scaled, minlength=len(single.counts))
    meat = np.asarray(single.table.T @ (single.table * weight[:, None]))
    return meat + cluster_meat(work.x_blocks, adjusted) if work.x_blocks else meat


# Clusters per chunk in the df computation: bounds the (chunk, k, terms) work arrays.
DF_CHUNK = 8_192


def bell_mccaffrey_df(
    work: CR2Work, bread: FloatArray, contrasts: FloatArray
) -> tuple[float | None, ...]:
    """Satterthwaite degrees of freedom for linear combinations of coefficients under CR2.

    ``contrasts`` is k x m; its column is a contrast ``c`` (``e_j`` for coefficient j itself;
    another vector when the design was reparametrised, e.g. the intercept of a design whose
    offset covariates were centred). With ``b = (X'X)^{-1} c``, ``u_g = A_g X_g b`` and ``G``
    the N x J matrix whose column g is ``u_g`` on cluster g's rows, the df is
    ``tr(M)^2 / tr(M^2)`` for ``M = G'(I - H)G = D - W B W'``, where ``D = diag(|u_g|^2)``,
    ``W`` has rows ``(X_g' u_g)'`` and ``B = (X'X)^{-1}``. Both traces reduce to k x k
    products:
    ``tr M = sum d_g - tr(B W'W)`` and
    ``tr M^2 = sum d_g^2 - 2 tr(B W'DW) + tr((B W'W)^2)``, so no N x N or J x J matrix is
    formed. A df is ``None`` when ``tr(M^2)`` is not positive (undefined).

    References
    ----------
    Bell RM, McCaffrey DF (2002) Survey Methodology 28:169-181, section 3.
    Pustejovsky JE, Tipton E (2018) J Bus Econ Stat 36:672-683, equation (11).
    """
    if contrasts.shape[1] == 0:
        return ()
    b = bread @ contrasts
    m, k = contrasts.shape[1], bread.shape[0]
    sum_d, sum_d2 = np.zeros(m), np.zeros(m)
    wtw, wtdw = np.zeros((m, k, k)), np.zeros((m, k, k))
    for xs_all, a_all in zip(work.x_blocks, work.a_blocks, strict=True):
        for start in range(0, xs_all.shape[0], DF_CHUNK):
            xs, a = xs_all[start : start + DF_CHUNK], a_all[start : start + DF_CHUNK]
            u = _apply_many(a, (xs.reshape(-1, xs.shape[2]) @ b).reshape(*xs.shape[:2], -1))
            d = np.einsum("gsj,gsj->jg", u, u)
            # w[j] stacks the rows (X_g' u_g)' for coefficient j; (terms, clusters, k).
            w = np.ascontiguousarray(np.matmul(xs.transpose(0, 2, 1), u).transpose(2, 0, 1))
            weighted = w * np.sqrt(d)[:, :, None]
            sum_d += d.sum(axis=1)
            sum_d2 += np.einsum("jg,jg->j", d, d)
            for j in range(m):
                wtw[j] += w[j].T @ w[j]
                wtdw[j] += weighted[j].T @ weighted[j]
    out: list[float | None] = []
    if work.singles is not None:
        # A one-row cluster in cell c has u = a_c x_c' b, d = u^2 and w = x_c u: the sums of
        # d, d^2, w w' and d w w' are per-cell values weighted by the cell's count.
        single = work.singles
        u = single.a[:, None] * (single.table @ b)  # (cells, m)
        d = u * u
        sum_d += single.counts @ d
        sum_d2 += single.counts @ (d * d)
        for j in range(m):
            wtw[j] += single.table.T @ (single.table * (single.counts * d[:, j])[:, None])
            wtdw[j] += single.table.T @ (single.table * (single.counts * d[:, j] ** 2)[:, None])
    for j in range(m):
        bw = bread @ wtw[j]
        trace_m = sum_d[j] - float(np.sum(bread * wtw[j]))
        trace_m2 = sum_d2[j] - 2.0 * float(np.sum(bread * wtdw[j])) + float(np.sum(bw * bw.T))
        out.append(float(trace_m * trace_m / trace_m2) if trace_m2 > 0.0 else None)
    return tuple(out)


def _apply_many(a: FloatArray, v: FloatArray) -> FloatArray:
    """``A_g V_g`` for stacked ``V`` of shape (clusters, size, terms)."""
    if a.shape[1] == 1:
        return a[:, :, :1] * v
    return np.matmul(a, v)
