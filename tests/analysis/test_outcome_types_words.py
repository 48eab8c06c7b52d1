"""A scale, count or measurement where a yes/no outcome is shown: words, verdict, disclosure, CSV.

The frames are small and built by hand so that each figure is known: control answers 3 (90
people) or 4 (10), mean 3.1; the SMS arm 3 (60) or 4 (40), mean 3.4.
"""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

import numpy as np
import pandas as pd

from analysis.disclosure import FEWER, disclose
from analysis.downloads import header, results_csv
from analysis.report import build_report, report_json
from analysis.text import render_text
from analysis.verdict import verdicts
from tests.analysis.test_report import definition, small_frame

CONFIDENCE = {
    "id": "confidence",
    "primary": True,
    "type": "scale",
    "label": "confidence",
    "scale": {"min": 1, "max": 5, "labels": {1: "not at all", 5: "very"}},
}
TWO_ARMS = [
    {"id": "control", "title": "Business as usual", "control": True},
    {"id": "sms", "title": "SMS reminder"},
]


def answers(by_arm: dict[str, list[tuple[float, int]]]) -> pd.DataFrame:
    """One row per person: arm → [(answer, how many)], NaN answers for non-response."""
    arms, values = [], []
    for arm, groups in by_arm.items():
        for value, count in groups:
            arms += [arm] * count
            values += [value] * count
    n = len(arms)
    return pd.DataFrame(
        {
            "participant_ref": [f"P{i}" for i in range(n)],
            "arm": pd.Categorical(arms, categories=list(by_arm)),
            "unit": [f"P{i}" for i in range(n)],
            "stratum": "all",
            "confidence": np.asarray(values, dtype="float64"),
        }
    )


def trial(arms: list[dict[str, Any]] = TWO_ARMS) -> Any:
    return definition(arms=arms, outcomes=[CONFIDENCE])


def body(frame: pd.DataFrame, arms: list[dict[str, Any]] = TWO_ARMS) -> dict[str, Any]:
    return {
        "report": report_json(build_report(frame, trial(arms))),
        "flow": {
            "assessed": 0,
            "ineligible": 0,
            "randomised": 0,
            "ineligible_by_rule": {},
            "arms": [],
        },
        "enrolment": [],
    }


CLEAR = {"control": [(3.0, 90), (4.0, 10)], "sms": [(3.0, 60), (4.0, 40)]}


def test_the_verdict_says_how_far_the_average_answer_moved_on_the_scale() -> None:
    (verdict,) = verdicts(body(answers(CLEAR)), trial(), closed=True)
    assert verdict["label"] == "Likely helps"
    assert verdict["sentence"].startswith(
        "SMS reminder raised average confidence from 3.1 to 3.4 on the 1–5 scale (+0.30; "
        "likely between +0.1"
    )


def test_no_clear_difference_is_said_in_the_outcomes_units_not_in_points() -> None:
    same = {"control": [(3.0, 50), (4.0, 50)], "sms": [(3.0, 49), (4.0, 51)]}
    text = render_text(body(answers(same))["report"], trial())
    assert (
        "SMS reminder against Business as usual: no clear evidence of a difference in average "
        "confidence on the 1–5 scale (difference in means +0.01, 95% CI" in text
    )
    assert "percentage points" not in text.split("Effects compare")[0]
    assert "Differences of yes/no outcomes are in percentage points, of the others" in text
    (verdict,) = verdicts(body(answers(same)), trial(), closed=True)
    assert verdict["label"] == "No clear effect"


def test_unequal_response_is_warned_about_with_the_lee_bounds() -> None:
    # Control: 100 answers of 200 randomised; SMS: 100 of 120.
    lopsided = {
        "control": [*CLEAR["control"], (np.nan, 100)],
        "sms": [*CLEAR["sms"], (np.nan, 20)],
    }
    report = body(answers(lopsided))["report"]
    text = render_text(report, trial())
    assert "WARNING: the arms' response rates differ by more than 5 percentage points" in text
    (c,) = report["outcomes"][0]["measures"]["comparisons"]
    # 100 / 120 answered in SMS, 50% in control: trim (5/6 - 1/2) / (5/6) = 40% of SMS answers.
    assert c["lee_trimmed_arm"] == "treated" and abs(c["lee_trimmed_share"] - 0.4) < 1e-12
    # From the top the 40 fours go, leaving 60 threes (3.0); from the bottom 40 of the 60
    # threes go, leaving 20 threes and 40 fours (11/3); against control's 3.1.
    assert np.allclose([c["lee_lower"], c["lee_upper"]], [3.0 - 3.1, 11 / 3 - 3.1])
    assert "SMS reminder: Hedges' g" in text and "Lee bounds for differential response" in text


