"""Bayesian summaries of an arm against control on a binary outcome, without Monte Carlo.

Each arm's event probability gets a uniform Beta(1, 1) prior, so its posterior is
Beta(1 + events, 1 + non-events). With whole units randomised, the counts are divided by the
arm's design effect first (effective counts), so the posterior is as wide as the design's
information allows. With whole-number counts both summaries are exact sums; with effective
(fractional) counts they are one-dimensional integrals evaluated by adaptive quadrature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, special

PRIOR = "Beta(1, 1) on each arm's event probability"
EFFECTIVE = "counts divided by each arm's design effect (effective counts)"


@dataclass(frozen=True)
class BayesComparison:
    """Posterior P(arm better) and the expected loss of choosing the arm over control."""

    prob_better: float | None
    expected_loss: float | None
    prior: str = PRIOR
    note: str | None = None


def _prob_greater(a1: float, b1: float, a2: float, b2: float) -> float:
    """P(X1 > X2) for independent X1 ~ Beta(a1, b1), X2 ~ Beta(a2, b2).

    For whole a1: ``sum_{i=0}^{a1-1} B(a2 + i, b1 + b2) / ((b1 + i) B(1 + i, b1) B(a2, b2))``;
    every term is positive, so the sum is accurate even when the probability is tiny.
    Otherwise :func:`_prob_greater_quadrature`.
    """
    if not float(a1).is_integer():
        return _prob_greater_quadrature(a1, b1, a2, b2)
    i = np.arange(int(a1), dtype=np.float64)
    log_terms = (
        special.betaln(a2 + i, b1 + b2)
        - np.log(b1 + i)
        - special.betaln(1.0 + i, b1)
        - special.betaln(a2, b2)
    )
    return float(min(1.0, np.exp(special.logsumexp(log_terms))))


def _prob_greater_quadrature(a1: float, b1: float, a2: float, b2: float) -> float:
    """``P(X1 > X2) = int_0^1 F2(F1^{-1}(u)) du``: the integrand is smooth and bounded by 1
    however concentrated the posteriors are, so adaptive quadrature stays accurate."""
    value, _ = integrate.quad(
        lambda u: float(special.betainc(a2, b2, special.betaincinv(a1, b1, u))),
        0.0,
        1.0,
        epsabs=1e-12,
        epsrel=1e-10,
        limit=200,
    )
    return float(min(1.0, max(0.0, value)))


def _posterior(events: float, n: float, deff: float = 1.0) -> tuple[float, float]:
    if n < 0 or events < 0 or events > n:
        raise ValueError(f"need 0 <= events <= n, got events={events}, n={n}")
    if not deff >= 1.0:
        raise ValueError(f"the design effect must be at least 1, got {deff}")
    if deff == 1.0:
        return 1 + events, 1 + n - events
    return 1 + events / deff, 1 + (n - events) / deff


def prob_better(
    events_arm: int,
    n_arm: int,
    events_control: int,
    n_control: int,
    *,
    deff_arm: float = 1.0,
    deff_control: float = 1.0,
) -> float:
    """Posterior probability that the arm's event rate exceeds control's, P(p_arm > p_control).

    ``deff_arm`` and ``deff_control`` (each at least 1) divide the arm's counts: the
    posterior of an arm of n participants in units with design effect deff carries the
    information of n / deff independent participants.

    References
    ----------
    Miller E (2015) Formulas for Bayesian A/B testing, evanmiller.org. Cook JD (2005) Exact
    calculation of beta inequalities, UT MD Anderson technical report 54.
    """
    a1, b1 = _posterior(events_arm, n_arm, deff_arm)
    a2, b2 = _posterior(events_control, n_control, deff_control)
    return _prob_greater(a1, b1, a2, b2)


def expected_loss(
    events_arm: int,
    n_arm: int,
    events_control: int,
    n_control: int,
    *,
    deff_arm: float = 1.0,
    deff_control: float = 1.0,
) -> float:
    """Expected loss of adopting the arm: E[max(p_control - p_arm, 0)] under the posteriors.

    The expected shortfall in event rate if the arm is adopted but control is in fact better;
    it is in rate units (0.01 = one percentage point). With ``m_c = a_c / (a_c + b_c)``:
    ``E[(p_c - p_a)^+] = m_c P(Beta(a_c + 1, b_c) > p_a) - m_a P(p_c > Beta(a_a + 1, b_a))``,
    because ``E[X 1{X > Y}] = E[X] P(X' > Y)`` with X' ~ Beta(a + 1, b).

    References
    ----------
    Stucchio C (2015) Bayesian A/B testing at VWO, VWO technical whitepaper, section 4.
    """
    aa, ba = _posterior(events_arm, n_arm, deff_arm)
    ac, bc = _posterior(events_control, n_control, deff_control)
    mean_a = aa / (aa + ba)
    mean_c = ac / (ac + bc)
    loss = mean_c * _prob_greater(ac + 1, bc, aa, ba) - mean_a * _prob_greater(ac, bc, aa + 1, ba)
    return max(0.0, loss)


def bayes_comparison(
    events_arm: int,
    n_arm: int,
    events_control: int,
    n_control: int,
    *,
    deff_arm: float = 1.0,
    deff_control: float = 1.0,
) -> BayesComparison:
    """Both posterior summaries; with no data in both arms they are the prior's (0.5, 1/6).

    With design effects above 1 the posteriors use effective counts (module docstring).

    References
    ----------
    Kish L (1965) Survey Sampling, section 8.2 (effective sample size n / deff).
    """
    note = "no outcomes observed: values are the prior's" if n_arm == n_control == 0 else None
    design = {"deff_arm": deff_arm, "deff_control": deff_control}
    prior = PRIOR if deff_arm == deff_control == 1.0 else f"{PRIOR}; {EFFECTIVE}"
    return BayesComparison(
        prob_better(events_arm, n_arm, events_control, n_control, **design),
        expected_loss(events_arm, n_arm, events_control, n_control, **design),
        prior=prior,
        note=note,
    )
