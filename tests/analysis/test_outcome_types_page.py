"""A confidence scale on the real results page, CSV and PDF, and in headless Chromium.

The example trial is launched with a third outcome, a 1-5 confidence answer, and the answers
come in as an outcomes file through the real import (numbers, blank where nobody answered).
Every part is the real app: the import, the frame, disclosure, the view, the templates, the
downloads; on the engine under test.
"""

from __future__ import annotations

import csv
import json
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session

from analysis.outcomes import import_outcomes
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE
from tests.trial_factories import TRIAL, seed_trial
from tests.web_helpers import RESULTS, logged_in, no_violations, open_as, table_rows

CONFIDENCE = (
    "  - {id: confidence, type: scale, label: confidence, description: Confidence in the "
    "justice system, scale: {min: 1, max: 5, labels: {1: not at all confident, "
    "5: very confident}}}\n"
)
SHIFT = {"control": 0, "practical": 1, "social_norm": 1}


def with_confidence(tmp_path: Path) -> Path:
    """The example definition with the confidence question, beside a copy of its letters."""
    shutil.copytree(EXAMPLE.parent / "letters", tmp_path / "letters")
    text = EXAMPLE.read_text()
    marker = "analysis:\n"
    variant = tmp_path / "with-confidence.yaml"
    variant.write_text(text.replace(marker, CONFIDENCE + marker, 1))
    return variant


def answered(arms: dict[str, str]) -> dict[str, int | None]:
    """Answers 2-5 by person number, a point higher in the treatment arms; every 4th blank."""
    answers: dict[str, int | None] = {}
    for ref, arm in sorted(arms.items()):
        number = int(ref[1:])
        answers[ref] = None if number % 4 == 0 else 2 + number % 3 + SHIFT[arm]
    return answers


def measured(body: dict[str, Any], outcome: str) -> dict[str, dict[str, Any]]:
    """The results JSON's figures for a non-binary outcome, arm by arm."""
    [found] = [o for o in body["report"]["outcomes"] if o["id"] == outcome]
    return {arm["arm"]: arm for arm in found["measures"]["arms"]}


def means_by_arm(body: dict[str, Any], outcome: str) -> dict[str, float]:
    return {arm: figures["mean"] for arm, figures in measured(body, outcome).items()}


@pytest.fixture
def confidence_trial(session: Session, clock: FixedClock, tmp_path: Path) -> dict[str, float]:
    """The trial with everyone's answers imported; the mean answer by arm."""
    seeded = seed_trial(session, clock, tmp_path, people=160, definition=with_confidence(tmp_path))
    answers = answered(seeded.arms)
    path = tmp_path / "confidence.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_ref", "case_ref", "confidence"])
        for ref, answer in answers.items():
            writer.writerow([ref, f"C{ref[1:]}", "" if answer is None else answer])
    summary = import_outcomes(session, clock, TRIAL, path, "test")
    session.commit()
    assert summary.recorded == sum(a is not None for a in answers.values())
    means = {}
    for arm in SHIFT:
        given = [a for ref, a in answers.items() if seeded.arms[ref] == arm and a is not None]
        means[arm] = statistics.fmean(given)
    return means


def test_the_page_csv_and_pdf_show_the_scale_where_a_yes_no_outcome_is_shown(
    app: Flask, staff: None, confidence_trial: dict[str, float]
) -> None:
    client = logged_in(app, "researcher")
    body = json.loads(client.get(f"/trials/{TRIAL}/results.json").get_data(as_text=True))
    assert means_by_arm(body, "confidence") == pytest.approx(confidence_trial)
    page = client.get(RESULTS).get_data(as_text=True)
    rows = table_rows(page, "Confidence in the justice system: people who answered")
    assert [row[0] for row in rows[1:]] == [
        "Business as usual",
        "Practical information",
        "Social norm",
    ] or len(rows) == 4
    answers = table_rows(page, "Answers on confidence by arm")
    assert answers[1][0] == "1 (not at all confident)"
    assert "on the 1–5 scale" in page and "Attended court on the hearing date" in page
    csv_text = client.get(f"/trials/{TRIAL}/results.csv").get_data(as_text=True)
    assert (
        "Difference in means" in csv_text and "confidence: answered 5 (very confident)" in csv_text
    )
    assert client.get(f"/trials/{TRIAL}/results.pdf").status_code == 200
    lead = logged_in(app, "lead").get(RESULTS).get_data(as_text=True)
    assert "Answers on confidence by arm" in lead


@pytest.mark.parametrize("role", ["researcher", "lead"])
def test_the_answers_by_arm_read_at_320_and_1280_px_and_are_accessible(
    browser: Any, site: str, confidence_trial: dict[str, float], role: str
) -> None:
    for width in (320, 1280):
        page = open_as(browser, site, role, RESULTS, width)
        expect(page.get_by_role("img", name="Answers on confidence by arm")).to_be_visible()
        region = page.get_by_role("region", name="Answers on confidence by arm")
        expect(region.get_by_role("table")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        no_violations(page)
        page.close()
