"""A trial whose primary outcome is a mean is sized for a difference in means: the t-test's
sample size, power and detectable difference against R (power.t.test, and the noncentral t
in base R for unequal arms: reference/outcometypes/make_means_power_reference.R), the plan's
keys checked where written, and the report saying the design in the outcome's units."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from analysis.report import build_report, report_json
from analysis.stats.power import (
    minimum_detectable_standardised,
    power_two_means,
    sample_size_two_means,
)
from analysis.text import render_text
from tests.analysis.test_outcome_types_words import CLEAR, CONFIDENCE, TWO_ARMS, answers
from tests.analysis.test_report import definition, small_frame
from tests.experiments.test_definition_rules import BASE, problems_for

HERE = Path(__file__).parent / "reference" / "outcometypes"
RTOL = 1e-6


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads((HERE / "means_power_reference.json").read_text())


def test_sample_sizes_match_r(reference: dict[str, Any]) -> None:
    for case in reference["sample_sizes"]:
        ours = sample_size_two_means(case["d"], case["alpha"], case["power"], ratio=case["ratio"])
        assert ours.n_exact == pytest.approx(case["n_exact"], rel=RTOL)
        assert ours.n_per_arm == math.ceil(case["n_exact"])
        if "power_t_test_n" in case:
            assert ours.n_exact == pytest.approx(case["power_t_test_n"], rel=RTOL)


def test_power_and_the_detectable_difference_match_r(reference: dict[str, Any]) -> None:
    for case in reference["powers"]:
        ours = power_two_means(case["n"], case["d"], case["alpha"], ratio=case["ratio"])
        assert ours == pytest.approx(case["power"], rel=RTOL)
        if "power_t_test" in case:
            assert ours == pytest.approx(case["power_t_test"], rel=RTOL)
    for case in reference["detectable"]:
        ours = minimum_detectable_standardised(
            case["n"], case["alpha"], case["power"], ratio=case["ratio"]
        )
        assert ours == pytest.approx(case["d"], rel=RTOL)
        if "power_t_test_delta" in case:
            assert ours == pytest.approx(case["power_t_test_delta"], rel=RTOL)


def test_the_sample_size_and_the_power_round_trip() -> None:
    for d, ratio in [(0.2, 1.0), (0.35, 2.0), (0.8, 0.5)]:
        size = sample_size_two_means(d, 0.05, 0.9, ratio=ratio)
        assert power_two_means(size.n_exact, d, 0.05, ratio=ratio) == pytest.approx(0.9)
        assert power_two_means(size.n_per_arm, d, 0.05, ratio=ratio) >= 0.9


def scale_trial(**analysis: Any) -> Any:
    return definition(arms=TWO_ARMS, outcomes=[CONFIDENCE], analysis=analysis)


def test_a_scale_primary_is_sized_for_its_difference_in_means(reference: dict[str, Any]) -> None:
    trial = scale_trial(minimum_detectable_difference=0.3, outcome_sd=1.2)
    report = report_json(build_report(answers(CLEAR), trial))
    power = report["power"]
    case = next(
        c for c in reference["sample_sizes"] if c["d"] == pytest.approx(0.25) and c["ratio"] == 1
    )
    assert power["design_n_per_arm"] == math.ceil(case["n_exact"])
    means = power["means"]
    assert means["design_standardised"] == pytest.approx(0.25)
    assert power["achieved_n_per_arm"] == 100
    # 100 answers a side detect d where the t-test reaches 80% power; in units, d x the SD.
    d = minimum_detectable_standardised(100, 0.05, 0.8)
    assert means["achieved_standardised"] == pytest.approx(d)
    assert means["achieved_difference"] == pytest.approx(d * 1.2)
    assert means["achieved_sd_source"] == "plan"
    text = render_text(report, trial)
    assert (
        f"Design: {math.ceil(case['n_exact'])} per arm to detect a difference in means of 0.30 "
        "(SD 1.20, so 0.25 standard deviations) with 80% power." in text
    )
    assert "the power calculation, made for a yes/no outcome" not in " ".join(report["notes"])


def test_without_an_sd_the_achieved_difference_uses_the_observed_one() -> None:
    trial = scale_trial(minimum_detectable_standardised=0.3)
    report = report_json(build_report(answers(CLEAR), trial))
    means = report["power"]["means"]
    assert means["design_difference"] is None and means["design_standardised"] == 0.3
    assert means["achieved_sd_source"] == "observed"
    # Control: 90 threes and 10 fours (SD 0.3015); SMS: 60 and 40 (SD 0.4924); pooled.
    sd = math.sqrt((99 * 0.09 * 100 / 99 + 99 * 0.24 * 100 / 99) / 198)
    assert means["achieved_sd"] == pytest.approx(sd)
    assert "a difference in means of 0.30 standard deviations" in render_text(report, trial)


def test_a_yes_no_trials_power_is_as_it_was() -> None:
    frame = small_frame({"control": (40, 20), "sms": (40, 28), "letter": (40, 22)})
    power = report_json(build_report(frame, definition()))["power"]
    assert "means" not in power


def scale_primary_definition(tmp_path: Path) -> Path:
    """The example with the confidence question as its primary outcome, sized for 0.3 points
    on the 1-5 scale with an SD of 1.2."""
    from tests.analysis.test_outcome_types_page import with_confidence

    path = with_confidence(tmp_path)
    text = path.read_text()
    text = text.replace("{id: attended, primary: true,", "{id: attended,")
    text = text.replace(
        "{id: confidence, type: scale", "{id: confidence, primary: true, type: scale"
    )
    text = text.replace(
        "  minimum_detectable_effect: 0.05\n  baseline_rate: 0.75\n",
        "  minimum_detectable_difference: 0.3\n  outcome_sd: 1.2\n",
    )
    path.write_text(text)
    return path


def test_the_results_page_gives_a_scale_primarys_design_and_weeks_in_its_units(
    app: Any, staff: None, session: Any, clock: Any, tmp_path: Path
) -> None:
    import csv as csv_module

    from analysis.outcomes import import_outcomes
    from tests.analysis.test_outcome_types_page import answered
    from tests.trial_factories import TRIAL, seed_trial
    from tests.web_helpers import RESULTS, logged_in

    seeded = seed_trial(
        session, clock, tmp_path, people=160, definition=scale_primary_definition(tmp_path)
    )
    path = tmp_path / "confidence.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv_module.writer(handle)
        writer.writerow(["participant_ref", "case_ref", "confidence"])
        for ref, answer in answered(seeded.arms).items():
            writer.writerow([ref, f"C{ref[1:]}", "" if answer is None else answer])
    import_outcomes(session, clock, TRIAL, path, "test")
    session.commit()
    client = logged_in(app, "researcher")
    page = client.get(RESULTS).get_data(as_text=True)
    designed = sample_size_two_means(0.25, 0.05, 0.8).n_per_arm
    assert (
        f"{designed} per arm to detect a difference in means of 0.30 (SD 1.20, so 0.25 "
        "standard deviations) with 80% power" in page
    )
    assert "answers in the smallest arm the trial can detect a difference in means of" in page
    assert "percentage points from a baseline" not in page
    assert "Forest plot: effect of each arm on confidence against control" in page
    body = json.loads(client.get(f"/trials/{TRIAL}/results.json").get_data(as_text=True))
    assert body["over_time"]["type"] == "scale" and body["over_time"]["weeks"]
    # The seeded hearings all fall in one week: the section says so, as for a yes/no outcome.
    assert "All outcomes so far are from hearings in the week starting" in page


SCALE_PRIMARY = BASE.replace(
    "  - {id: attended, primary: true}\n",
    "  - {id: attended}\n"
    "  - {id: confidence, primary: true, type: scale, scale: {min: 1, max: 5}}\n",
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            SCALE_PRIMARY + "analysis:\n  baseline_rate: 0.7\n  minimum_detectable_effect: 0.05\n",
            "analysis.baseline_rate: the primary outcome 'confidence' is a scale outcome, not "
            "yes/no, so its design is a difference in means",
        ),
        (
            BASE + "analysis:\n  minimum_detectable_difference: 0.3\n  outcome_sd: 1\n",
            "analysis.minimum_detectable_difference: the primary outcome 'attended' is yes/no",
        ),
        (
            SCALE_PRIMARY + "analysis:\n  minimum_detectable_difference: 0.3\n",
            "analysis.minimum_detectable_difference: give outcome_sd too",
        ),
        (
            SCALE_PRIMARY + "analysis:\n  minimum_detectable_standardised: 0.3\n  outcome_sd: 1\n"
            "  minimum_detectable_difference: 0.3\n",
            "analysis.minimum_detectable_standardised: give either it or",
        ),
        (
            SCALE_PRIMARY + "analysis:\n  outcome_sd: -1\n",
            "analysis.outcome_sd",
        ),
    ],
)
def test_a_design_effect_in_the_wrong_terms_is_refused_where_written(
    tmp_path: Path, text: str, problem: str
) -> None:
    problems = problems_for(tmp_path, text)
    assert any(problem in p for p in problems), problems
    assert all(p.startswith("trial.yaml:") for p in problems), problems


def test_a_scale_primary_with_its_difference_in_means_is_valid(tmp_path: Path) -> None:
    text = SCALE_PRIMARY + "analysis:\n  minimum_detectable_difference: 0.3\n  outcome_sd: 1.2\n"
    assert problems_for(tmp_path, text) == []
