"""Summaries of a binary outcome that stay valid when whole units (cases, households) were
randomised.

Everything here starts from each arm's *unit totals*: for unit g of an arm, the participants
with the outcome observed ``m_g`` and those with the event ``t_g``. Units are nested in arms
(the randomisation gives a unit one arm), so the arms are independent samples of units and
each arm's variance uses its own ``G_a`` units: the design of R ``survey`` with
``svydesign(ids = ~unit, strata = ~arm)``.

- The variance of an arm's proportion ``p = sum t / n`` is the linearised ratio variance
  ``V = G/(G-1) sum_g (t_g - p m_g)^2 / n^2`` (``survey::svymean``), its design effect
  ``deff = V / (p(1-p)/n)`` (Kish), floored at 1, and its effective size ``n / deff``.
- The risk difference and its interval are those of the CR2 linear model ``y ~ arm`` with
  Bell-McCaffrey degrees of freedom (``estimatr::lm_robust``), in closed form: with only arm
  indicators the hat matrix is ``J / n_a`` within an arm, so every CR2 adjustment is a scalar.

Each function returns ``None`` parts with a note where the design cannot support inference
(an arm with fewer than two units, no variation), never NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.stats._types import FloatArray, IntArray
from analysis.stats.proportions import (
    DEGENERATE_RATIO,
    IntervalEstimate,
    ProportionEstimate,
    wilson_interval,
    wilson_limits,
)

FEW_UNITS = "fewer than 2 randomisation units with an observed outcome"


@dataclass(frozen=True)
class ArmUnits:
    """One arm's analysed units: events ``t_g`` and participants ``m_g`` per unit."""

    events: FloatArray
    sizes: FloatArray

    @property
    def n(self) -> int:
        return int(self.sizes.sum())

    @property
    def x(self) -> int:
        return int(round(float(self.events.sum())))

    @property
    def n_units(self) -> int:
        return int(self.sizes.size)

    @property
    def proportion(self) -> float | None:
        return self.x / self.n if self.n else None


@dataclass(frozen=True)
class ClusteredProportion:
    """An arm's proportion with its cluster-robust variance, design effect and interval."""

    estimate: ProportionEstimate
    units: int
    variance: float | None
    design_effect: float | None
    effective_n: float | None


@dataclass(frozen=True)
class ClusteredDifference:
    """Arm minus control from the CR2 model without covariates (Bell-McCaffrey df)."""

    estimate: float | None
    std_error: float | None
    df: float | None
    p_value: float | None
    interval: IntervalEstimate


@dataclass(frozen=True)
class RaoScottTest:
    """Pearson's X^2 of the 2 x 2 table divided by its design effect, referred to F(1, G - 2)."""

    pearson: float | None
    design_effect: float | None
    statistic: float | None
    ddf: int | None
    p_value: float | None
    note: str | None = None


def units_by_arm(
    y: FloatArray, arm_codes: IntArray, unit_codes: IntArray, n_arms: int
) -> tuple[ArmUnits, ...]:
    """Each arm's unit totals, from 0/1 outcomes and integer arm and unit codes (no NaN)."""
    n_units = int(unit_codes.max(initial=-1)) + 1
    cell = arm_codes.astype(np.int64) * max(n_units, 1) + unit_codes
    keys, inverse = np.unique(cell, return_inverse=True)
    sizes = np.bincount(inverse, minlength=keys.size).astype(np.float64)
    events = np.bincount(inverse, weights=y, minlength=keys.size)
    arm_of_key = keys // max(n_units, 1)
    return tuple(ArmUnits(events[arm_of_key == a], sizes[arm_of_key == a]) for a in range(n_arms))


def proportion_variance(arm: ArmUnits) -> float | None:
    """``G/(G-1) sum_g (t_g - p m_g)^2 / n^2``, the linearised variance of a ratio mean.

    References
    ----------
    Wolter KM (2007) Introduction to Variance Estimation, 2nd ed., section 6.11. Lumley T,
    ``survey::svymean`` with ``svydesign(ids = ~unit)``.
    """
    g, n = arm.n_units, arm.n
    if g < 2:
        return None
    p = arm.x / n
    resid = arm.events - p * arm.sizes
    return float(g / (g - 1) * (resid @ resid) / (n * n))


