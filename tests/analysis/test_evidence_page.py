"""The "What we know" page: closed trials sharing an outcome and an arm tag, pooled, in words
first; each trial's figure as its own results page gives it; no personal data; every role it
allows, with disclosure control for all but researchers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from analysis.numbers import points
from nudge.accounts import new_user
from nudge.clock import FixedClock
from nudge.models import Trial
from nudge.organisations import add_organisation
from tests.evidence_factories import run_closed_trial, tagged_example
from tests.web_helpers import _password_hash, logged_in, page_tables, post_login, table_rows

FIRST = {"control": 0.55, "practical": 0.75, "social_norm": 0.65}
SECOND = {"control": 0.6, "practical": 0.72, "social_norm": 0.6}
PRACTICAL = "“practical information”"
PRIVATE = ("Testy", "McTestface", "07700", "Example Street", "BS1 1AA")


@pytest.fixture
def two_closed(staff: None, session: Session, clock: FixedClock, tmp_path: Path) -> list[str]:
    return [
        run_closed_trial(
            session,
            clock,
            tagged_example(tmp_path / "one", "first-area-2027", "Reminders in the first area"),
            FIRST,
            seed=3,
        ),
        run_closed_trial(
            session,
            clock,
            tagged_example(tmp_path / "two", "second-area-2027", "Reminders in the second area"),
            SECOND,
            people=180,
            seed=4,
        ),
    ]


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_page_pools_two_closed_trials_and_shows_each_trials_own_estimate(
    app: Flask, two_closed: list[str]
) -> None:
    client = logged_in(app, "researcher")
    html = client.get("/evidence").get_data(as_text=True)
    words = text_of(html)
    assert "What we know" in words
    # Practical information is tagged in both; sms in both trials' two arms; social norm and
    # letter in both too (the same example): each group is pooled over two trials.
    for tag in ("practical information", "sms", "social norm", "letter"):
        assert f"Attendance: arms tagged “{tag}”" in words
    practical = words.split("Attendance: arms tagged “practical information”", 1)[1]
    practical = practical.split("Attendance: arms tagged", 1)[0]
    assert re.search(
        r"Across 2 closed trials, arms tagged “practical information” "
        r"(raised attendance by about \d+ percentage points?|made no clear difference)",
        practical,
    ), practical[:400]
    assert "A new trial like these would likely find between" in practical
    assert "two trials only" in practical.lower()  # the k = 2 warning
    assert 'role="img"' in html and "<polygon" in html  # the forest plot and its diamond
    # Each trial's row shows the figure its own results page gives.
    found = dict(page_tables(html))
    rows = next(
        r
        for c, r in found.items()
        if c.startswith(f"Each trial's effect on attendance, arms tagged {PRACTICAL}")
    )
    for trial_id in two_closed:
        body = json.loads(client.get(f"/trials/{trial_id}/results.json").get_data(as_text=True))
        primary = next(o for o in body["report"]["outcomes"] if o["id"] == "attended")
        practical_arm = next(c for c in primary["comparisons"] if c["arm"] == "practical")
        title = (
            "Reminders in the first area" if "first" in trial_id else "Reminders in the second area"
        )
        row = next(r for r in rows if r[0].startswith(f"{title}: Practical information"))
        assert row[3] == points(practical_arm["adjusted_risk_difference"], 1)
        assert row[4] == (
            f"{points(practical_arm['adjusted_ci_low'], 1)} to "
            f"{points(practical_arm['adjusted_ci_high'], 1)}"
        )
    methods = next(
        r
        for c, r in found.items()
        if c.startswith(f"The pooled difference in attendance, arms tagged {PRACTICAL}")
    )
    assert [row[0] for row in methods[1:]] == ["REML, Hartung–Knapp", "DerSimonian–Laird"]
    assert not any(word in html for word in PRIVATE)


def test_a_live_trial_is_not_pooled(
    app: Flask, staff: None, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    run_closed_trial(session, clock, tagged_example(tmp_path / "a", "closed-2027", "Closed"), FIRST)
    run_closed_trial(
        session, clock, tagged_example(tmp_path / "b", "live-2027", "Live"), SECOND, close=False
    )
    words = text_of(logged_in(app, "lead").get("/evidence").get_data(as_text=True))
    assert "Nothing to pool yet" in words
    assert "1 trial has closed" in words
    assert (
        "Tested by one closed trial so far" in words
        and "Arms tagged “practical information”, on attendance" in words
    )


def test_with_no_closed_trial_the_page_says_so(app: Flask, staff: None) -> None:
    words = text_of(logged_in(app, "admin").get("/evidence").get_data(as_text=True))
    assert "Nothing to pool yet" in words and "No trial has closed yet" in words


@pytest.mark.parametrize("role", ["lead", "researcher", "admin"])
def test_every_role_allowed_finds_the_page_in_the_navigation(
    app: Flask, staff: None, role: str
) -> None:
    home = logged_in(app, role).get("/").get_data(as_text=True)
    assert re.search(r'href="/evidence"[^>]*>What we know</a>', home)


def test_a_lead_sees_the_disclosure_rule_and_a_hidden_trial_is_left_out(
    app: Flask, staff: None, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    run_closed_trial(session, clock, tagged_example(tmp_path / "a", "big-2027", "Big"), FIRST)
    run_closed_trial(session, clock, tagged_example(tmp_path / "b", "mid-2027", "Mid"), SECOND)
    # Almost everyone attends in the third: fewer than 5 in an arm did not.
    always = {"control": 0.85, "practical": 0.85, "social_norm": 0.85}
    run_closed_trial(
        session, clock, tagged_example(tmp_path / "c", "tiny-2027", "Tiny"), always, people=45
    )
    lead: Any = text_of(logged_in(app, "lead").get("/evidence").get_data(as_text=True))
    researcher = text_of(logged_in(app, "researcher").get("/evidence").get_data(as_text=True))
    assert "Statistical disclosure control" in lead
    assert "Statistical disclosure control" not in researcher
    assert "Not in the pool" in lead and "Tiny, Practical information: not shown to you" in lead
    assert "Across 2 closed trials" in lead
    assert "Across 3 closed trials" in researcher


def test_an_area_pools_only_its_own_trials_and_the_national_board_pools_every_areas(
    app: Flask, two_closed: list[str], session: Session, clock: FixedClock
) -> None:
    """Issue 25: a user sees only their organisations' trials; a national account sees every
    organisation's aggregate results. The second trial belongs to another area."""
    other = add_organisation(session, clock, "south", "Southshire Victim Service", "test")
    moved = session.get(Trial, two_closed[1])
    assert moved is not None
    moved.organisation_id = other.id
    session.add(moved)
    new_user(session, clock, "nat.board@example.org", "national", _password_hash(), "test")
    session.commit()
    area = text_of(logged_in(app, "researcher").get("/evidence").get_data(as_text=True))
    assert "Nothing to pool yet" in area and "1 trial has closed" in area
    assert "Reminders in the second area" not in area
    national = app.test_client()
    post_login(national, "nat.board@example.org")
    board = text_of(national.get("/evidence").get_data(as_text=True))
    assert "Across 2 closed trials" in board
    assert "Reminders in the second area" in board
    assert "Statistical disclosure control" in board  # read as a lead reads: rounded
    assert not any(private in board for private in PRIVATE)


