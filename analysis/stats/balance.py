"""Checks that randomisation worked: sample-ratio mismatch and covariate balance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats._types import FloatArray, IntArray
from analysis.stats.design import factor_codes

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SampleRatioCheck:
    """Chi-square goodness of fit of the arms' unit counts to the planned allocation."""

    chi_square: float
    df: int
    p_value: float
    flagged: bool
    expected: dict[str, float]
    threshold: float = SRM_THRESHOLD


def srm_check(
    counts: Mapping[str, int], weights: Mapping[str, float], threshold: float = SRM_THRESHOLD
) -> SampleRatioCheck:
    """Sample-ratio mismatch test: Pearson chi-square of counts against planned weights.

    Expected count for arm a is ``N w_a / sum(w)``; the statistic has ``arms - 1`` df.
    ``flagged`` when ``p < threshold`` (0.001 by default, strict because the test is run
    routinely and a true mismatch means a broken randomiser or lost units, not chance).
    Count the units that were randomised (clusters under cluster randomisation).

    References
    ----------
    Fabijan A et al. (2019) Diagnosing sample ratio mismatch in online controlled
    experiments. KDD '19, 2156-2164. R ``chisq.test(x, p = w / sum(w))``.
    """
    arms = list(weights)
    if set(arms) != set(counts) or len(arms) < 2:
        raise ValueError("counts and weights must name the same arms (at least two)")
    observed = np.array([counts[a] for a in arms], dtype=np.float64)
    w = np.array([weights[a] for a in arms], dtype=np.float64)
    if np.any(w <= 0) or np.any(observed < 0) or observed.sum() == 0:
        raise ValueError("weights must be positive and counts non-negative with a positive total")
    expected = observed.sum() * w / w.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    p = float(stats.chi2.sf(statistic, len(arms) - 1))
    return SampleRatioCheck(
        statistic,
        len(arms) - 1,
        p,
        p < threshold,
        dict(zip(arms, expected.tolist(), strict=True)),
        threshold,
    )


@dataclass(frozen=True)
class StandardisedDifference:
    """Standardised mean difference of one covariate (or one level) for an arm vs control."""

    arm: str
    covariate: str
    level: str | None
    mean_arm: float | None
    mean_control: float | None
    smd: float | None
    note: str | None = None


@dataclass(frozen=True)
class _Moments:
    """Per arm: observed count, mean and n - 1 sample variance of one variable."""

    n: IntArray
    mean: FloatArray
    var: FloatArray


def _moments(arm: IntArray, arms: int, values: FloatArray) -> _Moments:
    """Grouped moments by ``bincount``; the variance is two-pass (centred) for accuracy."""
    seen = ~np.isnan(values)
    group, x = arm[seen], values[seen]
    n = np.bincount(group, minlength=arms)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group, weights=x, minlength=arms) / n
        centred = x - mean[group]
        squares = np.bincount(group, weights=centred * centred, minlength=arms)
        var = np.where(n > 1, squares / np.maximum(n - 1, 1), 0.0)
    return _Moments(n, mean, var)


def _smd(
    arm: str, covariate: str, level: str | None, moments: _Moments, a: int, c: int, binary: bool
) -> StandardisedDifference:
    if moments.n[a] == 0 or moments.n[c] == 0:
        return StandardisedDifference(arm, covariate, level, None, None, None, "no observed values")
    ma, mc = float(moments.mean[a]), float(moments.mean[c])
    if binary:
        var_a, var_c = ma * (1 - ma), mc * (1 - mc)
    else:
        var_a, var_c = float(moments.var[a]), float(moments.var[c])
    pooled = np.sqrt((var_a + var_c) / 2.0)
    if pooled == 0.0:
        smd = 0.0 if ma == mc else None
        note = None if ma == mc else "no variation within arms: SMD undefined"
        return StandardisedDifference(arm, covariate, level, ma, mc, smd, note)
    return StandardisedDifference(arm, covariate, level, ma, mc, float((ma - mc) / pooled))


def _is_binary(values: FloatArray) -> bool:
    observed = values[~np.isnan(values)]
    return bool(np.all((observed == 0.0) | (observed == 1.0))) if len(observed) else False


def _covariate_moments(
    values: pd.Series, arm: IntArray, arms: int
) -> list[tuple[str | None, _Moments, bool]]:
    """(level, moments by arm, binary?) for a numeric covariate or each level of a text one."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        numeric = np.asarray(values.astype(np.float64), dtype=np.float64)
        return [(None, _moments(arm, arms, numeric), _is_binary(numeric))]
    codes, levels = factor_codes(values)
    observed = codes >= 0
    out: list[tuple[str | None, _Moments, bool]] = []
    for index, level in sorted(enumerate(levels), key=lambda item: item[1]):
        share = np.where(observed, (codes == index).astype(np.float64), np.nan)
        out.append((level, _moments(arm, arms, share), True))
    return out


def standardised_mean_differences(
    frame: pd.DataFrame, *, arm: str, control: str, covariates: Sequence[str]
) -> tuple[StandardisedDifference, ...]:
    """SMD of each covariate for each arm against control, among participants observed.

    ``SMD = (mean_arm - mean_control) / sqrt((s2_arm + s2_control) / 2)``: the pooled SD is
    the root of the average of the two arms' variances (unweighted by arm size). ``s2`` is
    the sample variance (n - 1) for a numeric covariate and ``p(1 - p)`` for a 0/1 one; a
    categorical covariate gives one binary SMD per level, missing values excluded.
    |SMD| > 0.1 is the usual flag for imbalance. Moments are grouped by arm in one pass.

    References
    ----------
    Austin PC (2009) Balance diagnostics for comparing the distribution of baseline
    covariates between treatment groups in propensity-score matched samples. Stat Med
    28:3083-3107, section 3.1.
    """
    arm_codes, labels = factor_codes(frame[arm])
    index = {label: i for i, label in enumerate(labels)}
    others = sorted(a for a in labels if a != control)
    group = np.where(arm_codes >= 0, arm_codes, len(labels))  # no arm: a group of its own
    by_covariate = {
        name: _covariate_moments(frame[name], group, len(labels) + 2) for name in covariates
    }
    rows: list[StandardisedDifference] = []
    c = index.get(control, len(labels) + 1)  # an absent control: an empty group
    for other in others:
        for name in covariates:
            for level, moments, binary in by_covariate[name]:
                rows.append(_smd(other, name, level, moments, index[other], c, binary))
    return tuple(rows)
