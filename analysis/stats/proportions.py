"""Binary outcomes by arm: Wilson intervals and two-arm comparisons of proportions.

The intervals are statsmodels' (``statsmodels.stats.proportion``) and the tests scipy's: the
code here chooses the methods, checks the counts and gives every undefined case its reason.
Every function returns a value for every input: where a quantity is undefined (no
participants, zero events in a cell) the number is ``None`` and ``note`` says why, so no NaN
or infinity ever reaches a report. statsmodels is imported inside the functions, so that
loading the package (as every ``nudge`` command does) does not load it.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class IntervalEstimate:
    """A point estimate with a confidence interval; ``None`` parts are explained by ``note``."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    note: str | None = None


@dataclass(frozen=True)
class ProportionEstimate:
    """The proportion of participants with the event in one arm, with its Wilson interval."""

    events: int
    n: int
    proportion: float | None
    ci_low: float | None
    ci_high: float | None
    note: str | None = None


@dataclass(frozen=True)
class TwoArmComparison:
    """An arm compared with control on a binary outcome (arm minus control, arm over control)."""

    arm: ProportionEstimate
    control: ProportionEstimate
    alpha: float
    risk_difference: IntervalEstimate
    risk_ratio: IntervalEstimate
    odds_ratio: IntervalEstimate
    chi_square: float | None
    chi_square_p: float | None
    yates: bool
    fisher_p: float | None
    notes: tuple[str, ...] = ()


NO_OUTCOMES = "an arm has no participants with an outcome"
DEGENERATE_RATIO = (
    "risk ratio interval not given: every participant in both arms had the event, so its "
    "standard error is 0"
)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")


def _check_counts(events: int, n: int) -> None:
    if n < 0 or events < 0 or events > n:
        raise ValueError(f"need 0 <= events <= n, got events={events}, n={n}")


def wilson_limits(events: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson's score interval for ``events`` out of ``n > 0``, either of which may be fractional.

    statsmodels' ``proportion_confint(method="wilson")``, with the ends pinned at exactly 0
    (no events) and 1 (all events) as R's ``prop.test`` pins them: statsmodels leaves them a
    rounding error away, which a difference built on them would carry past -1 or 1.
    """
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(events, n, alpha, method="wilson")
    return (0.0 if events == 0 else float(low)), (1.0 if events == n else float(high))


def wilson_interval(events: int, n: int, alpha: float = 0.05) -> ProportionEstimate:
    """Wilson score interval for a binomial proportion.

    The interval is the set of p whose score test is not rejected at level alpha:
    centre ``(x + z^2/2) / (n + z^2)``, half-width
    ``z * sqrt(n) / (n + z^2) * sqrt(p_hat * (1 - p_hat) + z^2 / (4n))``.
    It equals ``prop.test(x, n, correct = FALSE)$conf.int`` in R.

    Parameters
    ----------
    events, n : int
        Participants with the event, and participants with the outcome observed.
    alpha : float
        Two-sided level; the interval has coverage ``1 - alpha``.

    Returns
    -------
    ProportionEstimate
        ``proportion`` and the interval are ``None`` when ``n == 0``.

    References
    ----------
    Wilson EB (1927) JASA 22:209-212. Agresti A, Coull BA (1998) Am Stat 52:119-126.
    """
    _check_counts(events, n)
    _check_alpha(alpha)
    if n == 0:
        return ProportionEstimate(events, n, None, None, None, "no participants with an outcome")
    return ProportionEstimate(events, n, events / n, *wilson_limits(events, n, alpha))


def newcombe_difference(
    events_arm: int, n_arm: int, events_control: int, n_control: int, alpha: float = 0.05
) -> IntervalEstimate:
    """Risk difference (arm minus control) with Newcombe's hybrid score interval.

    With Wilson limits ``(l1, u1)`` for the arm and ``(l2, u2)`` for control and
    ``d = p1 - p2``: ``L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)`` and
    ``U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)``: statsmodels'
    ``confint_proportions_2indep(method="newcomb")``, kept within [-1, 1], where its
    unpinned Wilson ends (see :func:`wilson_limits`) can leave it by a rounding error.

    References
    ----------
    Newcombe RG (1998) Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Stat Med 17:873-890, method 10.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    _check_alpha(alpha)
    if n_arm == 0 or n_control == 0:
        return IntervalEstimate(None, None, None, NO_OUTCOMES)
    low, high = confint_proportions_2indep(
        events_arm, n_arm, events_control, n_control, method="newcomb", alpha=alpha
    )
    d = events_arm / n_arm - events_control / n_control
    return IntervalEstimate(d, max(-1.0, float(low)), min(1.0, float(high)))