def test_two_closed_trials_with_the_same_title_are_two_rows_each_with_its_own_figures(
    app: Flask, staff: None, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    """Trials are told apart by id on the page too: two closed trials with one title give two
    rows, each linked to its own results page and showing that trial's own estimate."""
    title = "Reminders for witnesses"
    ids = [
        run_closed_trial(
            session, clock, tagged_example(tmp_path / "a", "same-title-a", title), FIRST, seed=3
        ),
        run_closed_trial(
            session,
            clock,
            tagged_example(tmp_path / "b", "same-title-b", title),
            SECOND,
            people=180,
            seed=4,
        ),
    ]
    client = logged_in(app, "researcher")
    html = client.get("/evidence").get_data(as_text=True)
    rows = table_rows(html, f"Each trial's effect on attendance, arms tagged {PRACTICAL}")[1:]
    assert [row[0] for row in rows] == [
        f"{title} ({trial_id}): Practical information against business as usual" for trial_id in ids
    ]
    section = html.split("Each trial's effect on attendance, arms tagged", 1)[1]
    linked = re.findall(r'href="/trials/([^/"]+)/results"', section.split("</table>", 1)[0])
    assert linked == ids
    for trial_id, row in zip(ids, rows, strict=True):
        body = json.loads(client.get(f"/trials/{trial_id}/results.json").get_data(as_text=True))
        primary = next(o for o in body["report"]["outcomes"] if o["id"] == "attended")
        practical = next(c for c in primary["comparisons"] if c["arm"] == "practical")
        sizes = {a["arm"]: a["n"] for a in primary["arms"]}
        assert row[2] == f"{sizes['practical']}, {sizes['control']}"
        assert row[3] == points(practical["adjusted_risk_difference"], 1)
    words = text_of(html)
    assert "Across 2 closed trials, arms tagged “practical information”" in words
    # Both trials test two arms tagged "sms" against their one control: each is named.
    assert f"{title} (same-title-a) and {title} (same-title-b) gave more than one" in words
