"""The interval of the Lee bounds: Lee's (2009) standard errors of each bound and Imbens and
Manski's (2004) interval for the effect, against an independent R implementation
(reference/outcometypes/make_lee_reference.R, with a bootstrap of the standard errors), and
shown in words wherever the bounds are (text, page, PDF, CSV)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from analysis.downloads import results_csv
from analysis.measure_words import supporting_lines
from analysis.stats.bounds import imbens_manski_critical_value, lee_bounds
from analysis.text import render_text
from tests.analysis.test_outcome_types import (
    RTOL,
    TREATMENTS,
    by_participant,  # noqa: F401 (a fixture)
    survey_frame,
)
from tests.analysis.test_outcome_types_words import CLEAR, answers, body, trial

HERE = Path(__file__).parent / "reference" / "outcometypes"
OUTCOMES = ("confidence", "contacts", "wait_minutes")
# The bootstrap's own error with 4,000 resamples is about 1% of a standard error; the rest is
# how far the asymptotic formula is from the small-sample spread.
BOOTSTRAP_RTOL = 0.10


@pytest.fixture(scope="module")
def lee_reference() -> dict[str, Any]:
    return json.loads((HERE / "lee_reference.json").read_text())


def arms_of(outcome: str, arm: str) -> dict[str, Any]:
    """The answers of the arm and of control, and how many were randomised in each."""
    frame = survey_frame()
    treated = frame.loc[frame["arm"] == arm, outcome]
    control = frame.loc[frame["arm"] == "control", outcome]
    return {
        "treated": treated.dropna().to_numpy(),
        "control": control.dropna().to_numpy(),
        "randomised_treated": len(treated),
        "randomised_control": len(control),
    }


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("arm", TREATMENTS)
def test_each_bounds_standard_error_and_the_interval_match_r(
    outcome: str, arm: str, lee_reference: dict[str, Any]
) -> None:
    r = lee_reference[outcome][arm]
    ours = lee_bounds(**arms_of(outcome, arm), alpha=0.05)
    np.testing.assert_allclose(
        [ours.lower, ours.upper, ours.lower_std_error, ours.upper_std_error],
        [r["lower"], r["upper"], r["lower_std_error"], r["upper_std_error"]],
        rtol=RTOL,
    )
    np.testing.assert_allclose(
        [ours.critical_value, ours.ci_low, ours.ci_high],
        [r["critical_value"], r["ci_low"], r["ci_high"]],
        rtol=RTOL,
    )
    assert ours.near_equal == r["near_equal"]
    assert ours.ci_low < ours.lower <= ours.upper < ours.ci_high  # type: ignore[operator]


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("arm", TREATMENTS)
def test_the_standard_errors_agree_with_rs_bootstrap_and_never_understate_it(
    outcome: str, arm: str, lee_reference: dict[str, Any]
) -> None:
    """Where the share trimmed is well away from 0 (confidence, SMS: a quarter) the formula
    and the bootstrap agree; where it is near 0 the share's estimate sits at its boundary,
    the bootstrap's spread shrinks and the formula is the larger: conservative, never smaller."""
    r = lee_reference[outcome][arm]
    ours = lee_bounds(**arms_of(outcome, arm))
    formula = np.array([ours.lower_std_error, ours.upper_std_error])
    boot = np.array([r["bootstrap_lower_std_error"], r["bootstrap_upper_std_error"]])
    assert np.all(formula >= (1 - BOOTSTRAP_RTOL) * boot)
    if r["trimmed_share"] > 0.2:
        np.testing.assert_allclose(formula, boot, rtol=BOOTSTRAP_RTOL)


def test_the_reference_covers_both_ways_of_choosing_the_critical_value(
    lee_reference: dict[str, Any],
) -> None:
    """Wide bounds (confidence: the arms answered 62% against 78%) get Imbens and Manski's
    value; bounds within sampling noise of each other get the two-sided one."""
    cases = [lee_reference[o][a] for o in OUTCOMES for a in TREATMENTS]
    assert {c["near_equal"] for c in cases} == {True, False}
    one, two = stats.norm.ppf(0.95), stats.norm.ppf(0.975)
    for c in cases:
        assert one - 1e-9 <= c["critical_value"] <= two + 1e-9
        if c["near_equal"]:
            assert c["critical_value"] == pytest.approx(two)


def test_the_report_json_carries_the_interval(
    by_participant: dict[str, Any],  # noqa: F811
    lee_reference: dict[str, Any],
) -> None:
    for c in by_participant["confidence"]["measures"]["comparisons"]:
        r = lee_reference["confidence"][c["arm"]]
        np.testing.assert_allclose(
            [c["lee_lower_std_error"], c["lee_upper_std_error"], c["lee_ci_low"], c["lee_ci_high"]],
            [r["lower_std_error"], r["upper_std_error"], r["ci_low"], r["ci_high"]],
            rtol=RTOL,
        )
        assert c["lee_near_equal"] == r["near_equal"]


