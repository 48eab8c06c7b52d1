"""After an arm was excluded from enrolment while paused, each comparison with control uses only
the people allocated while both arms were open; without an exclusion nothing changes."""

from __future__ import annotations

import html
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
from flask import Flask
from sqlmodel import Session

from analysis.concurrent import OPEN_ARMS
from analysis.disclosure import FEWER, disclose
from analysis.frame import frame_from_db
from analysis.report import build_report, report_json
from experiments import trials
from experiments.enrol import enrol_file
from messages.pausing import pause
from nudge.clock import FixedClock
from tests.analysis.test_report import definition, small_frame
from tests.conftest import EXAMPLE
from tests.experiments.test_paused_arm_exclusion import COURTS, TRIAL, excluding
from tests.factories import launch, person, write_people
from tests.trial_factories import assigned_arms, record_outcomes
from tests.web_helpers import logged_in

OPEN_TWO = "control,sms"  # letter paused and closed to new participants


def letter_closed(
    first: dict[str, tuple[int, int]], later: dict[str, tuple[int, int]]
) -> pd.DataFrame:
    """People per arm (n, events) allocated while every arm was open, then while `letter`
    was paused and closed to new participants."""
    before, after = small_frame(first), small_frame(later)
    after["participant_ref"] = [f"Q{i}" for i in range(len(after))]
    after["unit"] = after["participant_ref"]
    frame = pd.concat([before, after], ignore_index=True)
    frame["arm"] = pd.Categorical(frame["arm"].astype(str), categories=["control", "sms", "letter"])
    frame[OPEN_ARMS] = [None] * len(before) + [OPEN_TWO] * len(after)
    return frame


def paused_letter_frame() -> pd.DataFrame:
    """Every arm open:   control 5 of 10 attended, sms 7 of 10, letter 6 of 10.
    Letter closed:    control 2 of 10,           sms 4 of 10."""
    return letter_closed(
        {"control": (10, 5), "sms": (10, 7), "letter": (10, 6)},
        {"control": (10, 2), "sms": (10, 4)},
    )


def test_each_comparison_uses_only_its_concurrent_participants() -> None:
    data = report_json(build_report(paused_letter_frame(), definition()))
    (outcome,) = data["outcomes"]
    by_arm = {c["arm"]: c for c in outcome["comparisons"]}
    # sms and control were open throughout: all 40 of them, 11/20 against 7/20.
    assert by_arm["sms"]["risk_difference"] == pytest.approx(11 / 20 - 7 / 20)
    # letter against only the controls allocated while letter was open: 6/10 against 5/10,
    # not against all 20 controls (7/20), which would give 0.25.
    assert by_arm["letter"]["risk_difference"] == pytest.approx(6 / 10 - 5 / 10)
    # Each arm's own figures still count everyone randomised.
    arms = {a["arm"]: (a["n"], a["events"]) for a in outcome["arms"]}
    assert arms == {"control": (20, 7), "sms": (20, 11), "letter": (10, 6)}
    assert outcome["concurrent"] == [
        {
            "arm": "sms",
            "versus": "control",
            "arm_included": 20,
            "control_included": 20,
            "arm_left_out": 0,
            "control_left_out": 0,
            "arm_analysed": 20,
            "control_analysed": 20,
            "arm_events": 11,
            "control_events": 7,
        },
        {
            "arm": "letter",
            "versus": "control",
            "arm_included": 10,
            "control_included": 10,
            "arm_left_out": 0,
            "control_left_out": 10,
            "arm_analysed": 10,
            "control_analysed": 10,
            "arm_events": 6,
            "control_events": 5,
        },
    ]
    (said,) = [n for n in outcome["notes"] if n.startswith("Letter is compared with")]
    assert "allocated while both were open to new participants" in said
    assert (
        "Left out of this comparison: people in Business as usual allocated while Letter was "
        "paused and closed to new participants (10)" in said
    )
    assert not any(n.startswith("SMS reminder is compared with") for n in outcome["notes"])


