"""The report when whole units are randomised, missing outcomes by arm, and the smaller fixes.

Reference values: reference/clustered/make_reference.R (survey, estimatr) on clustered.csv.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.report import build_report, report_json
from analysis.stats import sample_size_two_proportions
from tests.analysis.test_report import assert_clean_json, definition, small_frame, walk

HERE = Path(__file__).parent / "reference" / "clustered"
ARMS = ["control", "sms", "letter"]


def negative_zeros(data: dict[str, Any]) -> list[float]:
    return [x for x in walk(data) if isinstance(x, float) and x == 0.0 and math.copysign(1, x) < 0]


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads((HERE / "clustered.json").read_text())


def clustered_frame() -> pd.DataFrame:
    """clustered.csv as the analysis frame: one row per randomised household member."""
    data = pd.read_csv(HERE / "clustered.csv")
    return pd.DataFrame(
        {
            "participant_ref": [f"R{i:04d}" for i in range(len(data))],
            "arm": pd.Categorical(data["arm"], categories=ARMS),
            "unit": data["unit"],
            "stratum": "all",
            "attended": data["attended"].astype("float64"),
        }
    )


@pytest.fixture(scope="module")
def clustered_report() -> dict[str, Any]:
    trial = definition(population={"unit": "household"})
    return report_json(build_report(clustered_frame(), trial))


def test_each_arms_rate_interval_carries_the_units_design_effect(
    clustered_report: dict[str, Any], reference: dict[str, Any]
) -> None:
    (outcome,) = clustered_report["outcomes"]
    assert outcome["clustered"] is True
    for arm in outcome["arms"]:
        r = reference["arms"][arm["arm"]]
        assert (arm["n"], arm["events"], arm["units"]) == (r["n"], r["events"], r["clusters"])
        assert arm["ci_low"] == pytest.approx(r["ci_low"], rel=1e-9)
        assert arm["ci_high"] == pytest.approx(r["ci_high"], rel=1e-9)
        assert arm["design_effect"] == pytest.approx(r["design_effect"], rel=1e-9)
        assert arm["effective_n"] == pytest.approx(r["effective_n"], rel=1e-9)
    assert "Korn & Graubard" in outcome["methods"]["arm_rates"]


def test_every_unadjusted_comparison_is_valid_under_the_randomisation_unit(
    clustered_report: dict[str, Any], reference: dict[str, Any]
) -> None:
    (outcome,) = clustered_report["outcomes"]
    for c in outcome["comparisons"]:
        arm = c["arm"]
        difference, ratio = reference["cr2_difference"][arm], reference["risk_ratio"][arm]
        assert c["risk_difference"] == pytest.approx(difference["estimate"], rel=1e-9)
        assert c["rd_ci_low"] == pytest.approx(difference["ci_low"], rel=1e-9)
        assert c["rd_ci_high"] == pytest.approx(difference["ci_high"], rel=1e-9)
        assert c["risk_ratio"] == pytest.approx(ratio["estimate"], rel=1e-9)
        assert c["rr_ci_low"] == pytest.approx(ratio["ci_low"], rel=1e-9)
        assert c["rr_ci_high"] == pytest.approx(ratio["ci_high"], rel=1e-9)
        assert c["chi2_p_value"] == pytest.approx(reference["rao_scott"][arm]["p_value"], rel=1e-9)
        assert c["fisher_p_value"] is None
        assert c["prob_better"] == pytest.approx(reference["bayes"][arm]["prob_better"], abs=1e-9)
        assert c["expected_loss"] == pytest.approx(
            reference["bayes"][arm]["expected_loss"], abs=1e-9
        )
    assert outcome["methods"]["fisher"] is None
    assert "Rao-Scott" in outcome["methods"]["chi_square"]
    assert any("Fisher's exact test is not reported" in n for n in outcome["notes"])
    assert_clean_json(clustered_report)


def test_the_cost_interval_comes_from_the_clustered_difference(
    reference: dict[str, Any],
) -> None:
    frame = clustered_frame()
    frame["cost"] = np.where(frame["arm"] == "letter", 0.85, 0.0)
    trial = definition(population={"unit": "household"})
    letter = report_json(build_report(frame, trial))["outcomes"][0]["comparisons"][1]
    difference = reference["cr2_difference"]["letter"]
    assert letter["incremental_cost"] == pytest.approx(0.85)
    assert letter["cost_per_extra_event"] == pytest.approx(0.85 / difference["estimate"])
    # The clustered interval includes 0, so the ratio is unbounded: no interval.
    assert letter["cost_status"] == "unbounded" and letter["cost_ci_low"] is None


def test_missing_outcomes_are_counted_by_arm_and_flagged(
    clustered_report: dict[str, Any], reference: dict[str, Any]
) -> None:
    missing = clustered_report["outcomes"][0]["missing"]
    for row in missing["by_arm"]:
        r = reference["missing"][row["arm"]]
        assert (row["randomised"], row["observed"], row["missing"]) == (
            r["randomised"],
            r["observed"],
            r["missing"],
        )
        assert row["missing_share"] == pytest.approx(r["share"], rel=1e-12)
    shares = [reference["missing"][a]["share"] for a in ARMS]
    assert missing["largest_gap"] == pytest.approx(max(shares) - min(shares))
    assert missing["flagged"] is True and missing["threshold"] == 0.05
    assert any(
        "missing outcomes differ between arms by more than 5 percentage points" in note
        for note in clustered_report["outcomes"][0]["notes"]
    )


def test_the_primary_difference_has_best_and_worst_case_bounds(
    clustered_report: dict[str, Any], reference: dict[str, Any]
) -> None:
    for c in clustered_report["outcomes"][0]["comparisons"]:
        bounds = reference["bounds"][c["arm"]]
        assert c["rd_bound_worst"] == pytest.approx(bounds["worst"], rel=1e-12)
        assert c["rd_bound_best"] == pytest.approx(bounds["best"], rel=1e-12)


def test_similar_missing_shares_are_not_flagged_and_bounds_meet_without_missing() -> None:
    frame = small_frame({"control": (100, 40), "sms": (100, 55), "letter": (100, 45)})
    frame.loc[[0, 1, 100, 200, 201], "attended"] = np.nan
    outcome = report_json(build_report(frame, definition()))["outcomes"][0]
    assert [
        (r["randomised"], r["observed"], r["missing"]) for r in outcome["missing"]["by_arm"]
    ] == [
        (100, 98, 2),
        (100, 99, 1),
        (100, 98, 2),
    ]
    assert outcome["missing"]["flagged"] is False
    whole = small_frame({"control": (50, 20), "sms": (50, 30), "letter": (50, 25)})
    sms = report_json(build_report(whole, definition()))["outcomes"][0]["comparisons"][0]
    assert sms["rd_bound_worst"] == sms["rd_bound_best"] == pytest.approx(0.2)


def test_the_observed_icc_sizes_the_design_effect_of_the_power_calculation(
    clustered_report: dict[str, Any], reference: dict[str, Any]
) -> None:
    power, icc = clustered_report["power"], reference["icc"]
    assert clustered_report["outcomes"][0]["icc"] == pytest.approx(icc["icc"], rel=1e-9)
    assert power["icc_source"] == "observed"
    assert power["icc"] == pytest.approx(icc["icc"], rel=1e-9)
    assert power["cluster_size"] == pytest.approx(icc["size_weighted_mean"], rel=1e-12)
    assert power["design_effect"] == pytest.approx(icc["design_effect"], rel=1e-9)


def test_power_follows_the_planned_allocation_and_the_plans_icc() -> None:
    plan = {"baseline_rate": 0.75, "minimum_detectable_effect": 0.05, "icc": 0.1}
    arms = [
        {"id": "control", "title": "Business as usual", "control": True, "weight": 2},
        {"id": "sms", "title": "SMS reminder"},
        {"id": "letter", "title": "Letter"},
    ]
    frame = small_frame({"control": (120, 60), "sms": (60, 40), "letter": (60, 33)})
    frame["unit"] = [f"U{i // 3}" for i in range(len(frame))]  # three people per unit
    trial = definition(arms=arms, analysis=plan, population={"unit": "case"})
    power = report_json(build_report(frame, trial))["power"]
    deff = 1 + (3 - 1) * 0.1
    needed = sample_size_two_proportions(0.75, 0.05, ratio=0.5).n_exact
    assert power["allocation"] == {"control": 2, "sms": 1, "letter": 1}
    assert power["icc_source"] == "plan" and power["design_effect"] == pytest.approx(deff)
    assert power["design_n_by_arm"] == {
        "control": int(np.ceil(needed * deff)),
        "sms": int(np.ceil(needed / 2 * deff)),
        "letter": int(np.ceil(needed / 2 * deff)),
    }
    one_to_one = sample_size_two_proportions(0.75, 0.05).n_per_arm
    assert power["design_n_per_arm"] > one_to_one


def test_a_harmful_arm_gets_no_cost_per_extra_event_but_a_note_in_words() -> None:
    frame = small_frame({"control": (100, 60), "sms": (100, 40), "letter": (100, 70)})
    frame["cost"] = np.where(frame["arm"] == "control", 0.0, 0.12)
    outcome = report_json(build_report(frame, definition()))["outcomes"][0]
    sms = outcome["comparisons"][0]
    assert (sms["cost_per_extra_event"], sms["cost_ci_low"], sms["cost_ci_high"]) == (
        None,
        None,
        None,
    )
    assert sms["cost_status"] == "harmful" and sms["incremental_cost"] == pytest.approx(0.12)
    assert (
        "SMS reminder: cost per extra event: not applicable: the arm had fewer events than control "
        "and cost more per participant" in outcome["notes"]
    )


def test_without_a_costs_section_no_figure_is_negative_zero(tmp_path: Path) -> None:
    from analysis.analyse import analyse_file

    (tmp_path / "trial.yaml").write_text(
        """
