"""Random-effects meta-analysis of k trials' effect estimates (evidence across trials).

Each trial contributes one estimate and its standard error (the risk difference of its
pre-registered analysis). The between-trial variance tau^2 is estimated by restricted maximum
likelihood (REML), the pooled effect carries the Hartung-Knapp(-Sidik-Jonkman) adjustment with
t on k - 1 degrees of freedom, and DerSimonian-Laird is given beside it for comparison. The
numbers follow R's metafor (``rma(method = "REML", test = "knha")``, ``rma(method = "DL")`` and
``predict``); tests/analysis/reference/meta/ holds the reference values and the R script.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.stats._types import FloatArray

# metafor stops its Fisher scoring when tau^2 changes by no more than `threshold` (default
# 1e-5); the reference runs with 1e-12 and so does this module, so both reach the maximum.
REML_THRESHOLD = 1e-12
REML_MAX_ITERATIONS = 1000
# Full Fisher steps, then half steps when full ones do not converge (metafor's `stepadj`).
STEP_LENGTHS = (1.0, 0.5)
# metafor's `tol` for its check that the REML fit beats tau^2 = 0 (.Machine$double.eps^0.25).
LOGLIK_TOLERANCE = float(np.finfo(float).eps) ** 0.25
_EPS = float(np.finfo(float).eps)

ONE_TRIAL = (
    "only one trial: there is nothing to pool, and its own estimate and interval are the "
    "evidence; between-trial variance, heterogeneity and a prediction interval need two or more"
)
IDENTICAL = (
    "every trial gave the same estimate (to rounding), so the Hartung-Knapp scale factor is 0 "
    "and its interval would shrink to a point; no interval is given (see DerSimonian-Laird's)"
)


@dataclass(frozen=True)
class TrialEffect:
    """One trial's estimate (a risk difference) and its standard error."""

    label: str
    estimate: float
    se: float


@dataclass(frozen=True)
class PooledEffect:
    """One method's pooled effect; ``None`` parts are explained by ``reason``.

    ``statistic`` is t (on ``df`` degrees of freedom) for Hartung-Knapp, z (``df`` None) for
    DerSimonian-Laird. ``i2`` is metafor's model-based I^2 in percent,
    ``100 tau^2 / (tau^2 + v~)`` with v~ the typical within-trial variance.
    """

    method: str
    tau2: float | None
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    statistic: float | None
    df: int | None
    p_value: float | None
    i2: float | None
    reason: str | None = None


@dataclass(frozen=True)
class Heterogeneity:
    """Cochran's Q on k - 1 degrees of freedom and its chi-squared p-value."""

    q: float | None
    df: int | None
    p_value: float | None
    reason: str | None = None


@dataclass(frozen=True)
class PredictionInterval:
    """Where the effect of a new, similar trial is expected to lie (t on k - 1 df)."""

    low: float | None
    high: float | None
    df: int | None
    reason: str | None = None


@dataclass(frozen=True)
class MetaAnalysis:
    """The random-effects synthesis of ``k`` trials at confidence level ``level``."""

    k: int
    level: float
    reml: PooledEffect  # REML tau^2, Hartung-Knapp interval: the headline
    dl: PooledEffect  # DerSimonian-Laird, z: for comparison
    heterogeneity: Heterogeneity
    prediction: PredictionInterval
    reml_iterations: int | None
    note: str | None = None


