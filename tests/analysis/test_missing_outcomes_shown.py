"""Missing outcomes by arm reach the reader: counts on every report, a warning with the
best- and worst-case bounds when the arms' missing shares differ by more than 5 points."""

from __future__ import annotations

import html
import re

from flask import Flask

from analysis.report import build_report, report_json
from analysis.text import render_text
from tests.analysis.test_report import definition, small_frame
from tests.analysis.test_results_pages import seeded  # noqa: F401
from tests.trial_factories import TRIAL, SeededTrial
from tests.web_helpers import logged_in


def test_unequal_missing_outcomes_give_a_warning_with_the_bounds_in_the_text() -> None:
    plan = definition()
    frame = small_frame({"control": (100, 50), "sms": (100, 60), "letter": (100, 52)})
    letter = frame.index[frame["arm"] == "letter"][:20]
    frame.loc[letter, "attended"] = float("nan")  # 20% missing in one arm, none elsewhere
    data = report_json(build_report(frame, plan))
    text = render_text(data, plan)
    (outcome,) = data["outcomes"]
    assert outcome["missing"]["flagged"] is True
    assert "Outcome recorded: Business as usual 100 of 100; SMS reminder 100 of 100; " in text
    assert "Letter 80 of 100 (20.0% missing)." in text
    letter_c = outcome["comparisons"][1]
    # Worst case: the 20 missing all non-events in the letter arm; best: all events.
    assert letter_c["rd_bound_worst"] == (32 / 100) - (50 / 100)
    assert letter_c["rd_bound_best"] == (52 / 100) - (50 / 100)
    assert "WARNING: outcomes are missing more often in some arms" in text
    assert "Letter -18.0 to +2.0 points." in text


def test_equal_missing_outcomes_give_counts_and_no_warning() -> None:
    plan = definition()
    frame = small_frame({"control": (100, 50), "sms": (100, 60), "letter": (100, 52)})
    for arm in ("control", "sms", "letter"):
        frame.loc[frame.index[frame["arm"] == arm][:3], "attended"] = float("nan")
    text = render_text(report_json(build_report(frame, plan)), plan)
    assert "Business as usual 97 of 100 (3.0% missing)" in text
    assert "WARNING" not in text


def test_the_results_page_shows_outcomes_recorded_and_missing_by_arm(
    app: Flask,
    seeded: SeededTrial,  # noqa: F811
) -> None:
    page = logged_in(app, "researcher").get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
    assert "outcomes recorded and missing by arm" in text
    assert "Randomised Outcome recorded Missing Missing share" in text
