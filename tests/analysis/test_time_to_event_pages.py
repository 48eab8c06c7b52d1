"""Time to withdrawal from the database: the frame, the cache, the page, the CSV and the CLI."""

from __future__ import annotations

import csv
import html
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from analysis.analyse import analyse_trial
from analysis.frame import frame_from_db
from analysis.outcomes import import_outcomes
from analysis.report import report_json
from analysis.results_cache import Results, results_for
from analysis.time_to_event_words import share_text
from experiments import trials
from nudge.clock import FixedClock
from tests.analysis.test_results_pdf import pdf_text
from tests.conftest import Cli
from tests.trial_factories import TRIAL, SeededTrial, seed_trial
from tests.web_helpers import logged_in, table_rows

FIRST_CHARGE = date(2026, 3, 1)
TODAY = date(2027, 1, 10)  # the pinned clock's day in London


def date_withdrawals(
    session: Session, clock: FixedClock, folder: Path, arms: dict[str, str]
) -> int:
    """Record every randomised victim's withdrawal (even numbers, with `victims_every=2`) with a
    charge date and, if they withdrew, its day; a withdrawal recorded before keeps its value."""
    with (folder / "outcomes.csv").open(encoding="utf-8") as handle:
        before = {row["participant_ref"]: row["withdrew"] for row in csv.DictReader(handle)}
    victims = sorted(ref for ref in arms if int(ref[1:]) % 2 == 0)
    path = folder / "dated.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_ref", "case_ref", "withdrew", "withdrew_on", "charged_on"])
        for ref in victims:
            number = int(ref[1:])
            withdrew = before.get(ref) or ("yes" if number % 6 == 0 else "no")
            charged = FIRST_CHARGE + timedelta(days=number * 7 % 120)
            day = min(charged + timedelta(days=number * 13 % 150), TODAY)
            withdrew_on = day.isoformat() if withdrew == "yes" else ""
            writer.writerow([ref, f"C{number:05d}", withdrew, withdrew_on, charged])
    import_outcomes(session, clock, TRIAL, path, "test")
    session.commit()
    return len(victims)


@pytest.fixture
def dated(staff: None, session: Session, clock: FixedClock, tmp_path: Path) -> SeededTrial:
    """The example trial with 150 people, half of them victims, their withdrawals dated."""
    seeded = seed_trial(session, clock, tmp_path, people=150, victims_every=2)
    date_withdrawals(session, clock, tmp_path, seeded.arms)
    return seeded


def cached(session: Session, clock: FixedClock) -> Results:
    trial = trials.get_trial(session, TRIAL)
    return results_for(session, clock, trial, trials.current_definition(session, trial))


def withdrawal(body: dict[str, Any]) -> dict[str, Any]:
    outcome = next(o for o in body["report"]["outcomes"] if o["id"] == "withdrew")
    block = outcome["time_to_event"]
    assert isinstance(block, dict)
    return block


