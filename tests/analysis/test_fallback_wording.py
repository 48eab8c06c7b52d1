"""When the pre-registered estimate is missing, the report says so and why, and labels what it
shows instead: "adjusted for" and "the pre-specified regression model" are never beside an
unadjusted number, in the terminal text or on the results page."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from sqlmodel import Session

from analysis.outcomes import import_outcomes
from analysis.report import build_report, report_json
from analysis.text import primary_shown, render_text
from experiments.definition import TrialDefinition
from nudge.clock import FixedClock
from tests.analysis.test_report import definition, small_frame
from tests.trial_factories import TRIAL, SeededTrial, seed_trial
from tests.web_helpers import add_staff, logged_in

ADJUSTED_WORDS = ("adjusted for", "pre-specified regression model", "pre-registered estimates)")


def analysed(frame: pd.DataFrame, plan: TrialDefinition) -> tuple[dict[str, Any], str]:
    data = report_json(build_report(frame, plan))
    return data, render_text(data, plan)


def sentence_of(text: str, title: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(f"{title} ")]
    return line


def assert_labelled(data: dict[str, Any], text: str, plan: TrialDefinition) -> None:
    """Every comparison either has its pre-registered figures or says it has not, and no
    adjusted wording stands beside a fallback figure."""
    titles = {arm.id: arm.title for arm in plan.arms}
    for outcome in data["outcomes"]:
        shown = [c for c in outcome["comparisons"] if primary_shown(c)]
        assert outcome["primary_available"] == (len(shown) == len(outcome["comparisons"]))
        for c in outcome["comparisons"]:
            sentence = sentence_of(text, titles[c["arm"]])
            if primary_shown(c):
                assert c["primary_reason"] is None
                assert "unadjusted" not in sentence
                continue
            assert c["primary_reason"], c
            assert f"could not be computed ({c['primary_reason']})" in sentence
            assert not any(word in sentence.lower() for word in ADJUSTED_WORDS)
            if re.search(r"\d+\.\d points", sentence):
                assert "the unadjusted difference" in sentence
                assert "not the pre-registered estimate" in sentence
        if not shown:
            assert "Adjusted for" not in text


def test_a_constant_outcome_gives_no_adjusted_wording_and_labels_the_plain_difference() -> None:
    plan = definition(analysis={"covariates": ["age"]})
    frame = small_frame(
        {"control": (30, 30), "sms": (30, 30), "letter": (30, 30)},
        age=[18.0 + i % 40 for i in range(90)],
    )
    data, text = analysed(frame, plan)
    (outcome,) = data["outcomes"]
    assert outcome["primary_available"] is False
    assert_labelled(data, text, plan)
    sms = sentence_of(text, "SMS reminder")
    assert "the unadjusted difference is +0.0 points" in sms


def test_an_arm_of_one_case_falls_back_alone_and_adjusted_for_is_scoped() -> None:
    plan = definition(population={"unit": "case"}, analysis={"covariates": ["age"]})
    counts = {"control": (60, 30), "sms": (60, 40), "letter": (4, 2)}
    frame = small_frame(counts, age=[20.0 + (i * 7) % 45 for i in range(124)])
    frame["unit"] = [f"C{i // 2}" for i in range(120)] + ["C-only"] * 4
    data, text = analysed(frame, plan)
    (outcome,) = data["outcomes"]
    sms, letter = outcome["comparisons"]
    assert primary_shown(sms) and not primary_shown(letter)
    assert letter["adjusted_p_value"] is None
    assert letter["primary_reason"] == "only 1 randomisation unit in this arm"
    assert outcome["too_few_units"] == ["letter"] and outcome["below_min_clusters"] == ["letter"]
    assert outcome["model_units"] == {"control": 30, "sms": 30, "letter": 1}
    assert "WARNING: Letter has fewer than 10 randomised cases with an outcome" in text
    assert "Adjusted for (the pre-registered estimates): age." in text
    assert_labelled(data, text, plan)


def test_no_observed_control_outcome_is_said_plainly() -> None:
    plan = definition()
    frame = small_frame({"control": (20, 10), "sms": (20, 12), "letter": (20, 9)})
    frame.loc[frame["arm"] == "control", "attended"] = float("nan")
    data, text = analysed(frame, plan)
    assert_labelled(data, text, plan)
    assert "No other estimate is available." in sentence_of(text, "SMS reminder")


def test_the_closing_sentence_says_complete_cases_not_intention_to_treat() -> None:
    plan = definition()
    frame = small_frame({"control": (40, 20), "sms": (40, 28), "letter": (40, 22)})
    _, text = analysed(frame, plan)
    assert "intention to treat" not in text
    assert "complete cases" in text.splitlines()[-1]


def everyone_attended(
    session: Session, clock: FixedClock, tmp_path: Path, seeded: SeededTrial
) -> None:
    """Every seeded person's attendance corrected to "yes": no outcome varies."""
    path = tmp_path / "everyone-attended.csv"
    lines = ["participant_ref,case_ref,attended"]
    lines += [f"{ref},C{int(ref[1:]):05d},yes" for ref in sorted(seeded.arms)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_outcomes(session, clock, TRIAL, path, "test")
    session.commit()


@pytest.fixture
def constant_trial(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    """The seeded example trial, then every attendance corrected to "yes"."""
    add_staff(session, clock)
    everyone_attended(session, clock, tmp_path, seed_trial(session, clock, tmp_path, people=60))


def test_the_results_page_never_puts_adjusted_words_beside_a_fallback(
    app: Flask, constant_trial: None
) -> None:
    page = logged_in(app, "researcher").get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
    primary = text.split("Primary outcome:")[1].split("Secondary outcome:")[0]
    assert primary.count("the pre-registered analysis could not be computed") == 2
    assert primary.count("the unadjusted difference, allowing for randomisation by case, is") == 2
    assert "Adjusted for" not in primary
    for fallback in re.findall(r"could not be computed \(.*?(?:estimate\.|available\.)", text):
        assert not any(word in fallback.lower() for word in ADJUSTED_WORDS), fallback


def test_an_arm_with_no_observed_outcome_says_so_and_the_others_keep_their_estimates() -> None:
    plan = definition(analysis={"covariates": ["age"]})
    frame = small_frame(
        {"control": (40, 20), "sms": (40, 28), "letter": (40, 22)},
        age=[18.0 + (i * 5) % 50 for i in range(120)],
    )
    frame.loc[frame["arm"] == "sms", "attended"] = float("nan")
    data, text = analysed(frame, plan)
    sms, letter = data["outcomes"][0]["comparisons"]
    assert sms["primary_reason"] == "no observed outcomes in this arm"
    assert primary_shown(letter)
    assert_labelled(data, text, plan)
    assert "No other estimate is available." in sentence_of(text, "SMS reminder")
    assert "Adjusted for (the pre-registered estimates): age." in text
