"""Time to withdrawal in the report: R's figures turned into shares, plain words, honest gaps.

The data and reference are those of test_stats_survival.py (R's survival package, versions in
reference/survival/reference.json); here they go through the whole report, the follow-up rule
included. Tolerance 1e-8 relative, as there.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.disclosure import FEWER, disclose
from analysis.report import build_report, report_json
from analysis.text import render_text
from experiments.definition import TrialDefinition
from tests.analysis.test_report import definition
from tests.analysis.test_stats_survival import HERE, assert_close, read_withdrawals

AS_OF = date(2027, 3, 31)
WITHDRAWAL = {"id": "withdrew", "primary": True, "better": "lower", "label": "withdrawal"}


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads((HERE / "reference.json").read_text(encoding="utf-8"))


def trial(**overrides: Any) -> TrialDefinition:
    return definition(outcomes=[WITHDRAWAL], **overrides)


def withdrawal_frame() -> pd.DataFrame:
    frame = read_withdrawals()
    frame["unit"] = frame["participant_ref"]
    frame["stratum"] = "all"
    return frame


def followed(frame: pd.DataFrame, plan: TrialDefinition, as_of: date | None = AS_OF) -> Any:
    (outcome,) = report_json(build_report(frame, plan, as_of=as_of))["outcomes"]
    return outcome.get("time_to_event")


def test_shares_by_30_90_and_180_days_are_one_minus_r_survfit(reference: dict[str, Any]) -> None:
    block = followed(withdrawal_frame(), trial())
    assert (block["as_of"], block["follow_up_days"], block["horizons"]) == (
        "2027-03-31",
        180,
        [30, 90, 180],
    )
    for arm in block["arms"]:
        expected = reference["km"][arm["arm"]]
        assert (arm["n"], arm["events"]) == (
            reference["analysed"][arm["arm"]],
            reference["events"][arm["arm"]],
        )
        by = arm["by"]
        assert [b["at_risk"] for b in by] == expected["n_risk"]
        assert_close([b["share"] for b in by], [1 - s for s in expected["surv"]])
        assert_close([b["std_error"] for b in by], expected["std_err"])
        assert_close([b["ci_low"] for b in by], [1 - u for u in expected["upper"]])
        assert_close([b["ci_high"] for b in by], [1 - lo for lo in expected["lower"]])


def test_each_arm_and_all_arms_are_compared_by_rs_log_rank_test(
    reference: dict[str, Any],
) -> None:
    block = followed(withdrawal_frame(), trial())
    pairs = reference["log_rank_pairs"]
    assert [(c["arm"], c["versus"]) for c in block["comparisons"]] == [
        ("sms", "control"),
        ("letter", "control"),
    ]
    assert_close(
        [c["p_value"] for c in block["comparisons"]],
        [pairs["sms"]["p_value"], pairs["letter"]["p_value"]],
    )
    assert_close(
        [block["chi_square"], block["p_value"]],
        [reference["log_rank"]["chisq"], reference["log_rank"]["p_value"]],
    )
    assert block["df"] == reference["log_rank"]["df"]


def test_people_who_cannot_be_placed_in_time_are_counted_and_named(
    reference: dict[str, Any],
) -> None:
    frame = withdrawal_frame()
    block = followed(frame, trial())
    not_observed = int(frame["withdrew"].isna().sum())
    assert block["no_charge_date"] + block["no_event_date"] + not_observed == reference["left_out"]
    assert block["notes"] == [
        f"time to withdrawal leaves out {block['no_charge_date']} participant(s) with no charge "
        "date",
        f"time to withdrawal leaves out {block['no_event_date']} participant(s) with withdrawal "
        "recorded but no date for it: the shares by each day may be too low",
    ]


def test_the_text_report_says_the_shares_and_the_tests_in_plain_english() -> None:
    plan = trial()
    text = render_text(report_json(build_report(withdrawal_frame(), plan, as_of=AS_OF)), plan)
    assert "  Time to withdrawal after charge:" in text
    assert (
        "  By 90 days after charge, withdrawal stood at 14% (95% CI 9% to 18%) in SMS reminder "
        "and 9% (5% to 12%) in Letter, against 14% (9% to 18%) in Business as usual."
    ) in text
    assert (
        "  Over the 180 days after charge, the log-rank test compares each arm's whole curve "
        "with Business as usual's: SMS reminder p = 0.356 and Letter p = 0.016; all 3 arms "
        "together p = 0.057 (a secondary analysis, not corrected for multiple comparisons)."
    ) in text
    assert (
        "  Kaplan–Meier estimates of the share with withdrawal by each day after the charge: "
        "people without withdrawal count until 2027-03-31 (the analysis date) or 180 days "
        "after the charge, whichever is earlier."
    ) in text


def test_a_day_nobody_has_been_followed_to_is_not_yet_known() -> None:
    """Charges start on 1 January 2026: on 1 March nobody has been followed for 90 days."""
    plan = trial()
    report = report_json(build_report(withdrawal_frame(), plan, as_of=date(2026, 3, 1)))
    block = report["outcomes"][0]["time_to_event"]
    assert [b["share"] is None for b in block["arms"][0]["by"]] == [False, True, True]
    text = render_text(report, plan)
    assert (
        "  By 90 days after charge, not yet known in SMS reminder, Letter and Business as usual "
        "(nobody followed that long)."
    ) in text


def test_without_dates_or_an_analysis_date_the_report_is_as_before() -> None:
    frame = withdrawal_frame()
    plan = trial()
    assert followed(frame, plan, as_of=None) is None
    undated = frame.drop(columns=["withdrew_on", "charged_on"])
    (outcome,) = report_json(build_report(undated, plan, as_of=AS_OF))["outcomes"]
    assert "time_to_event" not in outcome
    assert "Time to withdrawal" not in render_text(
        report_json(build_report(undated, plan, as_of=AS_OF)), plan
    )


def test_when_cases_of_several_people_were_randomised_only_the_shares_are_given() -> None:
    frame = withdrawal_frame()
    frame["unit"] = frame["participant_ref"].str[:4]  # ten people to a case
    plan = trial(population={"unit": "case"})
    report = report_json(build_report(frame, plan, as_of=AS_OF))
    block = report["outcomes"][0]["time_to_event"]
    shares = [b for arm in block["arms"] for b in arm["by"]]
    assert all(b["share"] is not None for b in shares)
    assert all(b["ci_low"] is None and b["std_error"] is None for b in shares)
    assert [c["p_value"] for c in block["comparisons"]] == [None, None]
    assert block["p_value"] is None
    assert block["notes"][-1] == (
        "time to withdrawal: whole units were randomised and some hold more than one person "
        "followed; the Kaplan–Meier intervals and log-rank tests treat people as independent, "
        "so only the shares are given"
    )
    text = render_text(report, plan)
    assert "By 90 days after charge, withdrawal stood at 14% in SMS reminder" in text
    assert "log-rank test compares" not in text


def test_cases_of_one_person_each_are_independent_and_get_intervals_and_tests() -> None:
    exact = followed(withdrawal_frame(), trial())
    by_case = followed(withdrawal_frame(), trial(population={"unit": "case"}))
    assert by_case == exact


def test_a_lead_sees_no_share_that_would_reveal_fewer_than_5_people() -> None:
    frame = withdrawal_frame()
    letter = frame.index[frame["arm"] == "letter"]
    early = frame.loc[letter, "withdrew_on"] - frame.loc[letter, "charged_on"]
    frame = frame.drop(index=letter[(early.dt.days <= 30).to_numpy()][2:])  # two by 30 days
    plan = trial()
    exact = report_json(build_report(frame, plan, as_of=AS_OF))
    shown = disclose({"report": exact, "flow": _empty_flow(), "enrolment": []}, exact=False)
    block = shown["report"]["outcomes"][0]["time_to_event"]
    letter_by = next(a for a in block["arms"] if a["arm"] == "letter")["by"]
    assert letter_by[0]["share"] is None and letter_by[0]["suppressed"] is True
    assert letter_by[0]["events"] == FEWER
    assert letter_by[1]["share"] is not None  # by 90 days enough have withdrawn
    text = render_text(shown["report"], plan)
    assert "not shown in Letter (fewer than 5 people with or without it)" in text.split("By 30")[1]


def _empty_flow() -> dict[str, Any]:
    return {"assessed": 0, "ineligible": 0, "randomised": 0, "ineligible_by_rule": {}, "arms": []}


def test_the_reference_data_is_what_its_generator_writes() -> None:
    """withdrawal.csv is reproducible from its checked-in generator and seed."""
    from tests.analysis.reference.survival.make_withdrawals import simulate

    written = pd.read_csv(Path(HERE / "withdrawal.csv"), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(written, simulate().astype(str))
