"""A confidence scale on the real results page, CSV and PDF, and in headless Chromium.

The example trial is launched with a third outcome, a 1-5 confidence answer. Until the
outcome import reads numbers (another change on the way), the analysis frame's confidence
column is filled here, as the frame will fill it: floats, NaN where nobody answered. Every
other part is the real app: disclosure, the view, the templates, the downloads.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session

import analysis.results_cache
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


def answered(frame: pd.DataFrame) -> pd.Series:
    """Answers 2-5 by person number, a point higher in the treatment arms; every 4th blank."""
    number = frame["participant_ref"].str[1:].astype(int)
    shift = frame["arm"].astype(str).map(SHIFT).fillna(0).astype(int)
    values = (2 + number % 3 + shift).astype("float64")
    return values.where(number % 4 != 0, np.nan)


@pytest.fixture
def confidence_trial(
    session: Session, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_trial(session, clock, tmp_path, people=160, definition=with_confidence(tmp_path))
    built = analysis.results_cache.frame_from_db

    def frame_with_answers(db: Session, trial_id: str) -> pd.DataFrame:
        frame = built(db, trial_id)
        return frame.assign(confidence=answered(frame))

    monkeypatch.setattr(analysis.results_cache, "frame_from_db", frame_with_answers)


def test_the_page_csv_and_pdf_show_the_scale_where_a_yes_no_outcome_is_shown(
    app: Flask, staff: None, confidence_trial: None
) -> None:
    client = logged_in(app, "researcher")
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
    browser: Any, site: str, confidence_trial: None, role: str
) -> None:
    for width in (320, 1280):
        page = open_as(browser, site, role, RESULTS, width)
        expect(page.get_by_role("img", name="Answers on confidence by arm")).to_be_visible()
        region = page.get_by_role("region", name="Answers on confidence by arm")
        expect(region.get_by_role("table")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        no_violations(page)
        page.close()
