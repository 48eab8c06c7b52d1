"""Results over time: the report's unadjusted comparison on the outcomes seen by each week."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session

from analysis.disclosure import FEWER, disclose
from analysis.over_time import results_over_time
from analysis.report import model_spec
from analysis.results_cache import results_for
from analysis.summaries import arm_rates, compare_unadjusted
from experiments import trials
from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from tests.analysis.test_report import definition
from tests.conftest import EXAMPLE
from tests.factories import launch, person, write_people
from tests.trial_factories import (
    TRIAL,
    SeededTrial,
    assigned_arms,
    record_outcomes,
    set_message_fates,
)

ARMS = ("control", "sms", "letter")


def frame_of(rows: list[tuple[str, str, float, str]]) -> tuple[pd.DataFrame, pd.Series]:
    """(arm, unit, attended, hearing time in UTC) per person: the frame and its outcome times."""
    frame = pd.DataFrame(
        {
            "participant_ref": [f"P{i}" for i in range(len(rows))],
            "arm": pd.Categorical([r[0] for r in rows], categories=list(ARMS)),
            "unit": pd.Categorical([r[1] for r in rows]),
            "stratum": "all",
            "attended": [r[2] for r in rows],
        }
    )
    return frame, pd.Series(pd.to_datetime([r[3] for r in rows], utc=True), index=frame.index)


def simulated(seed: int, people: int = 600, units: int | None = None) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    arms = rng.choice(ARMS, people)
    rates = {"control": 0.55, "sms": 0.75, "letter": 0.62}
    attended = [float(rng.random() < rates[a]) for a in arms]
    attended = [np.nan if rng.random() < 0.05 else a for a in attended]
    days = rng.integers(0, 60, people)
    rows = [
        (
            str(arm),
            f"U{i // 2}" if units else f"P{i}",
            value,
            str(pd.Timestamp("2027-01-04 10:00", tz="Europe/London") + pd.Timedelta(days=int(d))),
        )
        for i, (arm, value, d) in enumerate(zip(arms, attended, days, strict=True))
    ]
    return frame_of(rows)


def test_a_hand_checked_trial_gives_each_weeks_cumulative_difference() -> None:
    week_one = "2027-01-05T10:00:00+00:00"  # a Tuesday
    week_two = "2027-01-12T10:00:00+00:00"
    rows = [("control", f"c{i}", float(i < 5), week_one) for i in range(10)]
    rows += [("sms", f"s{i}", float(i < 8), week_one) for i in range(10)]
    rows += [("letter", f"l{i}", float(i < 6), week_one) for i in range(10)]
    rows += [("control", f"d{i}", float(i < 5), week_two) for i in range(10)]
    rows += [("sms", f"t{i}", float(i < 4), week_two) for i in range(10)]
    frame, times = frame_of(rows)
    plan = definition(population={"unit": "participant"})
    found = results_over_time(frame, times, plan)
    assert [w.week_starting for w in found.weeks] == ["2027-01-04", "2027-01-11"]
    first, second = found.weeks
    assert [(a.arm, a.n, a.events) for a in first.arms] == [
        ("control", 10, 5),
        ("sms", 10, 8),
        ("letter", 10, 6),
    ]
    assert [(a.arm, a.n, a.events) for a in second.arms] == [
        ("control", 20, 10),
        ("sms", 20, 12),
        ("letter", 10, 6),
    ]
    assert first.comparisons[0].estimate == pytest.approx(0.8 - 0.5)
    assert first.comparisons[1].estimate == pytest.approx(0.6 - 0.5)
    assert second.comparisons[0].estimate == pytest.approx(12 / 20 - 10 / 20)
    assert second.comparisons[1].estimate == pytest.approx(0.6 - 0.5)
    assert found.undated == 0


@pytest.mark.parametrize("unit", ["participant", "case"])
def test_each_week_matches_the_reports_comparison_on_the_outcomes_seen_by_then(unit: str) -> None:
    frame, times = simulated(seed=3, units=2 if unit == "case" else None)
    plan = definition(population={"unit": unit})
    found = results_over_time(frame, times, plan)
    assert len(found.weeks) == 9
    local = times.dt.tz_convert("Europe/London")
    spec = model_spec(plan)
    for week in found.weeks:
        end = pd.Timestamp(week.week_starting, tz="Europe/London") + pd.Timedelta(days=7)
        subset = frame.loc[(local < end) & frame["attended"].notna()]
        rates = arm_rates(subset, "attended", plan, spec)
        by_arm = {a.arm: a for a in rates.arms}
        assert [(a.arm, a.n, a.events) for a in week.arms] == [
            (a.arm, a.n, a.events) for a in rates.arms
        ]
        for shown in week.comparisons:
            expected = compare_unadjusted(
                by_arm[shown.arm], by_arm["control"], rates, plan.analysis
            ).risk_difference
            assert shown.estimate == pytest.approx(expected.estimate)
            assert shown.ci_low == pytest.approx(expected.ci_low)
            assert shown.ci_high == pytest.approx(expected.ci_high)


def test_weeks_start_on_monday_in_the_trials_timezone() -> None:
    # In London's summer time 22:30 UTC on Sunday 4 July 2027 is 23:30 that Sunday, and
    # 23:30 UTC is 00:30 on Monday 5 July: a new week.
    sunday, monday = "2027-07-04T22:30:00+00:00", "2027-07-04T23:30:00+00:00"
    rows = [(arm, f"{arm}{i}", float(i % 2), sunday) for arm in ARMS for i in range(4)]
    rows += [(arm, f"{arm}{i}", float(i % 2), monday) for arm in ARMS for i in range(4, 6)]
    frame, times = frame_of(rows)
    found = results_over_time(frame, times, definition(population={"unit": "participant"}))
    assert [w.week_starting for w in found.weeks] == ["2027-06-28", "2027-07-05"]
    assert [a.n for a in found.weeks[0].arms] == [4, 4, 4]


def test_outcomes_without_a_date_and_people_without_an_outcome_are_left_out() -> None:
    tuesday = "2027-01-05T10:00:00+00:00"
    rows = [(arm, f"{arm}{i}", float(i % 2), tuesday) for arm in ARMS for i in range(6)]
    frame, times = frame_of(rows)
    frame.loc[0, "attended"] = np.nan
    times.loc[1] = pd.NaT
    found = results_over_time(frame, times, definition(population={"unit": "participant"}))
    assert found.undated == 1
    assert found.weeks[0].arms[0].n == 4


def test_a_trial_without_outcomes_has_no_weeks() -> None:
    rows = [(arm, f"{arm}1", np.nan, "2027-01-05T10:00:00+00:00") for arm in ARMS]
    frame, times = frame_of(rows)
    found = results_over_time(frame, times, definition(population={"unit": "participant"}))
    assert found.weeks == ()


def seed_over_weeks(
    session: Session, clock: FixedClock, tmp_path: Path, *, people: int = 240, weeks: int = 6
) -> SeededTrial:
    """The example trial enrolled in one import a week, each import's hearings that week."""
    launch(session, clock, EXAMPLE)
    start = datetime(2027, 1, 11, 10, 0)  # a Monday
    for week in range(weeks):
        rows = [
            person(
                n,
                role="victim" if n % 12 == 0 else "witness",
                hearing_start=(start + timedelta(days=7 * week + n % 5)).isoformat(),
                prior_fta="yes" if n % 4 == 0 else "no",
            )
            for n in range(1, people + 1)
            if n % weeks == week
        ]
        path = write_people(tmp_path / f"people-{week}.csv", rows)
        enrol_and_plan(session, clock, TRIAL, path, "t")
        session.commit()
        clock.advance(timedelta(days=7))
    arms = assigned_arms(session)
    set_message_fates(session)
    record_outcomes(session, clock, tmp_path / "outcomes.csv", arms, seed=7, observed_share=0.95)
    return SeededTrial(TRIAL, arms)