id: no-costs
title: No costs section
timezone: Europe/London
arms:
  - {id: control, title: Business as usual, control: true}
  - {id: sms, title: SMS reminder}
outcomes: [{id: attended, primary: true}]
"""
    )
    rows = ["participant_ref,arm,attended"]
    rows += [f"P{i},control,{'yes' if i < 30 else 'no'}" for i in range(50)]
    rows += [f"Q{i},sms,{'yes' if i < 20 else 'no'}" for i in range(50)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    data = report_json(analyse_file(tmp_path / "data.csv", tmp_path / "trial.yaml").report)
    assert not negative_zeros(data)
    sms = data["outcomes"][0]["comparisons"][0]
    assert sms["cost_per_extra_event"] is None and sms["cost_ci_low"] is None
    assert "the definition has no costs section: no cost per extra event" in data["notes"]


def test_negative_zero_never_reaches_the_json() -> None:
    frame = small_frame({"control": (100, 60), "sms": (100, 40), "letter": (100, 70)})
    frame["cost"] = 0.0
    data = report_json(build_report(frame, definition()))
    assert not negative_zeros(data)


def test_everyone_attending_in_both_arms_gives_no_risk_ratio_interval() -> None:
    frame = small_frame({"control": (30, 30), "sms": (30, 30), "letter": (30, 12)})
    outcome = report_json(build_report(frame, definition()))["outcomes"][0]
    sms = outcome["comparisons"][0]
    assert sms["risk_ratio"] == 1.0 and sms["rr_ci_low"] is None and sms["rr_ci_high"] is None
    assert any("SMS reminder: risk ratio interval not given" in n for n in outcome["notes"])


def test_holm_counts_the_preregistered_family_when_an_arm_cannot_be_tested() -> None:
    frame = small_frame({"control": (60, 20), "sms": (60, 38), "letter": (0, 0)})
    outcome = report_json(build_report(frame, definition()))["outcomes"][0]
    sms, letter = outcome["comparisons"]
    assert letter["adjusted_p_value"] is None and letter["p_value_corrected"] is None
    assert sms["p_value_corrected"] == pytest.approx(min(1.0, 2 * sms["adjusted_p_value"]))
    assert (
        "the holm correction counts all 2 pre-registered comparisons; Letter could not be "
        "tested and counts as p = 1" in outcome["notes"]
    )


def test_a_unit_with_a_single_member_per_arm_gets_no_interval_said_plainly() -> None:
    frame = small_frame({"control": (20, 8), "sms": (20, 12), "letter": (20, 9)})
    frame["unit"] = frame["arm"].astype(str)
    outcome = report_json(build_report(frame, definition(population={"unit": "court"})))[
        "outcomes"
    ][0]
    assert all(a["ci_low"] is None and a["units"] == 1 for a in outcome["arms"])
    sms = outcome["comparisons"][0]
    assert sms["risk_difference"] == pytest.approx(0.2)
    assert sms["rd_ci_low"] is None and sms["chi2_p_value"] is None
    assert sms["prob_better"] is None and sms["rr_ci_low"] is None
    assert (
        "sms: fewer than 2 randomisation units with an observed outcome: no interval"
        in outcome["notes"]
    )
    assert_clean_json(report_json(build_report(frame, definition(population={"unit": "court"}))))


def disclosed(report: dict[str, Any], *, exact: bool) -> dict[str, Any]:
    from analysis.disclosure import disclose

    flow = {"assessed": 0, "ineligible": 0, "randomised": 0, "ineligible_by_rule": {}, "arms": []}
    body = {"report": report, "flow": flow, "enrolment": []}
    return disclose(body, exact=exact)["report"]


def test_a_lead_sees_no_small_missing_count_nor_the_share_that_gives_it_back(
    clustered_report: dict[str, Any],
) -> None:
    from analysis.disclosure import FEWER

    shown = disclosed(clustered_report, exact=False)["outcomes"][0]["missing"]
    rows = {row["arm"]: row for row in shown["by_arm"]}
    assert rows["sms"]["missing"] == FEWER and rows["sms"]["missing_share"] is None
    assert rows["sms"]["observed"] == 81 and rows["sms"]["suppressed"] is True
    assert rows["control"]["missing"] == 9 and rows["control"]["missing_share"] is not None
    assert shown["largest_gap"] is None
    exact = disclosed(clustered_report, exact=True)["outcomes"][0]["missing"]
    assert exact == clustered_report["outcomes"][0]["missing"]


def test_a_lead_sees_no_design_effect_of_a_hidden_arm_nor_a_small_unit_count() -> None:
    from analysis.disclosure import FEWER

    frame = small_frame({"control": (40, 20), "sms": (40, 3), "letter": (40, 22)})
    frame["unit"] = [f"U{i // 2}" for i in range(40)] + [f"V{i // 10}" for i in range(80)]
    trial = definition(population={"unit": "household"})
    report = report_json(build_report(frame, trial))
    arms = {a["arm"]: a for a in report["outcomes"][0]["arms"]}
    assert arms["sms"]["design_effect"] is not None and arms["sms"]["units"] == 4
    shown = {a["arm"]: a for a in disclosed(report, exact=False)["outcomes"][0]["arms"]}
    assert shown["sms"]["design_effect"] is None and shown["sms"]["effective_n"] is None
    assert shown["sms"]["units"] == FEWER and shown["letter"]["units"] == FEWER
    assert shown["control"]["units"] == 20 and shown["control"]["design_effect"] is not None
    sms = disclosed(report, exact=False)["outcomes"][0]["comparisons"][0]
    assert sms["rd_bound_worst"] is None and sms["rd_bound_best"] is None


def test_the_methods_say_which_interval_and_test_each_figure_used() -> None:
    frame = small_frame({"control": (50, 20), "sms": (48, 31), "letter": (52, 25)})
    plain = report_json(build_report(frame, definition()))["outcomes"][0]
    assert plain["clustered"] is False and plain["methods"]["fisher"] is not None
    assert "Newcombe" in plain["methods"]["risk_difference"]
    yates = report_json(build_report(frame, definition(analysis={"continuity": "yates"})))
    assert "Yates" in yates["outcomes"][0]["methods"]["chi_square"]
