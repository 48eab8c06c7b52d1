"""Regression models reproduce R (estimatr 1.0.0, sandwich 3.0.2, lmtest) to 1e-6."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.stats.design import DesignMatrix, build_design
from analysis.stats.iv import iv_robust
from analysis.stats.logistic import LogisticFit, logistic_regression
from analysis.stats.regression import RobustFit, lm_robust

RTOL = 1e-6
P_ATOL = 1e-4
FIELDS = ("estimate", "std_error", "df", "ci_low", "ci_high", "p_value")


def r_term(term: str) -> str:
    """Our term name in R's spelling: ``arm[sms]`` is ``armsms``."""
    return re.sub(r"^(\w+)\[(.+)\]$", r"\1\2", term)


def assert_matches_estimatr(fit: RobustFit, expected: dict[str, Any]) -> None:
    assert [r_term(t) for t in fit.terms] == expected["term"]
    for name in FIELDS:
        ours = np.array([getattr(c, name) for c in fit.coefficients], dtype=float)
        if name == "p_value":
            np.testing.assert_allclose(ours, expected[name], rtol=0, atol=P_ATOL, err_msg=name)
        else:
            np.testing.assert_allclose(ours, expected[name], rtol=RTOL, err_msg=name)


@pytest.mark.parametrize(
    ("key", "se_type", "clustered"),
    [
        ("lm_hc2", None, False),
        ("lm_hc1", "HC1", False),
        ("lm_hc0", "HC0", False),
        ("lm_cr2", None, True),
        ("lm_cr0", "CR0", True),
        ("lm_stata", "stata", True),
    ],
)
def test_lm_robust_matches_estimatr(
    stats_reference: dict[str, Any],
    reference_trial: pd.DataFrame,
    reference_design: DesignMatrix,
    key: str,
    se_type: str | None,
    clustered: bool,
) -> None:
    y = reference_trial["attended"].to_numpy()[reference_design.rows]
    clusters = reference_trial["household"].to_numpy()[reference_design.rows] if clustered else None
    fit = lm_robust(
        y,
        reference_design.x,
        terms=reference_design.terms,
        clusters=clusters,
        se_type=se_type,
    )
    assert fit.se_type == (se_type or ("CR2" if clustered else "HC2"))
    assert_matches_estimatr(fit, stats_reference[key])


def test_lm_robust_cr2_with_arm_only_matches_estimatr(
    stats_reference: dict[str, Any], reference_trial: pd.DataFrame
) -> None:
    arm = reference_trial["arm"].astype(str).to_numpy()
    x = np.column_stack([np.ones(len(arm)), arm == "sms", arm == "letter"]).astype(float)
    fit = lm_robust(
        reference_trial["attended"],
        x,
        terms=["(Intercept)", "arm[sms]", "arm[letter]"],
        clusters=reference_trial["household"],
    )
    assert fit.n_clusters == reference_trial["household"].nunique()
    assert_matches_estimatr(fit, stats_reference["lm_cr2_arm_only"])


def test_bell_mccaffrey_df_only_for_requested_terms(
    reference_trial: pd.DataFrame, reference_design: DesignMatrix
) -> None:
    y = reference_trial["attended"].to_numpy()
    full = lm_robust(
        y,
        reference_design.x,
        terms=reference_design.terms,
        clusters=reference_trial["household"],
    )
    some = lm_robust(
        y,
        reference_design.x,
        terms=reference_design.terms,
        clusters=reference_trial["household"],
        df_terms=["arm[sms]"],
    )
    assert some.coefficient("arm[sms]").df == pytest.approx(full.coefficient("arm[sms]").df)
    assert some.coefficient("age").df is None
    assert some.coefficient("age").std_error == pytest.approx(full.coefficient("age").std_error)


@pytest.mark.parametrize(("key", "clustered"), [("iv_hc2", False), ("iv_cr2", True)])
def test_iv_robust_matches_estimatr(
    stats_reference: dict[str, Any],
    reference_trial: pd.DataFrame,
    key: str,
    clustered: bool,
) -> None:
    fit = receipt_fit(reference_trial, ["age", "prior_fta", "role"], clustered)
    assert_matches_estimatr(fit, stats_reference[key])


def receipt_fit(trial: pd.DataFrame, covariates: list[str], clustered: bool) -> RobustFit:
    """The effect of receiving a message (recv_sms, recv_letter), each arm its instrument, as
    estimatr's iv_robust(attended ~ recv_sms + recv_letter + ... | arm + ...)."""
    full = build_design(
        trial,
        arm="arm",
        control="control",
        covariates=["recv_sms", "recv_letter", *covariates],
        strata="court",
    )
    keep = [j for j, t in enumerate(full.terms) if t not in full.arm_terms.values()]
    instruments = full.x[:, [full.terms.index(t) for t in full.arm_terms.values()]]
    return iv_robust(
        trial["attended"],
        full.x[:, keep],
        instruments,
        endogenous=["recv_sms", "recv_letter"],
        terms=[full.terms[j] for j in keep],
        clusters=trial["household"] if clustered else None,
    )


def assert_matches_coeftest(fit: LogisticFit, expected: dict[str, Any]) -> None:
    assert fit.note is None
    assert [r_term(c.term) for c in fit.odds_ratios] == expected["term"]
    rows = fit.odds_ratios
    np.testing.assert_allclose([c.log_odds for c in rows], expected["estimate"], rtol=RTOL)
    np.testing.assert_allclose([c.std_error for c in rows], expected["std_error"], rtol=RTOL)
    np.testing.assert_allclose([np.log(c.ci_low) for c in rows], expected["ci_low"], rtol=RTOL)
    np.testing.assert_allclose([np.log(c.ci_high) for c in rows], expected["ci_high"], rtol=RTOL)
    np.testing.assert_allclose([c.p_value for c in rows], expected["p_value"], atol=P_ATOL)


def test_logistic_model_based_matches_glm(
    stats_reference: dict[str, Any], reference_trial: pd.DataFrame, reference_design: DesignMatrix
) -> None:
    fit = logistic_regression(
        reference_trial["attended"], reference_design.x, terms=reference_design.terms
    )
    assert fit.vcov_type == "model"
    assert_matches_coeftest(fit, stats_reference["logit_model"])


def test_logistic_cluster_robust_matches_vcovcl_hc1(
    stats_reference: dict[str, Any], reference_trial: pd.DataFrame, reference_design: DesignMatrix
) -> None:
    fit = logistic_regression(
        reference_trial["attended"],
        reference_design.x,
        terms=reference_design.terms,
        clusters=reference_trial["household"],
    )
    assert fit.n_clusters == reference_trial["household"].nunique()
    assert_matches_coeftest(fit, stats_reference["logit_cluster_hc1"])