def test_the_frame_carries_the_dates_only_once_some_are_imported(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    seeded = seed_trial(session, clock, tmp_path, people=60, victims_every=2)
    assert {"withdrew_on", "charged_on"}.isdisjoint(frame_from_db(session, TRIAL).columns)
    victims = date_withdrawals(session, clock, tmp_path, seeded.arms)
    frame = frame_from_db(session, TRIAL)
    assert int(frame["charged_on"].notna().sum()) == victims
    withdrew = frame["withdrew"] == 1.0
    assert frame.loc[withdrew, "withdrew_on"].notna().all()
    assert frame.loc[~withdrew, "withdrew_on"].isna().all()
    assert (frame["withdrew_on"] >= frame["charged_on"]).sum() == withdrew.sum()


def test_the_analysis_follows_withdrawal_up_to_today_and_the_cache_to_the_next_day(
    session: Session, clock: FixedClock, dated: SeededTrial
) -> None:
    first = cached(session, clock)
    block = withdrawal(first.body)
    assert block["as_of"] == TODAY.isoformat()
    assert (
        block
        == report_json(analyse_trial(session, TRIAL, clock).report)["outcomes"][1]["time_to_event"]
    )
    assert cached(session, clock).from_cache is True
    clock.advance(timedelta(days=1))
    later = cached(session, clock)
    assert later.from_cache is False
    assert withdrawal(later.body)["as_of"] == (TODAY + timedelta(days=1)).isoformat()


def test_a_trial_without_dates_keeps_its_cached_results_the_next_day(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    seed_trial(session, clock, tmp_path, people=60, victims_every=2)
    first = cached(session, clock)
    assert all("time_to_event" not in o for o in first.body["report"]["outcomes"])
    clock.advance(timedelta(days=1))
    assert cached(session, clock).from_cache is True


def test_a_closed_trial_is_followed_to_the_day_it_closed(
    session: Session, clock: FixedClock, dated: SeededTrial
) -> None:
    trials.close_trial(session, clock, TRIAL, trials.Actor("test"), "outcomes complete")
    session.commit()
    clock.advance(timedelta(days=30))
    assert withdrawal(cached(session, clock).body)["as_of"] == TODAY.isoformat()


def test_the_results_page_shows_time_to_withdrawal_with_the_jsons_figures(
    app: Flask, session: Session, clock: FixedClock, dated: SeededTrial
) -> None:
    block = withdrawal(cached(session, clock).body)
    page = logged_in(app, "researcher").get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    assert "Time to withdrawal after charge</h3>" in page
    rows = table_rows(page, "Share with withdrawal by each number of days after charge")
    assert rows[0] == [
        "Arm",
        "Followed",
        "With withdrawal",
        "By 30 days",
        "By 90 days",
        "By 180 days",
        "Log-rank p",
    ]
    titles = {"control": "Business as usual", "practical": "Practical information"}
    titles["social_norm"] = "Social norm"
    for arm, row in zip(block["arms"], rows[1:], strict=True):
        assert row[:3] == [titles[arm["arm"]], str(arm["n"]), str(arm["events"])]
        assert row[3:6] == [share_text(by) for by in arm["by"]]
    text = html.unescape(page)
    assert "By 90 days after charge, withdrawal stood at " in text
    assert "count until 10 January 2027 (the analysis date)" in text


def test_the_pdf_shows_time_to_withdrawal_as_the_page_does(
    app: Flask, session: Session, clock: FixedClock, dated: SeededTrial
) -> None:
    block = withdrawal(cached(session, clock).body)
    pdf = logged_in(app, "researcher").get(f"/trials/{TRIAL}/results.pdf").get_data()
    text = " ".join(pdf_text(pdf).split())
    assert "Time to withdrawal after charge" in text
    assert "By 90 days after charge, withdrawal stood at " in text
    for arm in block["arms"]:
        for by in arm["by"]:
            assert share_text(by) in text
    assert "count until 10 January 2027 (the analysis date)" in text


def test_a_lead_gets_fewer_than_5_where_a_share_would_reveal_a_few_people(
    app: Flask, session: Session, clock: FixedClock, dated: SeededTrial
) -> None:
    exact = withdrawal(cached(session, clock).body)
    few = [
        (arm["arm"], i)
        for arm in exact["arms"]
        for i, by in enumerate(arm["by"])
        if by["events"] < 5 or arm["n"] - by["events"] < 5
    ]
    assert few, "the seeded trial should have a day with fewer than 5 withdrawals"
    shown = logged_in(app, "lead").get(f"/trials/{TRIAL}/results.json").get_json()
    lead = {a["arm"]: a["by"] for a in withdrawal(shown)["arms"]}
    for arm, i in few:
        assert lead[arm][i]["share"] is None and lead[arm][i]["suppressed"] is True
    page = logged_in(app, "lead").get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    assert "not shown" in page.split("Time to withdrawal after charge")[1].split("</table>")[0]


def test_the_csv_has_a_row_per_day_and_arm_after_the_outcomes_own(
    app: Flask, session: Session, clock: FixedClock, dated: SeededTrial
) -> None:
    block = withdrawal(cached(session, clock).body)
    text = logged_in(app, "researcher").get(f"/trials/{TRIAL}/results.csv").get_data(as_text=True)
    rows = [r for r in csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))]
    followed = [r for r in rows if "days after charge" in r["Outcome"]]
    assert [r["Outcome"] for r in followed[::3]] == [
        "withdrawal by 30 days after charge",
        "withdrawal by 90 days after charge",
        "withdrawal by 180 days after charge",
    ]
    control = next(a for a in block["arms"] if a["arm"] == "control")["by"][1]
    row = next(
        r for r in followed if r["Arm"] == "Business as usual" and " 90 days" in r["Outcome"]
    )
    assert row["Rate (%)"] == f"{100 * control['share']:.1f}"
    assert row["Note"].startswith("Kaplan–Meier estimate from the charge, followed to 2027-01-10")
    assert rows.index(followed[0]) > max(
        i for i, r in enumerate(rows) if r["Outcome"] == "withdrawal"
    )


def test_nudge_analyse_says_time_to_withdrawal_in_words(
    cli: Cli, session: Session, clock: FixedClock, dated: SeededTrial
) -> None:
    result = cli("analyse", TRIAL)
    assert result.exit_code == 0, result.output
    assert "  Time to withdrawal after charge:" in result.output
    assert "count until 2027-01-10 (the analysis date)" in result.output