def test_a_lead_sees_no_mean_of_a_handful_nor_a_small_count_of_answers() -> None:
    arms = [*TWO_ARMS, {"id": "letter", "title": "Letter"}]
    few = {**CLEAR, "letter": [(2.0, 1), (4.0, 2), (np.nan, 30)]}
    exact = body(answers(few), arms)
    shown = disclose(copy.deepcopy(exact), exact=False)
    measures = shown["report"]["outcomes"][0]["measures"]
    letter = next(a for a in measures["arms"] if a["arm"] == "letter")
    assert letter["n"] == FEWER and letter["mean"] is None and letter["response_rate"] is None
    by_arm = {c["arm"]: c for c in measures["comparisons"]}
    assert by_arm["letter"]["adjusted_difference"] is None and by_arm["letter"]["suppressed"]
    assert by_arm["sms"]["adjusted_difference"] is not None
    control = next(r for r in measures["distribution"] if r["arm"] == "control")
    # Nobody answered 1, 2 or 5 in control: zeros are small counts like any other.
    assert control["counts"] == [FEWER, FEWER, 90, 10, FEWER]
    sms = next(r for r in measures["distribution"] if r["arm"] == "sms")
    assert sms["shares"][2:4] == [0.6, 0.4]
    exact_measures = exact["report"]["outcomes"][0]["measures"]
    assert exact_measures["distribution"][0]["counts"] == [0, 0, 90, 10, 0]


def test_one_small_count_takes_the_next_smallest_with_it() -> None:
    one_small = {
        "control": [(1.0, 2), (2.0, 9), (3.0, 30), (4.0, 30), (5.0, 30)],
        "sms": CLEAR["sms"],
    }
    shown = disclose(copy.deepcopy(body(answers(one_small))), exact=False)
    control = shown["report"]["outcomes"][0]["measures"]["distribution"][0]
    assert control["counts"] == [FEWER, "hidden", 30, 30, 30]
    assert control["shares"][:2] == [None, None]


def test_the_csv_gives_means_in_the_outcomes_units_beside_the_usual_columns() -> None:
    data = body(answers(CLEAR))
    rows = list(csv.DictReader(io.StringIO(results_csv(data, trial()).lstrip("\ufeff"))))
    sms = next(r for r in rows if r["Outcome"] == "confidence" and r["Arm"] == "SMS reminder")
    assert (sms["Mean"], sms["Difference in means"], sms["Pre-registered estimate"]) == (
        "3.400",
        "0.300",
        "yes",
    )
    assert sms["Rate (%)"] == "" and sms["Difference (percentage points)"] == ""
    fours = next(
        r for r in rows if r["Outcome"] == "confidence: answered 4" and r["Arm"] == "SMS reminder"
    )
    assert (fours["Events"], fours["Analysed"], fours["Rate (%)"]) == ("40", "100", "40.0")
    assert any(r["Outcome"] == "confidence: answered 5 (very)" for r in rows)
    assert "Mean" not in header(definition())  # a yes/no trial's CSV is as it was


def test_an_outcome_nobody_varies_on_gives_means_and_no_model_without_an_error() -> None:
    same = {"control": [(4.0, 30)], "sms": [(4.0, 30)]}
    outcome = body(answers(same))["report"]["outcomes"][0]
    (c,) = outcome["measures"]["comparisons"]
    assert c["adjusted_difference"] is None and "same outcome" in c["primary_reason"]
    assert [a["mean"] for a in outcome["measures"]["arms"]] == [4.0, 4.0]
    (verdict,) = verdicts(body(answers(same)), trial(), closed=True)
    assert verdict["label"] == "Not enough data yet"


def test_a_yes_no_outcome_keeps_its_json_keys() -> None:
    frame = small_frame({"control": (40, 20), "sms": (40, 28), "letter": (40, 22)})
    (outcome,) = report_json(build_report(frame, definition()))["outcomes"]
    assert "measures" not in outcome and "type" not in outcome


