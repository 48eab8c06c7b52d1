"""Logistic regression for a binary outcome: odds ratios with Wald intervals.

Without clusters the standard errors are the model-based ones (inverse Fisher information,
as R ``summary.glm``) and intervals and p-values are normal-based Wald, as ``lmtest::coeftest``
gives for a glm. With clusters the standard errors are cluster-robust with the small-sample
factor ``G/(G-1) * (N-1)/(N-k)``, as Stata and R ``sandwich::vcovCL(type = "HC1")``, and the
Wald statistics are referred to t on ``G - 1`` degrees of freedom, as Stata does: with few
clusters the normal reference is too liberal (Cameron & Miller 2015, section VI). In R:
``lmtest::coeftest(fit, vcov = vcovCL(fit, cluster = ~unit, type = "HC1"), df = G - 1)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse, special, stats

from analysis.stats import cr2
from analysis.stats._types import ArrayLike, FloatArray
from analysis.stats.cells import Cells
from analysis.stats.regression import check_clusters, design_shape, model_design

# A fitted |log-odds| beyond this means the likelihood is flat along a separating direction.
# It is checked on the slopes and on the log-odds at the mean covariates, not on the intercept,
# which for a covariate far from zero (a district number) is large without any separation.
SEPARATION_LOG_ODDS = 20.0
MAX_ITERATIONS = 100
# Converged when the deviance changes by at most this, relative (R glm.fit uses 1e-8).
DEVIANCE_TOLERANCE = 1e-12
# ... or when no coefficient moves by more than this, relative to 1 + |beta|.
STEP_TOLERANCE = 1e-12
# Rows per chunk when accumulating k x k products: bounds the temporaries.
ROW_CHUNK = 32_768


@dataclass(frozen=True)
class OddsRatio:
    """One logistic coefficient on the odds-ratio scale, with a Wald interval.

    ``z`` is the Wald statistic ``log_odds / std_error``; ``df`` is ``None`` when it is
    referred to the normal distribution and ``G - 1`` when to t (clustered).
    """

    term: str
    log_odds: float
    std_error: float
    odds_ratio: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    df: float | None = None


@dataclass(frozen=True)
class LogisticFit:
    """Result of :func:`logistic_regression`; ``odds_ratios`` is empty when ``note`` says why."""

    odds_ratios: tuple[OddsRatio, ...]
    vcov_type: str
    alpha: float
    n_obs: int
    n_clusters: int | None
    note: str | None = None

    def coefficient(self, term: str) -> OddsRatio | None:
        """The named coefficient, or ``None`` if the model could not be fitted."""
        for c in self.odds_ratios:
            if c.term == term:
                return c
        return None


def _binary_columns(x: FloatArray) -> FloatArray:
    """True for each non-constant column whose values are all 0 or 1 (checked in row chunks)."""
    low, high = x.min(axis=0), x.max(axis=0)
    candidate = (low >= 0.0) & (high <= 1.0) & (high > low)
    # For values in [0, 1], x(1 - x) is 0 exactly at 0 and 1 and positive anywhere else.
    off = np.zeros(x.shape[1])
    for start in range(0, x.shape[0], ROW_CHUNK):
        rows = x[start : start + ROW_CHUNK]
        off += np.einsum("ik,ik->k", rows, 1.0 - rows)
    return np.asarray(candidate & (off == 0.0))


def _separation_note(
    y: FloatArray, x: FloatArray | None, terms: Sequence[str], cells: Cells | None = None
) -> str | None:
    """Name a 0/1 column within which every outcome is equal (quasi-complete separation).

    Counts come from column sums (``X'y`` and ``X'1``), exact for 0/1 data; with ``cells``
    from the cells' design rows and totals.
    """
    if np.all(y == y[0]):
        return "every participant had the same outcome; the odds ratio is not estimable"
    n, events = float(y.shape[0]), float(y.sum())
    if cells is None:
        assert x is not None, "the rows, when there are no cells"
        binary = _binary_columns(x)
        n_one, events_one = x.sum(axis=0), x.T @ y
    else:
        binary = _binary_columns(cells.table)
        n_one, events_one = cells.table.T @ cells.counts, cells.table.T @ cells.sums(y)
    for j in map(int, np.flatnonzero(binary)):
        for value, size, count in (
            (1.0, n_one[j], events_one[j]),
            (0.0, n - n_one[j], events - events_one[j]),
        ):
            if count == 0.0 or count == size:
                side = "" if value == 1.0 else "not "
                return (
                    f"perfect separation: all participants {side}in {terms[j]} had outcome "
                    f"{int(count > 0.0)}; the odds ratio is not estimable"
                )
    return None


def _information(x: FloatArray, weights: FloatArray) -> FloatArray:
    """``X' diag(w) X`` accumulated over row chunks (no N x k temporary)."""
    info = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, x.shape[0], ROW_CHUNK):
        rows = x[start : start + ROW_CHUNK]
        info += (rows * weights[start : start + ROW_CHUNK, None]).T @ rows
    return info


