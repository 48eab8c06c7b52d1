"""Outcomes that are not yes/no: a 1-5 scale, a count and a measurement, against R.

Reference values: reference/outcometypes/make_reference.R (estimatr, ordinal/MASS, sandwich,
Lee bounds by hand) on outcomes.csv (make_data.py). The report is built as for any trial,
once with the participant as the unit and once randomised by officer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.report import build_report, report_json
from analysis.stats.bounds import lee_bounds, trimmed_mean
from tests.analysis.test_bundle_r import rscript  # noqa: F401 (the fixture: Rscript's path)
from tests.analysis.test_report import assert_clean_json, definition

HERE = Path(__file__).parent / "reference" / "outcometypes"
ARMS = ["control", "sms", "letter"]
TREATMENTS = ["sms", "letter"]
RTOL = 1e-6
P_ATOL = 1e-4
OUTCOMES = [
    {
        "id": "confidence",
        "primary": True,
        "type": "scale",
        "scale": {"min": 1, "max": 5, "labels": {1: "not at all confident", 5: "very confident"}},
    },
    {"id": "contacts", "type": "count", "better": "lower"},
    {"id": "wait_minutes", "type": "continuous", "better": "lower"},
]


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads((HERE / "reference.json").read_text())


def survey_frame() -> pd.DataFrame:
    """outcomes.csv as the analysis frame: numbers as floats, NaN where not observed."""
    data = pd.read_csv(HERE / "outcomes.csv")
    return pd.DataFrame(
        {
            "participant_ref": data["participant_ref"],
            "arm": pd.Categorical(data["arm"], categories=ARMS),
            "unit": data["officer"],
            "stratum": pd.Categorical(data["court"]),
            "age": data["age"].astype("float64"),
            **{o["id"]: data[o["id"]].astype("float64") for o in OUTCOMES},
        }
    )


def survey_report(unit: str) -> dict[str, Any]:
    trial = definition(
        outcomes=OUTCOMES,
        population={"unit": unit, "strata": ["court"]},
        analysis={"covariates": ["age"], "correction": "holm"},
    )
    return report_json(build_report(survey_frame(), trial))


@pytest.fixture(scope="module")
def by_participant() -> dict[str, Any]:
    return {o["id"]: o for o in survey_report("participant")["outcomes"]}


@pytest.fixture(scope="module")
def by_officer() -> dict[str, Any]:
    return {o["id"]: o for o in survey_report("officer")["outcomes"]}


def close(ours: list[Any], theirs: list[Any], rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(ours, dtype=float), theirs, rtol=rtol)


@pytest.mark.parametrize("outcome", ["confidence", "contacts", "wait_minutes"])
def test_each_arms_mean_has_estimatrs_interval(
    outcome: str, by_participant: dict[str, Any], by_officer: dict[str, Any], reference: Any
) -> None:
    for report, clustered in ((by_participant, False), (by_officer, True)):
        arms = {a["arm"]: a for a in report[outcome]["measures"]["arms"]}
        for arm in ARMS:
            r = reference[outcome]["arm_means"][arm]
            r = r["clustered"] if clustered else r
            ours = arms[arm]
            assert ours["n"] == reference[outcome]["arm_means"][arm]["n"]
            close(
                [ours["mean"], ours["std_error"], ours["ci_low"], ours["ci_high"]],
                [r["estimate"], r["std_error"], r["ci_low"], r["ci_high"]],
            )


@pytest.mark.parametrize("outcome", ["confidence", "contacts", "wait_minutes"])
def test_the_difference_in_means_is_lm_robusts_hc2_and_cr2(
    outcome: str, by_participant: dict[str, Any], by_officer: dict[str, Any], reference: Any
) -> None:
    for report, key in ((by_participant, "difference"), (by_officer, "difference_clustered")):
        r = reference[outcome][key]
        rows = report[outcome]["measures"]["comparisons"]
        assert [c["arm"] for c in rows] == TREATMENTS
        for name in ("estimate", "std_error", "ci_low", "ci_high"):
            ours = [
                c["adjusted_difference" if name == "estimate" else f"adjusted_{name}"] for c in rows
            ]
            close(ours, r[name])
        np.testing.assert_allclose(
            [c["adjusted_p_value"] for c in rows], r["p_value"], rtol=0, atol=P_ATOL
        )


@pytest.mark.parametrize("outcome", ["confidence", "contacts", "wait_minutes"])
def test_hedges_g_follows_the_published_formula(
    outcome: str, by_participant: dict[str, Any], by_officer: dict[str, Any], reference: Any
) -> None:
    for arm_index, arm in enumerate(TREATMENTS):
        r = reference[outcome]["hedges_g"][arm]
        ours = by_participant[outcome]["measures"]["comparisons"][arm_index]
        close(
            [ours["hedges_g"], ours["g_ci_low"], ours["g_ci_high"]],
            [r["g"], r["ci_low"], r["ci_high"]],
        )
        clustered = by_officer[outcome]["measures"]["comparisons"][arm_index]
        close(
            [clustered["hedges_g"], clustered["g_ci_low"], clustered["g_ci_high"]],
            [r["g"], r["clustered_ci_low"], r["clustered_ci_high"]],
        )


def test_the_scale_has_a_proportional_odds_model_as_ordinal_clm(
    by_participant: dict[str, Any], by_officer: dict[str, Any], reference: Any
) -> None:
    for report, key in (
        (by_participant, "proportional_odds"),
        (by_officer, "proportional_odds_clustered"),
    ):
        r = reference["confidence"][key]
        rows = report["confidence"]["measures"]["comparisons"]
        close([c["odds_ratio"] for c in rows], r["ratio"])
        close([c["or_ci_low"] for c in rows], r["ci_low"])
        close([c["or_ci_high"] for c in rows], r["ci_high"])
        np.testing.assert_allclose(
            [c["or_p_value"] for c in rows], r["p_value"], rtol=0, atol=P_ATOL
        )
        assert all(c["rate_ratio"] is None for c in rows)
    assert "MASS::polr" in by_participant["confidence"]["measures"]["methods"]["secondary"]


def test_the_count_has_a_robust_poisson_rate_ratio_as_sandwich(
    by_participant: dict[str, Any], by_officer: dict[str, Any], reference: Any
) -> None:
    for report, key in ((by_participant, "poisson"), (by_officer, "poisson_clustered")):
        r = reference["contacts"][key]
        rows = report["contacts"]["measures"]["comparisons"]
        close([c["rate_ratio"] for c in rows], r["ratio"])
        close([c["rate_ci_low"] for c in rows], r["ci_low"])
        close([c["rate_ci_high"] for c in rows], r["ci_high"])
        np.testing.assert_allclose(
            [c["rate_p_value"] for c in rows], r["p_value"], rtol=0, atol=P_ATOL
        )
        assert all(c["odds_ratio"] is None for c in rows)
    assert "HC0" in by_participant["contacts"]["measures"]["methods"]["secondary"]
    assert all(
        c["odds_ratio"] is None and c["rate_ratio"] is None
        for c in by_participant["wait_minutes"]["measures"]["comparisons"]
    )


@pytest.mark.parametrize("outcome", ["confidence", "contacts", "wait_minutes"])
def test_lee_bounds_and_response_rates_match_the_trimming_done_in_r(
    outcome: str, by_participant: dict[str, Any], reference: Any
) -> None:
    measures = by_participant[outcome]["measures"]
    rows = measures["comparisons"]
    rates = {a["arm"]: a["response_rate"] for a in measures["arms"]}
    for c in rows:
        r = reference[outcome]["lee"][c["arm"]]
        close([c["lee_lower"], c["lee_upper"]], [r["lower"], r["upper"]])
        close([rates[c["arm"]], rates["control"]], [r["response_treated"], r["response_control"]])
        assert c["lee_trimmed_arm"] == r["trimmed_arm"]
        assert c["lee_lower"] <= c["mean_difference"] <= c["lee_upper"]


def test_differential_non_response_is_warned_about(by_participant: dict[str, Any]) -> None:
    confidence = by_participant["confidence"]
    assert confidence["measures"]["response_flagged"] is True  # about 62% against 82%
    assert confidence["measures"]["response_gap"] > 0.15
    assert any("response rates differ" in note for note in confidence["notes"])
    wait = by_participant["wait_minutes"]  # a few missing, alike in every arm
    assert wait["measures"]["response_flagged"] is False
    assert not any("response rates differ" in note for note in wait["notes"])


def test_the_scale_answers_are_counted_by_arm(
    by_participant: dict[str, Any], reference: Any
) -> None:
    measures = by_participant["confidence"]["measures"]
    for row in measures["distribution"]:
        expected = reference["confidence"]["distribution"][row["arm"]]
        assert row["points"] == [1, 2, 3, 4, 5]
        assert row["counts"] == [expected[str(p)] for p in range(1, 6)]
        assert sum(row["shares"]) == pytest.approx(1.0)
    assert measures["scale_labels"] == {"1": "not at all confident", "5": "very confident"}
    assert by_participant["contacts"]["measures"]["distribution"] == []


def test_a_survey_outcomes_json_is_clean_and_a_binary_ones_unchanged(
    by_participant: dict[str, Any],
) -> None:
    assert_clean_json({"outcomes": list(by_participant.values())})
    assert by_participant["confidence"]["type"] == "scale"
    assert by_participant["confidence"]["arms"] == []
    binary = report_json(build_report(survey_frame().assign(attended=1.0), definition()))[
        "outcomes"
    ][0]
    assert "type" not in binary and "measures" not in binary


def test_trimming_keeps_the_boundary_answer_with_its_fractional_weight() -> None:
    # Remove 1.5 of six people from the top: the 3, and half of one 2.
    assert trimmed_mean([1, 1, 2, 2, 2, 3], 0.25, from_top=True) == pytest.approx(7 / 4.5)
    # Control answered more: control is trimmed, and the bounds contain the plain difference.
    bounds = lee_bounds([2, 4], [1, 2, 3, 4], randomised_treated=4, randomised_control=4)
    assert bounds.trimmed_arm == "control" and bounds.trimmed_share == pytest.approx(0.5)
    assert (bounds.lower, bounds.upper) == pytest.approx((3 - 3.5, 3 - 1.5))


def test_the_bundle_reproduces_a_scale_primary_outcome_in_r(
    rscript: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """reproduce.R fits the same linear model to the answers: the difference in means."""
    from datetime import UTC, datetime

    from analysis.bundle import FrozenVersion, assemble_bundle, write_zip
    from tests.analysis.test_bundle_r import assert_same_table, run_bundle

    trial = definition(
        outcomes=OUTCOMES,
        population={"unit": "officer", "strata": ["court"]},
        analysis={"covariates": ["age"], "correction": "none", "columns": {"age": "numeric"}},
    )
    frame = survey_frame().assign(court=lambda f: f["stratum"], officer=lambda f: f["unit"])
    bundle = assemble_bundle(
        frame, trial, FrozenVersion(1, "0" * 64, seed_concealed=False), built_at=datetime.now(UTC)
    )
    zipped = tmp_path / "survey.zip"
    with zipped.open("wb") as handle:
        write_zip(bundle, handle)
    _, r_table, nudge = run_bundle(rscript, zipped)
    assert_same_table(r_table, nudge)
    assert r_table["n"] == nudge["analysed"] == 617
    assert (
        "the primary outcome: a scale, a whole number from 1 to 5, 1 not at all confident, "
        "5 very confident, empty when not observed"
    ) in " ".join(bundle.files["README.txt"].decode().split())
