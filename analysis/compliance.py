"""Complier average causal effects (CACE) by two-stage least squares, one- or two-sided.

Assignment to an arm instruments receipt of its reminder ("delivered"). Which estimator is
valid depends on who can be reached:

* **One-sided non-compliance** (nobody in control recorded as reached): one joint model,
  ``y ~ received[arm] ... + covariates + strata``, each ``received[arm] = arm x delivered``
  instrumented by its arm's indicator. The coefficient is the effect among those the arm
  reached. An arm that reached nobody has no compliers: its CACE is not defined, and its
  assignment indicator stays in the model as an exogenous term so the other arms are still
  identified and estimated on the same rows.
* **Two-sided non-compliance** (some controls recorded as reached): per arm against control
  alone, treatment received (``delivered``, whatever the arm) is the endogenous variable,
  instrumented by assignment to the arm: the Wald estimator with covariates. Under
  monotonicity the coefficient is the effect among compliers. An arm that reached no larger
  share than control has no compliers under monotonicity, and gets no CACE.

Standard errors are ``estimatr::iv_robust``'s (HC2, or CR2 by randomisation unit).

References
----------
Angrist JD, Imbens GW, Rubin DB (1996) Identification of causal effects using instrumental
variables. JASA 91:444-455. Imbens GW, Rubin DB (2015) Causal Inference, ch. 23-24.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.stats import DesignMatrix, iv_robust
from analysis.stats.cr2 import ClusterBlocks

ONE_SIDED = (
    "complier average causal effect by two-stage least squares, assignment instrumenting "
    "receipt: nobody in control was recorded as reached, so non-compliance is one-sided and "
    "each estimate is the effect among the participants its arm reached (Angrist, Imbens & "
    "Rubin 1996)"
)
TWO_SIDED = (
    "some control participants were recorded as reached (two-sided non-compliance): each "
    "arm's complier average causal effect is estimated against control alone by two-stage "
    "least squares, with treatment received (delivered) instrumented by assignment to the "
    "arm (the Wald estimator with covariates); it assumes nobody would be reached less for "
    "being assigned to the arm (monotonicity)"
)


@dataclass(frozen=True)
class ComplierEffect:
    """One arm's CACE and its robust standard error (None, with ``note``, if not defined)."""

    estimate: float | None
    std_error: float | None
    note: str | None = None


def reached_by_column(design: DesignMatrix, delivered: np.ndarray) -> np.ndarray:
    """``X' delivered``: how many were reached among the rows of each 0/1 design column.

    One pass over the design, or over its cells' totals (exact for counts below 2^53); for
    the intercept it is everyone reached, so control's count is that minus the arms'.
    """
    if design.cells is not None:
        return np.asarray(design.cells.table.T @ design.cells.sums(delivered))
    return np.asarray(design.x.T @ delivered)


def reached_in_control(design: DesignMatrix, delivered: np.ndarray) -> float:
    """How many control participants were recorded as reached (the intercept is column 0)."""
    counts = reached_by_column(design, delivered)
    arms = [design.terms.index(t) for t in design.arm_terms.values()]
    return float(counts[0] - counts[arms].sum())


def one_sided_effects(
    y: np.ndarray,
    design: DesignMatrix,
    delivered: np.ndarray,
    clusters: ClusterBlocks | None,
    alpha: float,
) -> dict[str, ComplierEffect]:
    """Every arm's CACE from one joint model; arms that reached nobody stay exogenous."""
    column = {arm: design.terms.index(term) for arm, term in design.arm_terms.items()}
    counts = reached_by_column(design, delivered)
    reached = {arm: bool(counts[j] > 0.0) for arm, j in column.items()}
    out = {
        arm: ComplierEffect(
            None,
            None,
            "nobody in this arm was recorded as reached, so it has no compliers: no complier "
            "average causal effect (its assignment stays in the model as an exogenous term)",
        )
        for arm, ok in reached.items()
        if not ok
    }
    endogenous = {arm: f"received[{arm}]" for arm, ok in reached.items() if ok}
    if not endogenous:
        return out
    received = [column[a] for a in endogenous]
    names = {design.arm_terms[a]: name for a, name in endogenous.items()}
    cells, instruments_table, x = None, None, None
    if design.cells is None:
        x = design.x.copy()
        x[:, received] *= delivered[:, None]
    else:  # all indicators: the cells of assignment and receipt, x given by its table
        cells, _, reached_cell = design.cells.split(delivered)
        instruments_table = cells.table
        x_table = cells.table.copy()
        x_table[:, received] *= reached_cell[:, None]
        cells = cells.with_table(x_table)
    try:
        fit = iv_robust(
            y,
            x,
            # The first stage: every exogenous term and the arm indicators (their table, when
            # the design has cells).
            design.rows_x,
            endogenous=list(endogenous.values()),
            terms=[names.get(t, t) for t in design.terms],
            clusters=clusters,
            alpha=alpha,
            df_terms=[],  # only the estimate and its SE are reported
            instruments_include_exogenous=True,
            instruments_cross_product=design.cross_product,
            cells=cells,
            instruments_table=instruments_table,
        )
    except ValueError as exc:
        failed = ComplierEffect(None, None, f"complier average causal effect not estimable: {exc}")
        return out | {arm: failed for arm in endogenous}
    for arm, name in endogenous.items():
        c = fit.coefficient(name)
        out[arm] = ComplierEffect(c.estimate, c.std_error)
    return out


def two_sided_effect(
    y: np.ndarray,
    design: DesignMatrix,
    delivered: np.ndarray,
    clusters: ClusterBlocks | None,
    alpha: float,
) -> ComplierEffect:
    """One arm's CACE against control on their rows only (``design`` has that one arm)."""
    ((arm, term),) = design.arm_terms.items()
    j = design.terms.index(term)
    assigned = design.x[:, j] == 1.0
    share_arm, share_control = delivered[assigned].mean(), delivered[~assigned].mean()
    if share_arm <= share_control:
        return ComplierEffect(
            None,
            None,
            f"no larger share reached in this arm ({share_arm:.0%}) than in control "
            f"({share_control:.0%}): no compliers, no complier average causal effect",
        )
    x = design.x.copy()
    x[:, j] = delivered
    terms = ["received" if t == term else t for t in design.terms]
    try:
        fit = iv_robust(
            y,
            x,
            design.x,
            endogenous=["received"],
            terms=terms,
            clusters=clusters,
            alpha=alpha,
            df_terms=[],
            instruments_include_exogenous=True,
            instruments_cross_product=design.cross_product,
        )
    except ValueError as exc:
        return ComplierEffect(None, None, f"complier average causal effect not estimable: {exc}")
    c = fit.coefficient("received")
    return ComplierEffect(c.estimate, c.std_error)