def test_the_cached_results_carry_each_week_of_hearings_and_the_enrolment_dates(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    seed_over_weeks(session, clock, tmp_path, weeks=6)
    trial = trials.get_trial(session, TRIAL)
    body = results_for(session, clock, trial, trials.current_definition(session, trial)).body
    weeks = body["over_time"]["weeks"]
    assert [w["week_starting"] for w in weeks] == [f"2027-01-{d:02d}" for d in (11, 18, 25)] + [
        "2027-02-01",
        "2027-02-08",
        "2027-02-15",
    ]
    primary = next(o for o in body["report"]["outcomes"] if o["primary"])
    assert [(a["arm"], a["n"], a["events"]) for a in weeks[-1]["arms"]] == [
        (a["arm"], a["n"], a["events"]) for a in primary["arms"]
    ]
    last = {c["arm"]: c for c in weeks[-1]["comparisons"]}
    for comparison in primary["comparisons"]:
        assert last[comparison["arm"]]["estimate"] == pytest.approx(comparison["risk_difference"])
    assert body["randomised_at"] == {
        "first_day": "2027-01-10",
        "last_day": "2027-02-14",
        "imports": 6,
    }


def cells(week: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {a["arm"]: (a["n"], a["events"]) for a in week["arms"]}


@pytest.fixture
def weekly_body(session: Session, clock: FixedClock, tmp_path: Path) -> dict[str, Any]:
    """The results (exact, before disclosure control) of 150 people enrolled over six weeks."""
    seed_over_weeks(session, clock, tmp_path, people=150, weeks=6)
    trial = trials.get_trial(session, TRIAL)
    return results_for(session, clock, trial, trials.current_definition(session, trial)).body


def test_a_lead_sees_no_week_that_reveals_fewer_than_5_people_alone_or_against_the_next(
    weekly_body: dict[str, Any],
) -> None:
    body = weekly_body
    exact = disclose(body, exact=True)["over_time"]
    shown = disclose(body, exact=False)["over_time"]
    assert len(exact["weeks"]) == 6
    assert 0 < len(shown["weeks"]) < 6
    assert shown["weeks_hidden"] == 6 - len(shown["weeks"])
    assert shown["weeks"][-1]["week_starting"] == exact["weeks"][-1]["week_starting"]
    previous = {a["arm"]: (0, 0) for a in shown["weeks"][0]["arms"]}
    for week in shown["weeks"]:
        for arm, (n, events) in cells(week).items():
            was_n, was_events = previous[arm]
            for count in (n - was_n, events - was_events, n - events - was_n + was_events):
                assert count == 0 or count >= 5
        previous = cells(week)
    assert all(isinstance(c["estimate"], float) for c in shown["weeks"][0]["comparisons"])


def test_a_week_with_a_small_arm_shows_fewer_than_5_and_no_difference_to_a_lead(
    weekly_body: dict[str, Any],
) -> None:
    body = weekly_body
    week = body["over_time"]["weeks"][-1]
    week["arms"][1].update(n=3, events=2)  # as if this arm had 3 outcomes, 2 attended
    shown = disclose(body, exact=False)["over_time"]["weeks"][-1]
    assert (shown["arms"][1]["n"], shown["arms"][1]["events"]) == (FEWER, FEWER)
    blanked = next(c for c in shown["comparisons"] if c["arm"] == week["arms"][1]["arm"])
    assert blanked["estimate"] is None and blanked["ci_low"] is None