def design_effect(arm: ArmUnits, variance: float | None) -> float | None:
    """Kish's design effect ``V / (p(1-p)/n)`` floored at 1 (1 when p is 0 or 1).

    The floor follows NCHS practice for Korn-Graubard intervals (Parker et al. 2017): a
    design effect below 1 from a handful of units is noise, not information.
    """
    p = arm.proportion
    if variance is None or p is None:
        return None
    if p in (0.0, 1.0):
        return 1.0
    return max(1.0, variance / (p * (1.0 - p) / arm.n))


def clustered_proportion(arm: ArmUnits, alpha: float = 0.05) -> ClusteredProportion:
    """An arm's rate with a Wilson interval at the effective sample size (Korn & Graubard).

    ``n* = (n / deff) (z_{1-alpha/2} / t_{1-alpha/2, G-1})^2`` and the interval is Wilson's
    at ``(x* = p n*, n*)``: with ``deff = 1`` and many units it is the plain Wilson interval;
    with few units the t quantile widens it.

    References
    ----------
    Korn EL, Graubard BI (1998) Confidence intervals for proportions with small expected
    number of positive counts estimated from survey data. Survey Methodology 24:193-201.
    Kish L (1965) Survey Sampling, section 8.2. Wilson EB (1927) JASA 22:209-212.
    """
    plain = wilson_interval(arm.x, arm.n, alpha)
    variance = proportion_variance(arm)
    deff = design_effect(arm, variance)
    if deff is None or plain.proportion is None:
        note = plain.note or f"{FEW_UNITS}: no interval"
        blank = ProportionEstimate(arm.x, arm.n, plain.proportion, None, None, note)
        return ClusteredProportion(blank, arm.n_units, variance, None, None)
    effective = arm.n / deff
    z = float(stats.norm.ppf(1.0 - alpha / 2.0))
    adjusted = effective * (z / float(stats.t.ppf(1.0 - alpha / 2.0, arm.n_units - 1))) ** 2
    low, high = wilson_limits(plain.proportion * adjusted, adjusted, alpha)
    estimate = ProportionEstimate(arm.x, arm.n, plain.proportion, low, high)
    return ClusteredProportion(estimate, arm.n_units, variance, deff, effective)


def _cr2_parts(arm: ArmUnits) -> tuple[float, float]:
    """The arm's CR2 variance of its mean and its trace term for the Bell-McCaffrey df.

    With ``A_g = (1 - m_g/n)^{-1/2}`` on the unit's sum of residuals, the variance is
    ``sum_g (t_g - p m_g)^2 n / (n - m_g) / n^2``; the df trace is
    ``sum m_g^2 + (sum a_g)^2 - sum a_g^2`` with ``a_g = m_g^2 / (n - m_g)``.
    """
    n, m = arm.n, arm.sizes
    resid = arm.events - (arm.x / n) * m
    variance = float(np.sum(resid * resid * n / (n - m)) / (n * n))
    a = m * m / (n - m)
    trace = float(np.sum(m * m) + a.sum() ** 2 - np.sum(a * a))
    return variance, trace