def test_the_critical_value_solves_imbens_and_manskis_equation() -> None:
    for width, se, alpha in [(0.1, 0.2, 0.05), (1.0, 0.1, 0.05), (0.3, 0.3, 0.1)]:
        c = imbens_manski_critical_value(width, se, alpha)
        coverage = stats.norm.cdf(c + width / se) - stats.norm.cdf(-c)
        assert coverage == pytest.approx(1 - alpha, abs=1e-10)
    assert imbens_manski_critical_value(0.0, 0.2, 0.05) == pytest.approx(stats.norm.ppf(0.975))
    assert imbens_manski_critical_value(50.0, 0.1, 0.05) == pytest.approx(stats.norm.ppf(0.95))


def test_equal_response_gives_the_plain_difference_with_its_normal_interval() -> None:
    bounds = lee_bounds(
        [3.0, 4.0, 5.0, 4.0], [2.0, 3.0, 4.0, 3.0], randomised_treated=5, randomised_control=5
    )
    assert bounds.trimmed_arm is None and bounds.lower == bounds.upper == pytest.approx(1.0)
    se = np.sqrt(np.var([3, 4, 5, 4]) / 4 + np.var([2, 3, 4, 3]) / 4)
    assert bounds.lower_std_error == pytest.approx(se)
    assert (bounds.ci_low, bounds.ci_high) == pytest.approx(
        (1 - stats.norm.ppf(0.975) * se, 1 + stats.norm.ppf(0.975) * se)
    )


LOPSIDED = {"control": [*CLEAR["control"], (np.nan, 100)], "sms": [*CLEAR["sms"], (np.nan, 20)]}


def test_the_text_says_the_interval_in_plain_words() -> None:
    report = body(answers(LOPSIDED))["report"]
    (c,) = report["outcomes"][0]["measures"]["comparisons"]
    (line,) = supporting_lines(report["outcomes"][0]["measures"], {"sms": "SMS reminder"}, "95%")
    assert "the effect among those who would answer either way lies between these" in line
    assert "allowing for chance, between" in line and "a 95% interval" in line
    assert c["lee_ci_low"] < c["lee_lower"] and c["lee_ci_high"] > c["lee_upper"]
    assert "allowing for chance, between" in render_text(report, trial())


def test_the_csv_has_the_interval_beside_the_bounds() -> None:
    data = body(answers(LOPSIDED))
    rows = list(csv.DictReader(io.StringIO(results_csv(data, trial()).lstrip("\ufeff"))))
    sms = next(r for r in rows if r["Outcome"] == "confidence" and r["Arm"] == "SMS reminder")
    (c,) = data["report"]["outcomes"][0]["measures"]["comparisons"]
    low = "Effect allowing for unequal response, 95% interval low (Imbens-Manski)"
    high = "Effect allowing for unequal response, 95% interval high (Imbens-Manski)"
    assert (sms[low], sms[high]) == (f"{c['lee_ci_low']:.3f}", f"{c['lee_ci_high']:.3f}")
    control = next(r for r in rows if r["Outcome"] == "confidence" and r["Arm"] != "SMS reminder")
    assert control[low] == "" and control[high] == ""


def test_the_results_page_and_the_pdf_show_the_interval_with_the_bounds(app: Any) -> None:
    import copy
    from datetime import UTC, datetime

    from analysis.disclosure import disclose
    from analysis.labels import Labels
    from analysis.pages import decimal, figure, pct, points, pvalue
    from analysis.report_pdf import Numbers, results_pdf
    from analysis.results_view import _outcome, chart_views
    from tests.analysis.test_outcome_types_words import section
    from tests.analysis.test_results_pdf import flat, pdf_text

    data = disclose(copy.deepcopy(body(answers(LOPSIDED))), exact=True)
    page = section(app, data, trial())
    assert "Lee bounds for differential response" in page
    assert "allowing for chance, between" in page
    definition = trial()
    titles = {arm.id: arm.title for arm in definition.arms}
    outcome = _outcome(data["report"]["outcomes"][0], definition, titles)
    view = {
        "titles": titles,
        "labels": Labels.of(definition),
        "level": "95%",
        "control": "control",
        "primary": outcome,
        "secondary": [],
        "enrolment": [{"week": "2026-01-05"}],
        "forests": chart_views(data, definition)["forests"],
    }
    numbers = Numbers(figure=figure, pct=pct, points=points, pvalue=pvalue, decimal=decimal)
    pdf = results_pdf(
        view,
        trial_title="A small trial",
        computed_at=datetime(2026, 12, 5, tzinfo=UTC),
        numbers=numbers,
    )
    text = flat(pdf_text(pdf))
    assert "allowing for chance, between" in text
    # The answers by arm are drawn (the key's words), and so is the forest plot of means.
    assert "1 not at all 2 3 4 5 very Answers on confidence by arm" in text
    assert "Difference in means on the 1\u20135 scale Forest plot: effect of each arm" in text
