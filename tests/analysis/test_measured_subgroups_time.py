"""Subgroups and results over time for outcomes that are not yes/no: differences in means in
each subgroup level with the interaction test, and the weekly series of means, against
estimatr (reference/outcometypes/make_subgroup_reference.R); hidden from a lead where an arm
has fewer than 5 answers; shown on the page in the outcome's units."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.disclosure import FEWER, disclose
from analysis.labels import Labels
from analysis.over_time import results_over_time
from analysis.report import build_report, report_json
from analysis.results_view import _over_time_view
from tests.analysis.test_outcome_types import OUTCOMES, RTOL, TREATMENTS, survey_frame
from tests.analysis.test_outcome_types_words import CONFIDENCE, TWO_ARMS, section
from tests.analysis.test_report import definition

HERE = Path(__file__).parent / "reference" / "outcometypes"
KINDS = ("confidence", "contacts", "wait_minutes")
P_ATOL = 1e-8


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads((HERE / "subgroup_reference.json").read_text())


def plan(unit: str, primary: str = "confidence") -> Any:
    outcomes = [{**o, "primary": o["id"] == primary} for o in OUTCOMES]
    return definition(
        outcomes=outcomes,
        population={"unit": unit, "strata": ["court"]},
        analysis={"covariates": ["age"], "subgroups": ["court"], "correction": "holm"},
    )


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    frame = survey_frame().assign(court=lambda f: f["stratum"].astype(str))
    return {
        unit: {o["id"]: o for o in report_json(build_report(frame, plan(unit)))["outcomes"]}
        for unit in ("participant", "officer")
    }


@pytest.mark.parametrize("outcome", KINDS)
@pytest.mark.parametrize(("unit", "key"), [("participant", ""), ("officer", "_clustered")])
def test_each_courts_difference_in_means_matches_estimatr(
    outcome: str, unit: str, key: str, reports: Any, reference: Any
) -> None:
    (court,) = reports[unit][outcome]["subgroups"]
    assert court["variable"] == "court"
    assert [level["level"] for level in court["levels"]] == ["north", "south", "west"]
    for level in court["levels"]:
        r = reference[outcome][f"levels{key}"][level["level"]]
        ours = {c["arm"]: c for c in level["comparisons"]}
        got = [
            [ours[a][k] for a in TREATMENTS]
            for k in ("adjusted_risk_difference", "adjusted_std_error", "adjusted_ci_low")
        ]
        np.testing.assert_allclose(got, [r["estimate"], r["std_error"], r["ci_low"]], rtol=RTOL)
        np.testing.assert_allclose(
            [ours[a]["adjusted_p_value"] for a in TREATMENTS], r["p_value"], atol=P_ATOL
        )
        if not key:
            assert level["n"] == r["n"]


@pytest.mark.parametrize("outcome", KINDS)
@pytest.mark.parametrize(("unit", "key"), [("participant", ""), ("officer", "_clustered")])
def test_the_interaction_test_matches_estimatr(
    outcome: str, unit: str, key: str, reports: Any, reference: Any
) -> None:
    (court,) = reports[unit][outcome]["subgroups"]
    r = reference[outcome][f"interaction{key}"]
    assert court["interaction_df"] == r["df"] == 4
    assert court["interaction_statistic"] == pytest.approx(r["statistic"], rel=RTOL)
    assert court["interaction_p_value"] == pytest.approx(r["p_value"], rel=1e-5, abs=P_ATOL)
    assert not any("yes/no outcomes only" in n for n in reports[unit][outcome]["notes"])


@pytest.mark.parametrize("outcome", KINDS)
@pytest.mark.parametrize(("unit", "key"), [("participant", "hc2"), ("officer", "cr2")])
def test_a_week_holding_everyone_gives_estimatrs_unadjusted_difference_in_means(
    outcome: str, unit: str, key: str, reference: Any
) -> None:
    frame = survey_frame()
    at = pd.Series(pd.Timestamp("2027-03-03T10:00", tz="UTC"), index=frame.index)
    found = results_over_time(frame, at, plan(unit, primary=outcome))
    assert found.type == dict(confidence="scale", contacts="count").get(outcome, "continuous")
    (week,) = found.weeks
    assert week.week_starting == "2027-03-01"
    for c in week.comparisons:
        r = reference[outcome]["unadjusted"][c.arm][key]
        np.testing.assert_allclose(
            [c.estimate, c.ci_low, c.ci_high], [r["estimate"], r["ci_low"], r["ci_high"]], rtol=RTOL
        )
    means = {a.arm: a.mean for a in week.arms}
    answered = frame.dropna(subset=[outcome]).groupby("arm", observed=True)[outcome].mean()
    assert means == pytest.approx(answered.to_dict())
    assert all(a.events is None for a in week.arms)


def weekly(counts: list[tuple[str, float, int, str]]) -> tuple[pd.DataFrame, pd.Series]:
    """(arm, answer, how many, hearing day) groups: a frame of confidence answers and times."""
    rows = [(arm, value, day) for arm, value, n, day in counts for _ in range(n)]
    frame = pd.DataFrame(
        {
            "participant_ref": [f"P{i}" for i in range(len(rows))],
            "arm": pd.Categorical([r[0] for r in rows], categories=["control", "sms"]),
            "unit": [f"P{i}" for i in range(len(rows))],
            "stratum": "all",
            "confidence": [r[1] for r in rows],
        }
    )
    return frame, pd.Series(pd.to_datetime([f"{r[2]}T10:00" for r in rows], utc=True))


TWO_WEEKS = [
    ("control", 3.0, 20, "2027-03-01"),
    ("control", 4.0, 10, "2027-03-02"),
    ("sms", 4.0, 25, "2027-03-01"),
    ("sms", 3.0, 5, "2027-03-03"),
    # The second week adds 3 answers in control: the week before would give them back.
    ("control", 5.0, 3, "2027-03-09"),
    ("sms", 5.0, 12, "2027-03-10"),
]


def scale_trial() -> Any:
    return definition(arms=TWO_ARMS, outcomes=[CONFIDENCE])


def test_a_lead_sees_no_week_whose_means_would_give_back_fewer_than_5_answers() -> None:
    frame, at = weekly(TWO_WEEKS)
    found = results_over_time(frame, at, scale_trial())
    assert [w.week_starting for w in found.weeks] == ["2027-03-01", "2027-03-08"]
    first = {a.arm: a for a in found.weeks[0].arms}
    assert (first["control"].n, first["control"].mean) == (30, pytest.approx(10 / 3))
    exact = {"over_time": json.loads(json.dumps(_plain(found)))}
    shown = disclose(
        {
            **exact,
            "report": report_json(build_report(frame, scale_trial())),
            "flow": {
                "assessed": 0,
                "ineligible": 0,
                "randomised": 0,
                "ineligible_by_rule": {},
                "arms": [],
            },
            "enrolment": [],
        },
        exact=False,
    )["over_time"]
    assert shown["weeks_hidden"] == 1
    assert [w["week_starting"] for w in shown["weeks"]] == ["2027-03-08"]
    researcher = disclose(copy.deepcopy({**exact, "report": {}}), exact=True)["over_time"]
    assert len(researcher["weeks"]) == 2


def test_a_small_arm_in_a_week_shows_fewer_than_5_and_no_mean_to_a_lead() -> None:
    frame, at = weekly([("control", 3.0, 20, "2027-03-01"), ("sms", 4.0, 3, "2027-03-01")])
    found = json.loads(json.dumps(_plain(results_over_time(frame, at, scale_trial()))))
    from analysis.disclosure import _over_time

    _over_time(found)
    (week,) = found["weeks"]
    sms = next(a for a in week["arms"] if a["arm"] == "sms")
    assert (sms["n"], sms["mean"]) == (FEWER, None)
    assert week["comparisons"][0]["estimate"] is None


def test_the_page_gives_the_weekly_differences_in_the_scales_points() -> None:
    frame, at = weekly(TWO_WEEKS)
    found = json.loads(json.dumps(_plain(results_over_time(frame, at, scale_trial()))))
    view = _over_time_view(found, scale_trial(), Labels.of(scale_trial()))["over_time"]
    assert view["units"] == "points on the 1\u20135 scale"
    first, second = (row["differences"]["sms"] for row in view["rows"])
    # Week 1: SMS 25 fours and 5 threes (3.83) against control 20 threes and 10 fours (3.33).
    assert first.startswith("+0.50 (")
    assert "points" not in first
    assert view["enough"] is True


def test_a_subgroup_of_a_scale_is_shown_in_the_scales_units_and_hidden_when_small(
    app: Any,
) -> None:
    rows = [
        ("control", 3.0, 10, "a"),
        ("control", 4.0, 10, "a"),
        ("sms", 4.0, 10, "a"),
        ("sms", 5.0, 10, "a"),
        ("control", 2.0, 10, "b"),
        ("control", 3.0, 10, "b"),
        ("sms", 3.0, 10, "b"),
        ("sms", 4.0, 10, "b"),
        ("control", 3.0, 2, "c"),
        ("control", 4.0, 1, "c"),
        ("sms", 4.0, 2, "c"),
        ("sms", 5.0, 1, "c"),
    ]
    frame = pd.DataFrame(
        {
            "participant_ref": [f"P{i}" for i in range(sum(r[2] for r in rows))],
            "arm": pd.Categorical(
                [r[0] for r in rows for _ in range(r[2])], categories=["control", "sms"]
            ),
            "unit": [f"P{i}" for i in range(sum(r[2] for r in rows))],
            "stratum": "all",
            "confidence": [r[1] for r in rows for _ in range(r[2])],
            "group": [r[3] for r in rows for _ in range(r[2])],
        }
    )
    trial = definition(arms=TWO_ARMS, outcomes=[CONFIDENCE], analysis={"subgroups": ["group"]})
    from analysis.results_cache import subgroup_counts

    report = report_json(build_report(frame, trial))
    data = {
        "report": report,
        "subgroup_counts": subgroup_counts(frame, trial),
        "flow": {
            "assessed": 0,
            "ineligible": 0,
            "randomised": 0,
            "ineligible_by_rule": {},
            "arms": [],
        },
        "enrolment": [],
    }
    (group,) = report["outcomes"][0]["subgroups"]
    assert [lv["level"] for lv in group["levels"]] == ["a", "b", "c"]
    page = section(app, disclose(copy.deepcopy(data), exact=True), trial)
    from tests.web_helpers import table_rows

    table = table_rows(page, "Subgroups by group (exploratory): adjusted differences in means on")
    assert table[0] == ["Group", "Analysed", "SMS reminder"]
    assert table[1][:2] == ["a", "40"] and table[1][2].startswith("+1.00 (")
    shown = disclose(copy.deepcopy(data), exact=False)
    (hidden,) = shown["report"]["outcomes"][0]["subgroups"]
    by_level = {lv["level"]: lv for lv in hidden["levels"]}
    assert (
        by_level["c"]["suppressed"]
        and by_level["c"]["comparisons"][0]["adjusted_risk_difference"] is None
    )
    assert not by_level["a"].get("suppressed")


def _plain(value: Any) -> Any:
    from dataclasses import asdict

    return asdict(value)


def test_a_scale_has_a_forest_plot_of_its_differences_in_means_as_a_yes_no_outcome_does() -> None:
    from analysis.results_view import chart_views
    from tests.analysis.test_outcome_types_words import CLEAR, answers, body, trial

    views = chart_views(body(answers(CLEAR)), trial())
    drawn = views["forests"]["confidence"]
    assert "Difference in means on the 1\u20135 scale" in drawn["chart"]
    assert "+0.30" in drawn["chart"]  # the adjusted difference, in the scale's points
    assert drawn["units"] == "the outcome's units (difference in means on the 1\u20135 scale)"