def cr2_difference(arm: ArmUnits, control: ArmUnits, alpha: float = 0.05) -> ClusteredDifference:
    """Risk difference with the CR2 standard error and Bell-McCaffrey df of ``y ~ arm``.

    For the arm's coefficient the Satterthwaite df ``tr(M)^2 / tr(M^2)`` reduces to
    ``(1/n_1 + 1/n_0)^2 / (T_1 / n_1^4 + T_0 / n_0^4)`` with ``T`` each arm's trace term
    (see :func:`_cr2_parts`); the result equals ``estimatr::lm_robust(y ~ arm, clusters)``.

    References
    ----------
    Bell RM, McCaffrey DF (2002) Survey Methodology 28:169-181. Pustejovsky JE, Tipton E
    (2018) J Bus Econ Stat 36:672-683. Imbens GW, Kolesar M (2016) Rev Econ Stat 98:701-712.
    """
    p1, p0 = arm.proportion, control.proportion
    if p1 is None or p0 is None:
        note = "an arm has no participants with an outcome"
        return ClusteredDifference(None, None, None, None, IntervalEstimate(None, None, None, note))
    estimate = p1 - p0
    if min(arm.n_units, control.n_units) < 2:
        note = f"{FEW_UNITS} in an arm: no interval or test"
        return ClusteredDifference(
            estimate, None, None, None, IntervalEstimate(estimate, None, None, note)
        )
    (v1, t1), (v0, t0) = _cr2_parts(arm), _cr2_parts(control)
    se = math.sqrt(v1 + v0)
    if se == 0.0:
        note = "no variation in the outcome within either arm: no interval or test"
        return ClusteredDifference(
            estimate, 0.0, None, None, IntervalEstimate(estimate, None, None, note)
        )
    df = (1 / arm.n + 1 / control.n) ** 2 / (t1 / arm.n**4 + t0 / control.n**4)
    crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    p_value = float(2.0 * stats.t.sf(abs(estimate) / se, df))
    interval = IntervalEstimate(estimate, estimate - crit * se, estimate + crit * se)
    return ClusteredDifference(estimate, se, df, p_value, interval)


def clustered_risk_ratio(arm: ArmUnits, control: ArmUnits, alpha: float = 0.05) -> IntervalEstimate:
    """Risk ratio with a delta-method log interval from the arms' cluster-robust variances.

    ``se(log RR)^2 = V_1 / p_1^2 + V_0 / p_0^2`` (the arms' units are independent), and the
    interval is ``exp(log RR -+ t se)`` on ``G_1 + G_0 - 2`` df. This is the quasi-Poisson
    ``survey::svyglm(y ~ arm)`` on the design with units in arm strata.

    References
    ----------
    Zou G (2004) A modified Poisson regression approach to prospective studies with binary
    data. Am J Epidemiol 159:702-706. Binder DA (1983) Int Stat Rev 51:279-292.
    """
    if arm.n == 0 or control.n == 0:
        return IntervalEstimate(None, None, None, "an arm has no participants with an outcome")
    if control.x == 0:
        return IntervalEstimate(None, None, None, "risk ratio undefined: no events in control")
    p1, p0 = arm.x / arm.n, control.x / control.n
    ratio = p1 / p0
    if arm.x == 0:
        return IntervalEstimate(
            ratio, None, None, "risk ratio interval undefined: no events in arm"
        )
    v1, v0 = proportion_variance(arm), proportion_variance(control)
    if v1 is None or v0 is None:
        return IntervalEstimate(ratio, None, None, f"risk ratio: {FEW_UNITS} in an arm")
    se = math.sqrt(v1 / (p1 * p1) + v0 / (p0 * p0))
    if se == 0.0:
        return IntervalEstimate(ratio, None, None, DEGENERATE_RATIO)
    crit = float(stats.t.ppf(1.0 - alpha / 2.0, arm.n_units + control.n_units - 2))
    return IntervalEstimate(ratio, ratio * math.exp(-crit * se), ratio * math.exp(crit * se))