def test_a_comparison_is_the_plain_analysis_of_its_concurrent_people() -> None:
    """Every figure of letter's comparison but the multiplicity correction is what the report
    of a two-arm trial gives for its 20 concurrent people, with no exclusion at all."""
    frame = paused_letter_frame()
    concurrent = build_report(frame, definition()).outcomes[0].comparisons[1]
    two_arms = definition(
        arms=[
            {"id": "control", "title": "Business as usual", "control": True},
            {"id": "letter", "title": "Letter"},
        ]
    )
    plain = frame.loc[frame[OPEN_ARMS].isna() & frame["arm"].isin(["control", "letter"])]
    plain = plain.drop(columns=OPEN_ARMS).assign(
        arm=lambda f: pd.Categorical(f["arm"].astype(str), categories=["control", "letter"])
    )
    (alone,) = build_report(plain, two_arms).outcomes[0].comparisons
    assert concurrent.arm == alone.arm == "letter"
    found, expected = asdict(concurrent), asdict(alone)
    del found["p_value_corrected"], expected["p_value_corrected"]
    assert found.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float):
            assert found[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        else:
            assert found[key] == value, key


def test_without_an_exclusion_the_report_is_exactly_as_before() -> None:
    frame = small_frame({"control": (30, 12), "sms": (30, 19), "letter": (30, 15)})
    before = report_json(build_report(frame, definition()))
    every_arm_open = frame.assign(**{OPEN_ARMS: None})
    assert report_json(build_report(every_arm_open, definition())) == before
    assert "concurrent" not in before["outcomes"][0]


def test_a_lead_does_not_see_a_comparison_whose_concurrent_cells_are_small() -> None:
    # Only 3 controls were allocated while letter was open; every arm's own cells are 5 or more.
    frame = letter_closed(
        {"control": (3, 1), "sms": (10, 5), "letter": (10, 5)},
        {"control": (12, 6), "sms": (10, 5)},
    )
    report = report_json(build_report(frame, definition()))
    flow = {"assessed": 0, "ineligible": 0, "randomised": 0, "ineligible_by_rule": {}, "arms": []}
    body = {"report": report, "flow": flow, "enrolment": []}
    shown = disclose(body, exact=False)["report"]["outcomes"][0]
    letter = next(c for c in shown["comparisons"] if c["arm"] == "letter")
    sms = next(c for c in shown["comparisons"] if c["arm"] == "sms")
    assert letter["risk_difference"] is None and sms["risk_difference"] is not None
    counts = next(c for c in shown["concurrent"] if c["arm"] == "letter")
    assert counts["control_included"] == FEWER and counts["arm_events"] is None


def enrol_people(session: Session, clock: FixedClock, path: Path, numbers: range) -> None:
    rows = [person(n, court=COURTS[n % 4]) for n in numbers]
    enrol_file(session, clock, TRIAL, write_people(path, rows), "test")
    session.commit()


def test_after_an_excluded_pause_the_results_compare_concurrent_people_and_say_so(
    app: Flask,
    staff: None,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    example_dir: Path,
) -> None:
    launch(session, clock, excluding(example_dir))
    enrol_people(session, clock, tmp_path / "first.csv", range(1, 121))
    pause(session, clock, TRIAL, "social_norm", "DMC review", "dmc")
    session.commit()
    enrol_people(session, clock, tmp_path / "second.csv", range(121, 241))
    arms = assigned_arms(session)
    record_outcomes(session, clock, tmp_path / "outcomes.csv", arms, 7, 1.0)
    frame = frame_from_db(session, TRIAL)
    later = frame[OPEN_ARMS].notna()
    assert set(frame.loc[later, "arm"].astype(str)) == {"control", "practical"}
    launched = trials.current_definition(session, trials.get_trial(session, TRIAL))
    outcome = report_json(build_report(frame, launched))["outcomes"][0]
    # Social norm against the controls allocated before the pause only, by hand from the frame.
    first = frame.loc[~later]
    rate = {a: first.loc[first["arm"] == a, "attended"].mean() for a in ("control", "social_norm")}
    by_arm = {c["arm"]: c for c in outcome["comparisons"]}
    assert by_arm["social_norm"]["risk_difference"] == pytest.approx(
        rate["social_norm"] - rate["control"]
    )
    controls_after = int((later & (frame["arm"] == "control")).sum())
    (counts,) = [c for c in outcome["concurrent"] if c["arm"] == "social_norm"]
    assert counts["control_left_out"] == controls_after > 0
    assert counts["control_included"] == int(((~later) & (frame["arm"] == "control")).sum())
    page = logged_in(app, "researcher").get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    text = " ".join(html.unescape(page).split())
    assert (
        "Social norm is compared with Business as usual using only the people allocated while "
        "both were open to new participants" in text
    )
    assert f"{controls_after} left out, allocated while Social norm was closed" in text
    assert "In the comparison with Practical information" in text


def test_a_pause_that_allocates_as_before_leaves_the_frame_as_it_was(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, EXAMPLE)
    enrol_people(session, clock, tmp_path / "first.csv", range(1, 31))
    pause(session, clock, TRIAL, "social_norm", "DMC review", "dmc")
    session.commit()
    enrol_people(session, clock, tmp_path / "second.csv", range(31, 61))
    frame = frame_from_db(session, TRIAL)
    assert OPEN_ARMS not in frame.columns and len(frame) == 60
