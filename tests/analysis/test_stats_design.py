"""The design-matrix builder: reference levels, constant columns and missing covariates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.design import build_design


def make_frame(**overrides: list[object]) -> pd.DataFrame:
    columns: dict[str, list[object]] = {
        "arm": ["control", "sms", "letter", "control", "sms", "letter"],
        "age": [30.0, None, 50.0, 20.0, 40.0, 60.0],
        "role": ["victim", "witness", None, "victim", "witness", "victim"],
        "site": ["a", "a", "a", "a", "a", "a"],
        "court": ["n", "s", "n", "s", "n", "s"],
        "attended": [1, 0, 1, None, 1, 0],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def test_control_is_the_reference_and_strata_enter_as_fixed_effects() -> None:
    design = build_design(make_frame(), arm="arm", control="control", strata="court")
    assert design.terms == ("(Intercept)", "arm[letter]", "arm[sms]", "court[s]")
    assert design.arm_terms == {"letter": "arm[letter]", "sms": "arm[sms]"}
    np.testing.assert_array_equal(design.x[:, 2], [0, 1, 0, 0, 1, 0])


def test_rows_with_missing_covariates_are_dropped_and_counted() -> None:
    design = build_design(
        make_frame(), arm="arm", control="control", covariates=["age", "role"], outcome="attended"
    )
    np.testing.assert_array_equal(design.rows, [0, 4, 5])
    assert design.n_dropped_missing == 3


def test_missing_indicator_keeps_rows_and_adds_indicator_columns() -> None:
    design = build_design(
        make_frame(), arm="arm", control="control", covariates=["age", "role"], missing="indicator"
    )
    assert design.n_dropped_missing == 0
    assert "age[missing]" in design.terms
    assert "role[(missing)]" in design.terms
    age = design.x[:, design.terms.index("age")]
    assert age[1] == pytest.approx(40.0)
    assert design.missing_indicators == ("age[missing]",)


def test_constant_covariates_are_dropped_and_reported() -> None:
    design = build_design(make_frame(), arm="arm", control="control", covariates=["site", "age"])
    assert design.dropped_constant == ()
    numeric_constant = make_frame(site=[1, 1, 1, 1, 1, 1])
    design = build_design(numeric_constant, arm="arm", control="control", covariates=["site"])
    assert design.dropped_constant == ("site",)
    assert "site" not in design.terms


def test_an_arm_with_no_analysed_participants_is_an_error() -> None:
    with pytest.raises(ValueError, match="'letter' has no participants"):
        build_design(
            make_frame(role=["victim", "witness", None, "victim", "witness", None]),
            arm="arm",
            control="control",
            arms=["sms", "letter"],
            covariates=["role"],
        )
