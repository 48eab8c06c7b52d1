"""The per-cell path gives the same figures as the row-by-row path (analysis/stats/cells.py).

A design of arms, strata and categorical covariates (and a numeric covariate with few
values) has few distinct design rows; the models then sum per cell. Each test fits the same
model both ways, on designs with empty cells (combinations of levels nobody has) and cells of
one participant, clustered and not, and asks for the same estimates, standard errors, degrees
of freedom, p-values and intervals to 1e-10.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from analysis.compliance import one_sided_effects
from analysis.stats import build_design, lm_robust, logistic_regression
from analysis.stats.cells import Cells
from analysis.stats.cr2 import cluster_blocks
from analysis.stats.design import DesignMatrix
from analysis.stats.regression import RobustFit, full_rank_cells

TOLERANCE = 1e-10


def trial(seed: int, n: int = 3_000, *, with_age: bool = False) -> pd.DataFrame:
    """Four arms, ten courts, two categorical covariates; two rare levels of one person each.

    Households of one to three people are randomised together. Most of the 4 x 10 x 3 x 4
    combinations of arm, court, role and language are empty or hold a handful of people.
    """
    rng = np.random.default_rng(seed)
    household = np.sort(rng.integers(0, n // 2, n))
    arm_of = rng.choice(["control", "sms", "letter", "call"], household.max() + 1)
    court_of = rng.choice([f"court{i}" for i in range(10)], household.max() + 1)
    frame = pd.DataFrame(
        {
            "arm": pd.Categorical(arm_of[household], ["control", "sms", "letter", "call"]),
            "stratum": court_of[household],
            "role": rng.choice(["victim", "witness", "expert"], n, p=[0.5, 0.45, 0.05]),
            "language": rng.choice(["en", "cy", "pl"], n, p=[0.8, 0.15, 0.05]),
            "household": household,
        }
    )
    frame.loc[7, "language"] = "ur"  # a level of one person: a cell of one row
    frame.loc[11, "role"] = "interpreter"
    if with_age:
        frame["age"] = rng.choice([20.0, 40.0, 60.0], n)  # numeric, with three values
    effect = frame["arm"].map({"control": 0.0, "sms": 0.4, "letter": 0.2, "call": 0.3})
    logit = -0.2 + effect.to_numpy(dtype=float) + 0.3 * (frame["role"] == "victim")
    frame["attended"] = rng.binomial(1, 1 / (1 + np.exp(-logit))).astype(np.float64)
    reached = rng.random(n) < 0.8
    frame["delivered"] = np.where(frame["arm"] == "control", 0.0, reached.astype(float))
    return frame


def with_ages(seed: int) -> pd.DataFrame:
    return trial(seed, 12_000, with_age=True)


def designed(frame: pd.DataFrame) -> DesignMatrix:
    covariates = ["role", "language"] + (["age"] if "age" in frame else [])
    return build_design(
        frame,
        arm="arm",
        control="control",
        covariates=covariates,
        strata="stratum",
        outcome="attended",
    )


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def without_cells(design: DesignMatrix) -> DesignMatrix:
    """The same design as its rows (gathered from the cells), for the models to fit by row."""
    return dataclasses.replace(design, dense=design.x, cells=None)


@pytest.mark.parametrize("with_age", [False, True])
def test_the_design_has_cells_some_of_one_row_and_fewer_than_the_combinations(
    with_age: bool,
) -> None:
    design = designed(with_ages(1) if with_age else trial(1))
    cells = design.cells
    assert cells is not None
    assert np.array_equal(cells.table[cells.codes], design.x)  # each row is its cell's row
    assert (cells.counts == 1).sum() >= 2
    possible = 4 * 10 * 4 * 4 * (3 if with_age else 1)
    assert cells.n_cells < possible  # many combinations are empty
    assert np.allclose(cells.cross(), design.x.T @ design.x, rtol=0, atol=0)


def test_a_continuous_covariate_leaves_the_design_without_cells() -> None:
    frame = trial(2)
    frame["score"] = np.random.default_rng(2).normal(size=len(frame))
    design = build_design(frame, arm="arm", control="control", covariates=["score"])
    assert design.cells is None


@pytest.mark.parametrize("given_rows", [False, True])
@pytest.mark.parametrize("clustered", [False, True])
@pytest.mark.parametrize("with_age", [False, True])
def test_the_linear_model_is_the_same_summed_per_cell(
    clustered: bool, with_age: bool, given_rows: bool
) -> None:
    """From the cells alone (as the report fits it, never gathering the n x k rows), or from
    the cells beside the rows: the same figures as from the rows."""
    frame = with_ages(3) if with_age else trial(3)
    design = designed(frame)
    y = frame["attended"].to_numpy()[design.rows]
    clusters = cluster_blocks(frame["household"].to_numpy()[design.rows]) if clustered else None

    def fit(x: np.ndarray | None, cells: Cells | None) -> RobustFit:
        return lm_robust(
            y,
            x,
            terms=design.terms,
            clusters=clusters,
            cross_product=design.cross_product,
            cells=cells,
        )

    by_cell = fit(design.x if given_rows else design.rows_x, design.cells)
    assert (design.dense is None) != given_rows  # the rows were not gathered
    by_row = fit(design.x, None)
    assert by_cell.se_type == ("CR2" if clustered else "HC2")
    for a, b in zip(by_cell.coefficients, by_row.coefficients, strict=True):
        for field in ("estimate", "std_error", "df", "statistic", "p_value", "ci_low", "ci_high"):
            assert same(getattr(a, field), getattr(b, field)), (a.term, field)


@pytest.mark.parametrize("se_type", ["HC0", "HC1"])
def test_the_other_sandwiches_are_the_same_summed_per_cell(se_type: str) -> None:
    frame = trial(4)
    design = designed(frame)
    y = frame["attended"].to_numpy()[design.rows]
    a, b = (
        lm_robust(y, design.x, terms=design.terms, se_type=se_type, cells=cells)
        for cells in (design.cells, None)
    )
    assert np.allclose(a.vcov, b.vcov, rtol=TOLERANCE, atol=1e-15)


@pytest.mark.parametrize("clustered", [False, True])
def test_the_logistic_model_is_the_same_summed_per_cell(clustered: bool) -> None:
    frame = with_ages(5)
    # A level of one person separates; here each rare level has one event and one non-event.
    frame.loc[[7, 8], "language"] = "ur"
    frame.loc[[11, 12], "role"] = "interpreter"
    frame.loc[[7, 11], "attended"] = 1.0
    frame.loc[[8, 12], "attended"] = 0.0
    design = designed(frame)
    assert design.cells is not None and (design.cells.counts == 1).any()
    y = frame["attended"].to_numpy()[design.rows]
    clusters = cluster_blocks(frame["household"].to_numpy()[design.rows]) if clustered else None
    by_cell = logistic_regression(
        y, design.rows_x, terms=design.terms, clusters=clusters, cells=design.cells
    )
    assert design.dense is None  # fitted from the cells alone, the rows never gathered
    by_rows_too, by_row = (
        logistic_regression(y, design.x, terms=design.terms, clusters=clusters, cells=cells)
        for cells in (design.cells, None)
    )
    assert by_cell == by_rows_too
    assert by_cell.note is None and by_row.note is None
    assert len(by_cell.odds_ratios) == len(design.terms)
    for a, b in zip(by_cell.odds_ratios, by_row.odds_ratios, strict=True):
        for field in ("log_odds", "std_error", "odds_ratio", "ci_low", "ci_high", "p_value"):
            assert same(getattr(a, field), getattr(b, field)), (a.term, field)


def test_separation_is_found_the_same_way_per_cell() -> None:
    frame = trial(6)
    frame.loc[frame["language"] == "pl", "attended"] = 1.0
    design = designed(frame)
    y = frame["attended"].to_numpy()[design.rows]
    by_cell = logistic_regression(y, design.rows_x, terms=design.terms, cells=design.cells)
    by_row = logistic_regression(y, design.x, terms=design.terms)
    assert by_cell.odds_ratios == () and by_cell.note == by_row.note
    # The level of one person (its cell one row) is found first, both ways.
    assert by_cell.note is not None and "all participants in role[interpreter]" in by_cell.note


@pytest.mark.parametrize("clustered", [False, True])
def test_the_complier_effects_are_the_same_summed_per_cell(clustered: bool) -> None:
    frame = trial(7)
    design = designed(frame)
    y = frame["attended"].to_numpy()[design.rows]
    delivered = frame["delivered"].to_numpy()[design.rows]
    clusters = cluster_blocks(frame["household"].to_numpy()[design.rows]) if clustered else None
    by_cell = one_sided_effects(y, design, delivered, clusters, 0.05)
    assert design.dense is None  # both stages from the cells, the rows never gathered
    by_row = one_sided_effects(y, without_cells(design), delivered, clusters, 0.05)
    assert by_cell.keys() == by_row.keys() == {"sms", "letter", "call"}
    for arm, effect in by_cell.items():
        assert effect.estimate is not None and effect.std_error is not None
        assert same(effect.estimate, by_row[arm].estimate), arm
        assert same(effect.std_error, by_row[arm].std_error), arm


def test_an_arm_that_reached_nobody_stays_exogenous_per_cell_too() -> None:
    frame = trial(8)
    frame.loc[frame["arm"] == "call", "delivered"] = 0.0
    design = designed(frame)
    y = frame["attended"].to_numpy()[design.rows]
    delivered = frame["delivered"].to_numpy()[design.rows]
    by_cell = one_sided_effects(y, design, delivered, None, 0.05)
    by_row = one_sided_effects(y, without_cells(design), delivered, None, 0.05)
    assert by_cell["call"] == by_row["call"] and by_cell["call"].estimate is None
    for arm in ("sms", "letter"):
        assert same(by_cell[arm].estimate, by_row[arm].estimate)
        assert same(by_cell[arm].std_error, by_row[arm].std_error)


def test_two_row_clusters_get_the_same_adjustment_in_closed_form_as_by_eigh() -> None:
    """CR2's (I - H_gg)^{-1/2} for pairs, in closed form, equals eigh's, singular ones too."""
    from analysis.stats.cr2 import _inverse_sqrt_pairs, _inverse_sqrt_stack

    rng = np.random.default_rng(9)
    x = rng.normal(size=(2_000, 2, 3))
    hat = x @ x.transpose(0, 2, 1) / (1.0 + (x * x).sum(axis=(1, 2)))[:, None, None]
    m = np.eye(2) - hat
    m[:3] = np.eye(2) - 0.5  # leverage one: a zero eigenvalue, the pseudo-inverse root
    m[3:6] = np.diag([0.0004, 0.8])  # near-singular: left to eigh
    closed, by_eigh = _inverse_sqrt_pairs(m), _inverse_sqrt_stack(m)
    assert np.max(np.abs(closed - by_eigh) / np.maximum(1.0, np.abs(by_eigh))) < TOLERANCE


def test_a_design_where_nothing_varies_keeps_every_row() -> None:
    """A subgroup whose people are all in one arm, with no covariate: the design is the
    intercept alone, a single cell of every row (a regression: it once had no rows)."""
    frame = pd.DataFrame(
        {"arm": pd.Categorical(["control"] * 7, categories=["control", "sms"]), "y": [1.0] * 7}
    )
    design = build_design(frame, arm="arm", control="control", outcome="y")
    assert design.x.shape[0] == 7


def test_a_design_with_cells_and_an_offset_column_is_fitted_from_its_rows() -> None:
    """A year of birth has few values (so the design has cells) far from zero: its column
    is centred, which is done on the rows, so the models gather them and agree with a fit
    from the rows."""
    frame = trial(9)
    frame["born"] = 1940.0 + np.random.default_rng(9).integers(0, 60, len(frame))
    design = build_design(
        frame, arm="arm", control="control", covariates=["born"], outcome="attended"
    )
    assert design.cells is not None and design.dense is None
    assert full_rank_cells(design.cells, design.terms) is None  # to centre: from the rows
    y = frame["attended"].to_numpy()[design.rows]
    delivered = frame["delivered"].to_numpy()[design.rows]
    clusters = cluster_blocks(frame["household"].to_numpy()[design.rows])
    linear = lm_robust(y, design.rows_x, terms=design.terms, clusters=clusters, cells=design.cells)
    logit = logistic_regression(y, design.rows_x, terms=design.terms, cells=design.cells)
    complier = one_sided_effects(y, design, delivered, clusters, 0.05)
    rows = without_cells(design)
    linear_rows = lm_robust(y, rows.x, terms=design.terms, clusters=clusters)
    logit_rows = logistic_regression(y, rows.x, terms=design.terms)
    complier_rows = one_sided_effects(y, rows, delivered, clusters, 0.05)
    for a, b in zip(linear.coefficients, linear_rows.coefficients, strict=True):
        assert same(a.estimate, b.estimate) and same(a.std_error, b.std_error), a.term
        assert same(a.df, b.df), a.term
    for c, d in zip(logit.odds_ratios, logit_rows.odds_ratios, strict=True):
        assert same(c.log_odds, d.log_odds) and same(c.std_error, d.std_error), c.term
    assert complier.keys() == complier_rows.keys() and complier
    for arm, effect in complier.items():
        assert same(effect.estimate, complier_rows[arm].estimate), arm
        assert same(effect.std_error, complier_rows[arm].std_error), arm