def _risk_ratio(x1: int, n1: int, x2: int, n2: int, alpha: float) -> IntervalEstimate:
    """Risk ratio with the Katz log interval, se(log RR) = sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2)."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    if x2 == 0:
        return IntervalEstimate(None, None, None, "risk ratio undefined: no events in control")
    rr = (x1 / n1) / (x2 / n2)
    if x1 == 0:
        return IntervalEstimate(rr, None, None, "risk ratio interval undefined: no events in arm")
    if x1 == n1 and x2 == n2:
        # Every participant in both arms had the event: [1, 1] would claim certainty.
        return IntervalEstimate(rr, None, None, DEGENERATE_RATIO)
    low, high = confint_proportions_2indep(
        x1, n1, x2, n2, method="log", compare="ratio", alpha=alpha
    )
    return IntervalEstimate(rr, float(low), float(high))


def _odds_ratio(x1: int, n1: int, x2: int, n2: int, alpha: float) -> IntervalEstimate:
    """Odds ratio ad/bc with Woolf's log interval, se(log OR) = sqrt(1/a + 1/b + 1/c + 1/d)."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    if min(x1, n1 - x1, x2, n2 - x2) == 0:
        return IntervalEstimate(None, None, None, "odds ratio undefined: a cell of the 2x2 is 0")
    odds = (x1 * (n2 - x2)) / ((n1 - x1) * x2)
    low, high = confint_proportions_2indep(
        x1, n1, x2, n2, method="logit", compare="odds-ratio", alpha=alpha
    )
    return IntervalEstimate(odds, float(low), float(high))


def pearson_chi_square(
    x1: int, n1: int, x2: int, n2: int, yates: bool = False
) -> tuple[float | None, float | None]:
    """Pearson chi-square statistic and p (1 df) for a 2x2 table, as R ``chisq.test``.

    scipy's ``chi2_contingency``; with ``yates=True`` each ``|O - E|`` is reduced by
    ``min(0.5, |O - E|)``, as R does. Returns ``(None, None)`` when a margin is zero (the
    statistic is undefined).
    """
    if min(n1, n2, x1 + x2, n1 + n2 - x1 - x2) == 0:
        return None, None
    found = stats.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=yates)
    return float(found.statistic), float(found.pvalue)


def compare_two_arms(
    events_arm: int,
    n_arm: int,
    events_control: int,
    n_control: int,
    alpha: float = 0.05,
    yates: bool = False,
) -> TwoArmComparison:
    """Compare an arm with control on a binary outcome.

    Risk difference with Newcombe's hybrid score interval (method 10), risk ratio with the
    Katz log interval, odds ratio with Woolf's log interval (the three from statsmodels'
    ``confint_proportions_2indep``, methods ``newcomb``, ``log`` and ``logit``), Pearson
    chi-square (no continuity correction unless ``yates``) and Fisher's exact two-sided p
    (scipy, which sums tables no more probable than the observed, as R ``fisher.test``).

    References
    ----------
    Newcombe RG (1998) Stat Med 17:873-890. Katz D et al. (1978) Biometrics 34:469-474.
    Woolf B (1955) Ann Hum Genet 19:251-253. Agresti A (2013) Categorical Data Analysis, 3rd
    ed., sections 3.1 and 3.5.
    """
    counts = (events_arm, n_arm, events_control, n_control)
    arm = wilson_interval(events_arm, n_arm, alpha)
    control = wilson_interval(events_control, n_control, alpha)
    if n_arm == 0 or n_control == 0:
        empty = IntervalEstimate(None, None, None, NO_OUTCOMES)
        return TwoArmComparison(
            arm, control, alpha, empty, empty, empty, None, None, yates, None, (NO_OUTCOMES,)
        )
    rr = _risk_ratio(*counts, alpha)
    odds = _odds_ratio(*counts, alpha)
    chi, chi_p = pearson_chi_square(*counts, yates)
    table = [[events_arm, n_arm - events_arm], [events_control, n_control - events_control]]
    fisher_p = float(min(1.0, stats.fisher_exact(table).pvalue))
    notes = [n for n in (rr.note, odds.note) if n]
    if chi is None:
        notes.append("chi-square undefined: every participant had the same outcome")
    return TwoArmComparison(
        arm=arm,
        control=control,
        alpha=alpha,
        risk_difference=newcombe_difference(*counts, alpha),
        risk_ratio=rr,
        odds_ratio=odds,
        chi_square=chi,
        chi_square_p=chi_p,
        yates=yates,
        fisher_p=fisher_p,
        notes=tuple(notes),
    )
