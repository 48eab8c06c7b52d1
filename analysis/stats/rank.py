"""Which design columns are linearly independent, decided on the centred design as R's lm would.

R's ``lm`` and ``glm`` keep a column when it is not an exact linear combination of the columns
before it in the formula, and drop ("alias", coefficient ``NA``) the rest. We decide the same
greedy question, in a caller-given priority order (so the same columns go when the order is
R's formula order), with three differences that matter for trial designs:

* **Centred.** With a constant column (the intercept) in the design, every other column is
  judged on its centred values, i.e. on the correlation matrix. A covariate with a large offset
  (a date as YYYYMMDD, ~2.0e7 with a spread of a few hundred) is well conditioned once centred,
  so it is never called collinear; the uncentred ``X'X`` would see it as almost a multiple of
  the intercept.
* **Cheap.** The centred cross-product is ``C = X'X - n m m'`` from the ``X'X`` the model
  computes anyway (``m`` the column means). That subtraction loses about
  ``log10(1 + m_j^2 / s_j^2)`` digits for column ``j`` (``s_j`` its standard deviation), so for
  columns whose mean exceeds ten standard deviations the products are recomputed exactly from
  centred values in row chunks (``O(n k)`` per such column, no ``n x k`` temporary).
* **Documented tolerance.** Column ``j`` is aliased when ``1 - R^2_j <= RANK_TOLERANCE``, with
  ``R^2_j`` from regressing it (centred) on the columns already kept: a variance inflation
  factor above 1e10. This is the pivot of a sequential Cholesky factorisation of the
  correlation matrix in priority order. R's ``dqrdc2`` (``tol = 1e-7``) drops a column whose
  norm after projecting out the columns before it is below 1e-7 of its raw, uncentred norm:
  about 1e-14 on ``1 - R^2`` for a centred column, but for a column far from zero it drops
  what is merely offset (a date whose spread is below ~1e-7 of its value). A Gram matrix
  cannot resolve 1e-14, and a column with a variance inflation factor between 1e10 and 1e14
  carries no usable information in either program.

A column whose centred sum of squares is below ``CONSTANT_TOLERANCE`` times its raw sum of
squares is constant (aliased with the intercept), and an all-zero column is aliased always.

References
----------
Chambers JM (1992) Linear models, ch. 4 in Statistical Models in S (aliasing, pivoting).
Golub GH, Van Loan CF (2013) Matrix Computations, 4th ed., sections 4.2 (Cholesky) and 5.4
(rank-revealing QR). Higham NJ (2002) Accuracy and Stability of Numerical Algorithms, 2nd ed.,
section 1.9 (cancellation in the one-pass variance formula).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg

from analysis.stats._types import FloatArray

# A column is aliased when 1 - R^2 on the columns kept before it is at most this.
RANK_TOLERANCE = 1e-10
# A centred sum of squares below this fraction of the raw one is a constant column.
CONSTANT_TOLERANCE = 1e-20
# Columns with mean^2 above this multiple of their variance get exactly centred products.
EXACT_CENTRING_RATIO = 1e2
# ... and above this multiple are centred before estimation (see :class:`Centring`).
OFFSET_RATIO = 1e4
ROW_CHUNK = 32_768


@dataclass(frozen=True)
class Centring:
    """Offset columns to centre before estimation, and how to map coefficients back.

    The centred design is ``X_c = X A`` with ``A = I - sum_j (m_j / v) e_c e_j'`` (column
    ``c`` the constant column with value ``v``, ``m_j`` the mean of offset column ``j``). Its
    coefficients satisfy ``beta = A beta_c`` and ``Var(beta) = A Var(beta_c) A'``: only the
    intercept changes, so every other estimate, standard error and df is the same in both.
    """

    intercept: int
    intercept_value: float
    columns: tuple[int, ...]
    means: tuple[float, ...]

    def apply(self, x: FloatArray, *, overwrite: bool = False) -> FloatArray:
        """``X`` with the offset columns centred (a copy unless ``overwrite``)."""
        out = x if overwrite else x.copy()
        for j, mean in zip(self.columns, self.means, strict=True):
            out[:, j] -= mean
        return out

    def transform(self, k: int) -> FloatArray:
        """The k x k matrix ``A`` with ``beta = A beta_c``."""
        a = np.eye(k)
        for j, mean in zip(self.columns, self.means, strict=True):
            a[self.intercept, j] = -mean / self.intercept_value
        return a


@dataclass(frozen=True)
class ColumnRank:
    """Result of :func:`column_rank`.

    ``independent`` lists the kept columns in their original order; ``aliased`` the dropped
    ones in priority order; ``intercept`` the constant column used for centring (``None``
    without one); ``centring`` the offset columns to centre before estimation, if any.
    """

    independent: tuple[int, ...]
    aliased: tuple[int, ...]
    intercept: int | None
    centring: Centring | None = field(default=None, compare=False)


def column_rank(
    x: FloatArray,
    *,
    priority: Sequence[int] | None = None,
    cross_product: FloatArray | None = None,
    counts: FloatArray | None = None,
) -> ColumnRank:
    """Decide which columns of ``x`` are linearly independent, walking them in ``priority``.

    Parameters
    ----------
    x : design of shape (n, k), finite.
    priority : a permutation of ``range(k)``: columns earlier in it are kept in preference
        to later ones (default: column order). The first constant non-zero column in it is the
        intercept.
    cross_product : ``x.T @ x`` if the caller already has it (it is not recomputed).
    counts : when ``x`` is a table of distinct design rows (:mod:`analysis.stats.cells`), how
        many rows each stands for (each at least one): the rank is then that of the design of
        all those rows, decided from the table (``cross_product`` is then that design's
        ``X'X``, which is required).

    Returns
    -------
    ColumnRank
    """
    k = x.shape[1]
    n = x.shape[0] if counts is None else float(np.sum(counts))
    order = list(range(k)) if priority is None else [int(j) for j in priority]
    if sorted(order) != list(range(k)):
        raise ValueError(f"priority must be a permutation of the {k} columns")
    if counts is not None and cross_product is None:
        raise ValueError("a table of cells needs the cross-product of the rows it stands for")
    gram = x.T @ x if cross_product is None else cross_product
    intercept = _intercept(x, gram, order, n)
    if intercept is None:
        norms = np.sqrt(np.diag(gram))
        usable = norms > 0.0
        safe = np.where(usable, norms, 1.0)
        aliased, kept = _walk(gram / np.outer(safe, safe), order, usable)
        return ColumnRank(tuple(sorted(kept)), tuple(aliased), None)
    value = float(x[0, intercept])
    means = gram[:, intercept] / (value * n)
    centred, refined = _centred_cross_product(x, gram, means, intercept, n, counts)
    usable = np.diag(centred) > CONSTANT_TOLERANCE * np.diag(gram)
    usable[intercept] = False
    scale = np.sqrt(np.where(usable, np.diag(centred), 1.0))
    walk_order = [j for j in order if j != intercept]
    aliased, kept = _walk(centred / np.outer(scale, scale), walk_order, usable)
    offset = [j for j in kept if refined[j] * refined[j] * n > OFFSET_RATIO * centred[j, j]]
    centring = None
    if offset:
        centring = Centring(
            intercept, value, tuple(offset), tuple(float(refined[j]) for j in offset)
        )
    return ColumnRank(tuple(sorted([intercept, *kept])), tuple(aliased), intercept, centring)


def _intercept(x: FloatArray, gram: FloatArray, order: Sequence[int], n: float) -> int | None:
    """The first column in ``order`` whose values are all equal and non-zero (``n`` rows)."""
    for j in order:
        first = float(x[0, j])
        # sum x^2 = n x_0^2 is necessary for a constant column; the exact check is then cheap.
        if first != 0.0 and abs(gram[j, j] - n * first * first) <= 1e-8 * gram[j, j]:
            if np.all(x[:, j] == first):
                return j
    return None


def _centred_cross_product(
    x: FloatArray,
    gram: FloatArray,
    means: FloatArray,
    intercept: int,
    n: float,
    counts: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """``X'X - n m m'``, with exact centred products for columns whose offset needs them.

    Returns the centred cross-product and the column means (refined by one correction pass
    for the exactly centred columns, whose raw means carry the same cancellation). With
    ``counts``, ``x`` is a table whose row i stands for ``counts[i]`` rows of the design.
    """
    centred = gram - n * np.outer(means, means)
    variance = np.diag(centred) / n
    far = (means * means > EXACT_CENTRING_RATIO * variance) & (means != 0.0)
    far[intercept] = False
    exact = np.flatnonzero(far)
    refined = means.copy()
    if exact.size == 0:
        return centred, refined
    shift = means[exact]
    products = np.zeros((x.shape[1], exact.size))
    inner = np.zeros((exact.size, exact.size))
    sums = np.zeros(exact.size)
    for start in range(0, x.shape[0], ROW_CHUNK):
        rows = x[start : start + ROW_CHUNK]
        deviations = rows[:, exact] - shift
        if counts is None:
            products += rows.T @ deviations
            inner += deviations.T @ deviations
            sums += deviations.sum(axis=0)
        else:
            weighted = deviations * counts[start : start + ROW_CHUNK, None]
            products += rows.T @ weighted
            inner += deviations.T @ weighted
            sums += weighted.sum(axis=0)
    # sum (x_i - m_i)(x_j - s_j) = x_i'(x_j - s_j) - m_i sum(x_j - s_j), exactly centred in i;
    # for two shifted columns, subtracting sums_i sums_j / n removes the shifts' own error.
    block = products - np.outer(means, sums)
    block[exact] = inner - np.outer(sums, sums) / n
    centred[:, exact] = block
    centred[exact, :] = block.T
    refined[exact] = shift + sums / n
    return centred, refined


def _walk(
    correlation: FloatArray, order: Sequence[int], usable: np.ndarray
) -> tuple[list[int], list[int]]:
    """Sequential Cholesky in ``order``: (aliased columns in order, kept columns)."""
    factor = np.zeros((len(order), len(order)))
    kept: list[int] = []
    aliased: list[int] = []
    for j in order:
        if not usable[j]:
            aliased.append(j)
            continue
        m = len(kept)
        below = correlation[kept, j]
        row = linalg.solve_triangular(factor[:m, :m], below, lower=True) if m else below
        pivot = float(correlation[j, j] - row @ row)
        if pivot > RANK_TOLERANCE:
            factor[m, :m] = row
            factor[m, m] = np.sqrt(pivot)
            kept.append(j)
        else:
            aliased.append(j)
    return aliased, kept