def _deviance(y: FloatArray, eta: FloatArray) -> float:
    """Binomial deviance ``-2 sum log P(y | eta)``, stable for large ``|eta|``."""
    return 2.0 * float(np.sum(np.logaddexp(0.0, np.where(y == 1.0, -eta, eta))))


def _cell_deviance(events: FloatArray, counts: FloatArray, eta: FloatArray) -> float:
    """:func:`_deviance` of 0/1 outcomes from each cell's events and count."""
    terms = events * np.logaddexp(0.0, -eta) + (counts - events) * np.logaddexp(0.0, eta)
    return 2.0 * float(np.sum(terms))


def _not_estimable(detail: str) -> str:
    return f"logistic model not estimable ({detail}); likely separation"


@dataclass(frozen=True)
class _Likelihood:
    """The sums a Newton step takes, over the rows or over the cells.

    Each function takes the linear predictor ``eta`` or the probability ``mu`` of each row of
    ``design``: the rows' design, or one design row per cell. Within a cell every row has the
    same linear predictor, so per cell the information is ``T' diag(n_c mu_c (1 - mu_c)) T``,
    the score ``T' (events_c - n_c mu_c)`` and the deviance the events' and non-events' terms
    weighted by their counts: the rows' sums, grouped differently.
    """

    design: FloatArray
    start: FloatArray | None  # the IRLS start; None when its information is singular
    information: Callable[[FloatArray], FloatArray]  # mu -> X' diag(mu (1 - mu)) X
    score: Callable[[FloatArray], FloatArray]  # mu -> X' (y - mu)
    deviance: Callable[[FloatArray], float]  # eta -> -2 log-likelihood
    per_row: Callable[[FloatArray], FloatArray]  # one value per design row -> one per row
    mean: Callable[[FloatArray], float]  # one value per design row -> its mean over the rows