def rao_scott_test(arm: ArmUnits, control: ArmUnits) -> RaoScottTest:
    """First-order Rao-Scott correction of Pearson's X^2 for the arm-by-outcome 2 x 2 table.

    With cell proportions ``pi``, the interaction contrast ``c = (1, -1, -1, 1)`` and
    ``u = c / pi``, the design effect of the table is ``delta = N u'Vu / sum(c^2 / pi)``,
    where ``V`` is the design-based variance of ``pi`` (units in arm strata). ``X^2 / delta``
    is referred to ``F(1, G - 2)``, as ``survey::svychisq(statistic = "F")`` does.

    References
    ----------
    Rao JNK, Scott AJ (1984) On chi-squared tests for multiway contingency tables with cell
    proportions estimated from survey data. Ann Stat 12:46-60. Thomas DR, Rao JNK (1987)
    JASA 82:630-636.
    """
    counts = np.array([arm.x, arm.n - arm.x, control.x, control.n - control.x], dtype=np.float64)
    total = counts.sum()
    if min(arm.n, control.n, counts[0] + counts[2], counts[1] + counts[3]) == 0:
        return RaoScottTest(None, None, None, None, None, "every participant had the same outcome")
    ddf = arm.n_units + control.n_units - 2
    if min(arm.n_units, control.n_units) < 2:
        return RaoScottTest(None, None, None, None, None, f"{FEW_UNITS} in an arm")
    pi = counts / total
    contrast = np.array([1.0, -1.0, -1.0, 1.0])
    u = np.divide(contrast, pi, out=np.zeros(4), where=pi > 0)
    centre = float(u @ pi)
    spread = 0.0
    for unit_set, (event, no_event) in ((arm, u[:2]), (control, u[2:])):
        z = (unit_set.events * event + (unit_set.sizes - unit_set.events) * no_event) / total
        z -= unit_set.sizes * centre / total
        g = unit_set.n_units
        spread += g / (g - 1) * float(np.sum((z - z.mean()) ** 2))
    delta = total * spread / float(np.sum(contrast[pi > 0] ** 2 / pi[pi > 0]))
    expected = np.outer([arm.n, control.n], [counts[0] + counts[2], counts[1] + counts[3]])
    pearson = float(np.sum((counts.reshape(2, 2) - expected / total) ** 2 / (expected / total)))
    if delta <= 0.0:
        return RaoScottTest(pearson, delta, None, ddf, None, "design effect of the table is 0")
    statistic = pearson / delta
    return RaoScottTest(pearson, delta, statistic, ddf, float(stats.f.sf(statistic, 1, ddf)))


@dataclass(frozen=True)
class IntraclusterCorrelation:
    """The ANOVA estimate of the ICC (arms as fixed effects) and the units' size summary."""

    icc: float | None
    size_weighted_mean: float | None
    units: int
    note: str | None = None


def observed_icc(arms: tuple[ArmUnits, ...]) -> IntraclusterCorrelation:
    """One-way ANOVA estimator of the intracluster correlation, units nested in arms.

    ``rho = (MSB - MSW) / (MSB + (m0 - 1) MSW)``, MSB between units within arms on
    ``G - A`` df, MSW within units on ``N - G`` df, and
    ``m0 = (N - sum_a sum_g m_g^2 / n_a) / (G - A)``; truncated at 0. Also returns the
    size-weighted mean unit size ``sum m^2 / sum m`` that the design effect needs.

    References
    ----------
    Donner A, Koval JJ (1980) Biometrics 36:19-25. Searle SR, Casella G, McCulloch CE (1992)
    Variance Components, section 3.6. Eldridge SM et al. (2006) Int J Epidemiol 35:1292-1300.
    """
    used = [a for a in arms if a.n > 0]
    sizes = np.concatenate([a.sizes for a in used]) if used else np.zeros(0)
    g, total = sizes.size, float(sizes.sum())
    weighted = float(np.sum(sizes * sizes) / total) if total else None
    df_between, df_within = g - len(used), total - g
    if df_between < 1 or df_within < 1:
        note = "not estimable: too few units, or one participant per unit"
        return IntraclusterCorrelation(None, weighted, g, note)
    unit_ss = sum(float(np.sum(a.events**2 / a.sizes)) for a in used)
    arm_ss = sum(a.x**2 / a.n for a in used)
    within = (sum(a.x for a in used) - unit_ss) / df_within
    between = (unit_ss - arm_ss) / df_between
    m0 = (total - sum(float(np.sum(a.sizes**2)) / a.n for a in used)) / df_between
    denominator = between + (m0 - 1.0) * within
    if denominator <= 0.0:
        return IntraclusterCorrelation(None, weighted, g, "not estimable: no variation")
    return IntraclusterCorrelation(max(0.0, (between - within) / denominator), weighted, g)


def cluster_design_effect(icc: float, size_weighted_mean: float) -> float:
    """``1 + (m~ - 1) rho`` with ``m~ = sum m^2 / sum m``; equal sizes m give ``1 + (m-1) rho``.

    References
    ----------
    Kerry SM, Bland JM (2001) Stat Med 20:377-390. Eldridge SM, Ashby D, Kerry S (2006) Int
    J Epidemiol 35:1292-1300 (``m~ = m(1 + cv^2)``).
    """
    return 1.0 + (size_weighted_mean - 1.0) * icc