def section(app: Any, data: dict[str, Any], definition: Any) -> str:
    """The results page's section on the first outcome, rendered by the app's templates."""
    from flask import render_template_string

    from analysis.labels import Labels
    from analysis.results_view import _outcome

    titles = {arm.id: arm.title for arm in definition.arms}
    report = data["report"]
    view = {
        "titles": titles,
        "labels": Labels.of(definition),
        "level": "95%",
        "control": definition.control_arm.id,
        "randomisation": report["randomisation"],
        "min_clusters": definition.analysis.min_clusters_per_arm,
        "forests": {},
    }
    outcome = _outcome(report["outcomes"][0], definition, titles)
    with app.test_request_context():
        return render_template_string(
            '{% from "results/_outcome.html" import outcome_section %}'
            '{{ outcome_section(outcome, view, "primary-heading") }}',
            outcome=outcome,
            view=view,
        )


def test_the_results_page_shows_means_and_the_answers_by_arm_in_a_chart_and_a_table(
    app: Any,
) -> None:
    from tests.web_helpers import table_rows

    lopsided = {"control": [*CLEAR["control"], (np.nan, 100)], "sms": CLEAR["sms"]}
    data = body(answers(lopsided))
    page = section(app, disclose(copy.deepcopy(data), exact=True), trial())
    rows = table_rows(page, "Confidence: people who answered, the response rate and the mean")
    assert rows[1:] == [
        ["Business as usual", "100", "50%", "3.10", rows[1][4]],
        ["SMS reminder", "100", "100%", "3.40", rows[2][4]],
    ]
    answers_table = table_rows(page, "Answers on confidence by arm")
    assert answers_table[3] == ["3", "90 (90%)", "60 (60%)"]
    assert answers_table[1][0] == "1 (not at all)"
    effects = table_rows(page, "Effects on confidence: adjusted difference in means")
    assert effects[1][:2] == ["SMS reminder", "+0.30"]
    assert 'role="img"' in page and "Answers on confidence by arm" in page
    assert "Response rates differ between arms" in page
    assert "raised average confidence from 3.1 to 3.4 on the 1–5 scale" in page
    assert "people analysed, how many" not in page  # no table of rates for a scale


def test_the_pdf_gives_the_scale_outcome_as_the_page_does() -> None:
    from datetime import UTC, datetime

    from analysis.labels import Labels
    from analysis.pages import decimal, figure, pct, points, pvalue
    from analysis.report_pdf import Numbers, results_pdf
    from analysis.results_view import _outcome
    from tests.analysis.test_results_pdf import flat, pdf_text

    definition = trial()
    titles = {arm.id: arm.title for arm in definition.arms}
    data = body(answers(CLEAR))
    outcome = _outcome(data["report"]["outcomes"][0], definition, titles)
    view = {
        "titles": titles,
        "labels": Labels.of(definition),
        "level": "95%",
        "control": "control",
        "primary": outcome,
        "secondary": [],
        "enrolment": [{"week": "2026-01-05"}],
        "forests": {},
    }
    numbers = Numbers(figure=figure, pct=pct, points=points, pvalue=pvalue, decimal=decimal)
    text = flat(
        pdf_text(
            results_pdf(
                view,
                trial_title="A small trial",
                computed_at=datetime(2026, 12, 5, tzinfo=UTC),
                numbers=numbers,
            )
        )
    )
    assert "Business as usual 100 100% 3.10" in text
    assert "SMS reminder raised average confidence from 3.1 to 3.4 on the 1–5 scale" in text
    assert "Answers on confidence by arm" in text
    assert "SMS reminder +0.30" in text


def test_the_methods_say_how_a_scale_was_analysed_and_only_when_there_is_one() -> None:
    from analysis.results_view import methods_paragraph

    said = methods_paragraph(trial(), body(answers(CLEAR))["report"])
    assert "difference in means from the same linear model (HC2" in said
    assert "Lee (2009) bounds" in said and "proportional-odds" in said
    assert "Poisson" not in said  # no count outcome in this trial
    frame = small_frame({"control": (40, 20), "sms": (40, 28), "letter": (40, 22)})
    binary = methods_paragraph(definition(), report_json(build_report(frame, definition())))
    assert "not yes/no" not in binary
