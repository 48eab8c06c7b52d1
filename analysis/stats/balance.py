"""Checks that randomisation worked: sample-ratio mismatch and covariate balance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

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


def _smd(
    arm: str, covariate: str, level: str | None, a: pd.Series, c: pd.Series, binary: bool
) -> StandardisedDifference:
    if a.empty or c.empty:
        return StandardisedDifference(arm, covariate, level, None, None, None, "no observed values")
    ma, mc = float(a.mean()), float(c.mean())
    if binary:
        var_a, var_c = ma * (1 - ma), mc * (1 - mc)
    else:
        var_a = float(a.var(ddof=1)) if len(a) > 1 else 0.0
        var_c = float(c.var(ddof=1)) if len(c) > 1 else 0.0
    pooled = np.sqrt((var_a + var_c) / 2.0)
    if pooled == 0.0:
        smd = 0.0 if ma == mc else None
        note = None if ma == mc else "no variation within arms: SMD undefined"
        return StandardisedDifference(arm, covariate, level, ma, mc, smd, note)
    return StandardisedDifference(arm, covariate, level, ma, mc, float((ma - mc) / pooled))


def _is_binary(values: pd.Series) -> bool:
    observed = values.dropna()
    return bool(observed.isin([0, 1]).all()) if len(observed) else False


def standardised_mean_differences(
    frame: pd.DataFrame, *, arm: str, control: str, covariates: Sequence[str]
) -> tuple[StandardisedDifference, ...]:
    """SMD of each covariate for each arm against control, among participants observed.

    ``SMD = (mean_arm - mean_control) / sqrt((s2_arm + s2_control) / 2)``: the pooled SD is
    the root of the average of the two arms' variances (unweighted by arm size). ``s2`` is
    the sample variance (n - 1) for a numeric covariate and ``p(1 - p)`` for a 0/1 one; a
    categorical covariate gives one binary SMD per level, missing values excluded.
    |SMD| > 0.1 is the usual flag for imbalance.

    References
    ----------
    Austin PC (2009) Balance diagnostics for comparing the distribution of baseline
    covariates between treatment groups in propensity-score matched samples. Stat Med
    28:3083-3107, section 3.1.
    """
    arms = frame[arm].astype(str)
    others = sorted(a for a in arms.unique() if a != control)
    rows: list[StandardisedDifference] = []
    for other in others:
        in_arm, in_control = arms == other, arms == control
        for name in covariates:
            values = frame[name]
            if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                numeric = values.astype(np.float64)
                a, c = numeric[in_arm].dropna(), numeric[in_control].dropna()
                rows.append(_smd(other, name, None, a, c, _is_binary(numeric)))
                continue
            text = values.astype("string")
            for level in sorted(text.dropna().unique()):
                share = (text == level).astype("float64")
                a = share[in_arm & text.notna()]
                c = share[in_control & text.notna()]
                rows.append(_smd(other, name, str(level), a, c, True))
    return tuple(rows)