def random_effects(trials: Sequence[TrialEffect], *, alpha: float = 0.05) -> MetaAnalysis:
    """Pool k trials' estimates by REML with the Hartung-Knapp adjustment, and by DL.

    REML's tau^2 is found by Fisher scoring from the Hedges estimate, with step halving to
    keep it at or above 0, exactly as metafor's ``rma.uni`` does; when the likelihood at
    tau^2 = 0 is higher than at the end point, tau^2 is 0. Hartung-Knapp scales the variance
    of the weighted mean, ``1 / sum(w)``, by ``q = sum w (y - mu)^2 / (k - 1)`` (not truncated
    at 1, as in metafor's ``test = "knha"``). The prediction interval is
    ``mu -/+ t_{k-1} sqrt(tau^2 + SE^2)`` with the Hartung-Knapp SE (metafor's ``predict``).

    Raises ``ValueError`` with the trial's label when a standard error is not positive and
    finite, or an estimate not finite: such a trial cannot be weighted.

    References
    ----------
    Viechtbauer W (2005) Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. J Educ Behav Stat 30:261-293. Hartung J, Knapp G (2001) Stat Med
    20:3875-3889. Sidik K, Jonkman JN (2002) Stat Med 21:3153-3159. DerSimonian R, Laird N
    (1986) Control Clin Trials 7:177-188. Higgins JPT, Thompson SG, Spiegelhalter DJ (2009)
    J R Stat Soc A 172:137-159 (prediction interval). Viechtbauer W (2010) Conducting
    meta-analyses in R with the metafor package. J Stat Softw 36(3).
    """
    if not trials:
        raise ValueError("a meta-analysis needs at least one trial's estimate")
    for trial in trials:
        if not math.isfinite(trial.estimate):
            raise ValueError(f"trial {trial.label!r}: its estimate is not a number")
        if not (math.isfinite(trial.se) and trial.se > 0):
            raise ValueError(
                f"trial {trial.label!r}: its standard error is {trial.se}, and a trial is "
                "weighted by 1 / SE^2, so it must be above 0; check that trial's analysis "
                "(a zero SE means every participant had the same outcome)"
            )
    level = 1 - alpha
    k = len(trials)
    if k == 1:
        return _one_trial(trials[0], level)
    y = np.array([t.estimate for t in trials], dtype=float)
    v = np.array([t.se for t in trials], dtype=float) ** 2
    tau2, iterations = reml_tau2(y, v)
    heterogeneity = cochran_q(y, v)
    identical = bool(np.all(y == y[0]))
    reml = _hartung_knapp(y, v, tau2, alpha, identical)
    return MetaAnalysis(
        k=k,
        level=level,
        reml=reml,
        dl=_dersimonian_laird(y, v, alpha),
        heterogeneity=heterogeneity,
        prediction=_prediction(reml, alpha, k),
        reml_iterations=iterations,
        note=(
            "two trials only: the between-trial variance rests on one comparison and the "
            "t interval on 1 degree of freedom is very wide"
            if k == 2
            else None
        ),
    )


def reml_tau2(y: FloatArray, v: FloatArray) -> tuple[float, int]:
    """REML estimate of tau^2 by Fisher scoring, and the number of iterations it took.

    Full Fisher steps can oscillate between two values without converging (metafor then
    stops with "Fisher scoring algorithm did not converge"); its documented remedy, steps of
    half the length (``control = list(stepadj = 0.5)``), is tried next.
    """
    for step_length in STEP_LENGTHS:
        found = _fisher_scoring(y, v, step_length)
        if found is not None:
            tau2, iterations = found
            break
    else:
        raise ValueError("the REML estimate of the between-trial variance did not converge")
    if tau2 > REML_THRESHOLD and _reml_loglik(y, v, 0.0) - _reml_loglik(y, v, tau2) > (
        LOGLIK_TOLERANCE
    ):
        tau2 = 0.0
    return tau2, iterations


def _fisher_scoring(y: FloatArray, v: FloatArray, step_length: float) -> tuple[float, int] | None:
    """metafor's iteration from the Hedges estimate; None when it has not converged."""
    k = len(y)
    tau2 = max(0.0, float(np.sum((y - y.mean()) ** 2) / (k - 1) - v.mean()))  # Hedges
    change = REML_THRESHOLD + 1
    iterations = 0
    while change > REML_THRESHOLD:
        iterations += 1
        if iterations > REML_MAX_ITERATIONS:
            return None
        w = 1 / (v + tau2)
        total = w.sum()
        residual = y - np.sum(w * y) / total
        trace_p = total - np.sum(w**2) / total
        trace_pp = np.sum(w**2) - 2 * np.sum(w**3) / total + np.sum(w**2) ** 2 / total**2
        step = step_length * (np.sum(w**2 * residual**2) - trace_p) / trace_pp
        while tau2 + step < 0:
            step /= 2
        old, tau2 = tau2, float(tau2 + step)
        change = abs(old - tau2)
    return tau2, iterations