def _irls_start(y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """statsmodels' and R's IRLS start ``mu = (y + 1/2) / 2``: its weights ``mu (1 - mu)``
    per row, and the weights times the working response."""
    mu = (y + 0.5) / 2.0
    weights = mu * (1.0 - mu)
    working = np.log(mu / (1.0 - mu)) + (y - mu) / weights
    return weights, weights * working


def _over_rows(y: FloatArray, x: FloatArray) -> _Likelihood:
    weights, weighted_working = _irls_start(y)
    return _Likelihood(
        design=x,
        start=_solve(_information(x, weights), x.T @ weighted_working),
        information=lambda mu: _information(x, mu * (1.0 - mu)),
        score=lambda mu: np.asarray(x.T @ (y - mu)),
        deviance=lambda eta: _deviance(y, eta),
        per_row=lambda values: values,
        mean=lambda eta: float(eta.mean()),
    )


def _over_cells(y: FloatArray, cells: Cells) -> _Likelihood:
    table, counts = cells.table, cells.counts
    events = cells.sums(y)
    weights, weighted_working = _irls_start(y)
    return _Likelihood(
        design=table,
        start=_solve(cells.cross(cells.sums(weights)), table.T @ cells.sums(weighted_working)),
        information=lambda mu: cells.cross(counts * mu * (1.0 - mu)),
        score=lambda mu: np.asarray(table.T @ (events - counts * mu)),
        deviance=lambda eta: _cell_deviance(events, counts, eta),
        per_row=cells.rows,
        mean=lambda eta: float(counts @ eta) / float(counts.sum()),
    )


def _fit(
    y: FloatArray, likelihood: _Likelihood, intercept: int | None
) -> tuple[FloatArray, FloatArray, FloatArray] | str:
    """Maximum likelihood by Newton-Raphson (= IRLS); returns (beta, covariance, p) or a note.

    The first step is statsmodels' and R's IRLS start (``mu = (y + 1/2) / 2``); then Newton
    steps ``beta += I^{-1} X'(y - mu)`` with a Cholesky factor of the k x k information
    ``I = X'WX``, until the deviance changes by at most ``DEVIANCE_TOLERANCE`` relative
    (R ``glm.fit``'s criterion, stricter) or the step is negligible. As in statsmodels and
    R, the last step is taken and the covariance is ``I^{-1}`` with the weights it used.
    The sums are the rows' or the cells' (:class:`_Likelihood`): the same steps either way.
    """
    design = likelihood.design
    beta = likelihood.start
    previous = np.inf
    for _ in range(MAX_ITERATIONS):
        if beta is None or not np.all(np.isfinite(beta)):
            return _not_estimable("the information matrix is singular")
        eta = design @ beta
        mu = special.expit(eta)
        deviance = likelihood.deviance(eta)
        info = likelihood.information(mu)
        step = _solve(info, likelihood.score(mu))
        if step is None:
            return _not_estimable("the information matrix is singular")
        small = np.max(np.abs(step) / (1.0 + np.abs(beta))) <= STEP_TOLERANCE
        beta = beta + step
        if abs(previous - deviance) <= DEVIANCE_TOLERANCE * (abs(deviance) + 0.1) or small:
            break
        previous = deviance
    else:
        return _not_estimable("no convergence or infinite estimates")
    eta = design @ beta
    mu = likelihood.per_row(special.expit(eta))
    # The mean linear predictor is the intercept of the fully centred parametrisation.
    size = (
        np.abs(beta)
        if intercept is None
        else np.abs(np.append(np.delete(beta, intercept), likelihood.mean(eta)))
    )
    if np.allclose(mu - y, 0.0) or np.max(size) > SEPARATION_LOG_ODDS:
        return _not_estimable("perfect prediction or infinite estimates")
    cov = linalg.cho_solve(linalg.cho_factor(info), np.eye(design.shape[1]))
    return beta, np.asarray(cov), np.asarray(mu)


def _solve(matrix: FloatArray, vector: FloatArray) -> FloatArray | None:
    try:
        return np.asarray(linalg.cho_solve(linalg.cho_factor(matrix), vector))
    except (linalg.LinAlgError, ValueError):
        return None


def _cluster_vcov(
    x: FloatArray | None,
    resid: FloatArray,
    bread: FloatArray,
    clusters: cr2.Clusters,
    cells: Cells | None = None,
) -> tuple[FloatArray, int]:
    """``B (sum_g s_g s_g') B * G/(G-1) * (N-1)/(N-k)``, s_g the cluster's summed scores;
    the rows ``x`` may be None with ``cells``."""
    n, k = design_shape(x, cells)
    codes, g = cr2.cluster_codes(check_clusters(clusters, n))
    if g < 2:
        raise ValueError("cluster-robust standard errors need at least 2 clusters")
    # Row i adds resid_i x_i to its cluster's score: one sparse product, in C. With cells,
    # the residuals are first summed per (cluster, cell), and the cells' rows multiplied.
    if cells is None:
        assert x is not None
        scores = sparse.csr_array((resid, (codes, np.arange(n))), shape=(g, n)) @ x
    else:
        by_cell = sparse.csr_array((resid, (codes, cells.codes)), shape=(g, cells.n_cells))
        scores = by_cell @ cells.table
    meat = scores.T @ scores
    return bread @ meat @ bread * (g / (g - 1)) * ((n - 1) / (n - k)), g


def logistic_regression(
    y: ArrayLike,
    x: ArrayLike | None,
    *,
    terms: Sequence[str] | None = None,
    clusters: cr2.Clusters | None = None,
    alpha: float = 0.05,
    cross_product: ArrayLike | None = None,
    cells: Cells | None = None,
) -> LogisticFit:
    """Fit a logistic regression and report each coefficient as an odds ratio.

    Parameters
    ----------
    y : 0/1 outcome of shape (n,).
    x : full-rank design of shape (n, k) with intercept (see ``build_design``).
    terms : column names.
    clusters : cluster labels; when given, SEs are cluster-robust (HC1 factor, see module)
        and tests and intervals use t on ``G - 1`` degrees of freedom.
    alpha : two-sided level of the Wald intervals ``exp(beta +/- q_{1-alpha/2} se)``, ``q``
        the normal quantile, or t on ``G - 1`` df with clusters.
    cross_product : ``x.T @ x`` if already computed, for the rank check (trusted as given).
    cells : the rows' cells when every column is the intercept or an indicator
        (``DesignMatrix.cells``): the likelihood's sums are then taken per cell, with the
        same steps and figures (to rounding); ``x`` may then be None (as for ``lm_robust``).

    Returns
    -------
    LogisticFit
        With ``odds_ratios == ()`` and a ``note`` when the model is not estimable (an arm or
        covariate level with all or no events, or non-convergence); no warning escapes.

    References
    ----------
    Agresti A (2013) Categorical Data Analysis, 3rd ed., ch. 5. Cameron AC, Miller DL (2015)
    A practitioner's guide to cluster-robust inference. J Hum Resour 50:317-372. Zeileis A
    et al. (2020) J Stat Softw 95(1) (sandwich::vcovCL).
    """
    # Raises naming aliased columns; centres offset covariates (a date) for accuracy.
    model = model_design(y, x, terms, cells, cross_product, check_y=_check_binary)
    y_arr, names, design, by_cell = model.y, model.names, model.design, model.cells
    n = y_arr.shape[0]
    vcov_type = "model" if clusters is None else "cluster-robust HC1"
    note = _separation_note(y_arr, model.x, names, by_cell)
    if note:
        fitted: tuple[FloatArray, FloatArray, FloatArray] | str = note
    else:
        likelihood = _over_rows(y_arr, design.x) if by_cell is None else _over_cells(y_arr, by_cell)
        fitted = _fit(y_arr, likelihood, design.intercept)
    if isinstance(fitted, str):
        return LogisticFit((), vcov_type, alpha, n, None, fitted)
    beta, cov, p_hat = fitted
    n_clusters = None
    if clusters is not None:
        cov, n_clusters = _cluster_vcov(model.rows, y_arr - p_hat, cov, clusters, by_cell)
    transform = design.transform
    if transform is not None:
        beta, cov = transform @ beta, transform @ cov @ transform.T
    df = None if n_clusters is None else float(n_clusters - 1)
    rows = tuple(
        _odds_ratio(t, float(beta[j]), float(cov[j, j]), df, alpha) for j, t in enumerate(names)
    )
    return LogisticFit(rows, vcov_type, alpha, n, n_clusters)


def _check_binary(y: FloatArray) -> None:
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ValueError("logistic regression needs a 0/1 outcome")


def _odds_ratio(
    term: str, log_odds: float, variance: float, df: float | None, alpha: float
) -> OddsRatio:
    """Wald inference on the log-odds scale, normal (``df`` None) or t on ``df``."""
    se = float(np.sqrt(variance))
    reference = stats.norm if df is None else stats.t(df)
    crit = float(reference.ppf(1.0 - alpha / 2.0))
    z = log_odds / se
    # An intercept beside an offset covariate (a date) can have log-odds in the thousands:
    # its odds are 0 or infinity in floating point, which is the truth to that precision.
    with np.errstate(over="ignore", under="ignore"):
        odds = np.exp([log_odds, log_odds - crit * se, log_odds + crit * se])
    return OddsRatio(
        term=term,
        log_odds=log_odds,
        std_error=se,
        odds_ratio=float(odds[0]),
        ci_low=float(odds[1]),
        ci_high=float(odds[2]),
        z=z,
        p_value=float(2.0 * reference.sf(abs(z))),
        df=df,
    )
