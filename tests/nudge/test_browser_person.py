"""A person's timeline in a real headless Chromium: a researcher finds someone by reference,
corrects a mistyped one, reads the timeline and looks for someone who is not there; a lead is
refused. Every page is axe-clean and works without script of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import Engine
from sqlmodel import Session

from nudge.clock import FixedClock
from tests.analysis.test_person_pages import PERSONAL, TRIAL, tell_story
from tests.nudge.test_browser_researcher import checked
from tests.web_helpers import log_in_page


def test_a_researcher_finds_a_person_and_reads_their_timeline_and_a_lead_is_refused(
    browser: Any,
    site: str,
    session: Session,
    engine: Engine,
    clock: FixedClock,
    example_dir: Path,
    tmp_path: Path,
) -> None:
    story = tell_story(session, engine, clock, example_dir, tmp_path)
    page = log_in_page(browser.new_page(), site, "researcher")
    page.goto(f"{site}/trials/{TRIAL}/people")
    expect(page.get_by_role("heading", name="Find a person")).to_be_visible()
    checked(page)

    page.get_by_role("button", name="Find").click()
    assert page.title().startswith("Error: Find a person")
    summary = page.get_by_role("alert")
    assert "Enter a participant reference, such as P00042" in summary.inner_text()
    summary.get_by_role("link").click()
    field = page.get_by_label("Participant reference")
    assert field.evaluate("f => document.activeElement === f")
    assert field.get_attribute("aria-invalid") == "true"
    checked(page)

    field.fill(f"  {story.ref} ")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(f"{site}/trials/{TRIAL}/people/{story.ref}")
    expect(page.get_by_role("heading", name=f"Person {story.ref}")).to_be_visible()
    navigation = page.get_by_role("navigation", name="Pages of this trial")
    expect(navigation.get_by_role("link", name="Overview")).to_be_visible()
    titles = page.locator(".moj-timeline__title").all_inner_texts()
    assert titles[:3] == [
        "Enrolled: eligible",
        "Hearing listed for Thu 4 Mar 2027 10:00 GMT",
        "Allocated to Practical information",
    ]
    assert "Hearing moved" in titles and "Replied STOP" in titles
    assert titles[-1] == "Outcome recorded: attendance"
    shown = page.locator("body").inner_text()
    assert [word for word in PERSONAL if word in shown] == []
    checked(page)

    page.get_by_label("Participant reference").fill("Q99999")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name="No one with that reference")).to_be_visible()
    assert page.get_by_label("Participant reference").input_value() == "Q99999"
    checked(page)
    page.close()

    lead = log_in_page(browser.new_page(), site, "lead")
    response = lead.goto(f"{site}/trials/{TRIAL}/people/{story.ref}")
    assert response is not None and response.status == 403
    expect(lead.get_by_role("heading", name="Forbidden")).to_be_visible()
    assert story.ref not in lead.locator("body").inner_text()
    checked(lead)
    lead.close()