def _reml_loglik(y: FloatArray, v: FloatArray, tau2: float) -> float:
    w = 1 / (v + tau2)
    mu = np.sum(w * y) / w.sum()
    rss = np.sum(w * (y - mu) ** 2)
    return float(
        -0.5 * (len(y) - 1) * math.log(2 * math.pi)
        - 0.5 * np.sum(np.log(v + tau2))
        - 0.5 * math.log(w.sum())
        - 0.5 * rss
    )


def cochran_q(y: FloatArray, v: FloatArray) -> Heterogeneity:
    """Cochran's Q with inverse-variance weights, chi-squared on k - 1 df."""
    w = 1 / v
    q = max(0.0, float(np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2)))
    df = len(y) - 1
    return Heterogeneity(q, df, float(stats.chi2.sf(q, df)))


def _typical_variance(v: FloatArray) -> float:
    """metafor's v~ for I^2: (k - 1) / tr(P) with the fixed-effect weights."""
    w = 1 / v
    return float((len(v) - 1) / (w.sum() - np.sum(w**2) / w.sum()))


def _i2(v: FloatArray, tau2: float) -> float:
    return 100 * tau2 / (_typical_variance(v) + tau2)


def _hartung_knapp(
    y: FloatArray, v: FloatArray, tau2: float, alpha: float, identical: bool
) -> PooledEffect:
    k = len(y)
    w = 1 / (v + tau2)
    mu = float(np.sum(w * y) / w.sum())
    scale = float(np.sum(w * (y - mu) ** 2)) / (k - 1)
    method = "REML, Hartung-Knapp"
    i2 = _i2(v, tau2)
    if identical or scale <= _EPS:
        return PooledEffect(method, tau2, mu, None, None, None, None, k - 1, None, i2, IDENTICAL)
    se = math.sqrt(scale / w.sum())
    t = mu / se
    crit = float(stats.t.ppf(1 - alpha / 2, k - 1))
    p = float(2 * stats.t.sf(abs(t), k - 1))
    return PooledEffect(method, tau2, mu, se, mu - crit * se, mu + crit * se, t, k - 1, p, i2)


def dersimonian_laird_tau2(y: FloatArray, v: FloatArray) -> float:
    """The method-of-moments tau^2: max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))."""
    w = 1 / v
    q = cochran_q(y, v).q
    assert q is not None
    return max(0.0, (q - (len(y) - 1)) / float(w.sum() - np.sum(w**2) / w.sum()))


def _dersimonian_laird(y: FloatArray, v: FloatArray, alpha: float) -> PooledEffect:
    tau2 = dersimonian_laird_tau2(y, v)
    w = 1 / (v + tau2)
    mu = float(np.sum(w * y) / w.sum())
    se = math.sqrt(1 / float(w.sum()))
    z = mu / se
    crit = float(stats.norm.ppf(1 - alpha / 2))
    p = float(2 * stats.norm.sf(abs(z)))
    return PooledEffect(
        "DerSimonian-Laird",
        tau2,
        mu,
        se,
        mu - crit * se,
        mu + crit * se,
        z,
        None,
        p,
        _i2(v, tau2),
    )


def _prediction(reml: PooledEffect, alpha: float, k: int) -> PredictionInterval:
    if reml.se is None or reml.estimate is None or reml.tau2 is None:
        return PredictionInterval(None, None, k - 1, reml.reason)
    half = float(stats.t.ppf(1 - alpha / 2, k - 1)) * math.sqrt(reml.tau2 + reml.se**2)
    return PredictionInterval(reml.estimate - half, reml.estimate + half, k - 1)


def _one_trial(trial: TrialEffect, level: float) -> MetaAnalysis:
    def unpooled(method: str) -> PooledEffect:
        return PooledEffect(method, None, None, None, None, None, None, None, None, None, ONE_TRIAL)

    return MetaAnalysis(
        k=1,
        level=level,
        reml=unpooled("REML, Hartung-Knapp"),
        dl=unpooled("DerSimonian-Laird"),
        heterogeneity=Heterogeneity(None, None, None, ONE_TRIAL),
        prediction=PredictionInterval(None, None, None, ONE_TRIAL),
        reml_iterations=None,
        note=ONE_TRIAL,
    )
