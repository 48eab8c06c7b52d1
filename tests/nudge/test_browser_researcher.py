"""The researcher's pages in a real headless Chromium, checked by axe-core against WCAG 2.1 AA.

axe-core is itself JavaScript, so the browser runs with it enabled; each page is also checked to
carry no script of its own beyond the layout's two GOV.UK Frontend files (which only enhance
components that work without them), so nothing it does can depend on JavaScript.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session

from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE
from tests.factories import person, write_people
from tests.web_helpers import log_in_page, no_violations

TRIAL = "witness-reminders-2027"
LETTERS = EXAMPLE.parent / "letters"


LAYOUT_SCRIPTS = ["/static/frontend-supported.js", "/static/frontend-init.js"]


def checked(page: Any) -> None:
    """No accessibility faults, and no script but the layout's: the page cannot depend on it."""
    # After a click the new page may still be arriving: wait for its last script, then its load.
    page.locator(f'script[src="{LAYOUT_SCRIPTS[-1]}"]').wait_for(state="attached")
    page.wait_for_load_state()
    sources = page.locator("script").evaluate_all(
        "scripts => scripts.map(s => s.getAttribute('src'))"
    )
    assert sources == LAYOUT_SCRIPTS
    no_violations(page)


def external_requests(page: Any, base: str) -> list[str]:
    """Every request the page makes that does not go to this server."""
    seen: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else seen.append(r.url))
    return seen


def test_a_researcher_uploads_a_broken_then_a_valid_trial_and_launches_it(
    browser: Any, site: str, tmp_path: Path
) -> None:
    base = site
    page = log_in_page(browser.new_page(), base, "researcher")
    outside = external_requests(page, base)
    page.get_by_role("link", name="New trial").click()
    checked(page)
    broken = tmp_path / "witness-reminders.yaml"
    broken.write_text(
        EXAMPLE.read_text().replace("timezone: Europe/London", "timezone: Europe/Lundon")
    )
    page.get_by_label("Trial definition (YAML)").set_input_files(broken)
    page.get_by_label("Letter files the definition names (optional)").set_input_files(
        [LETTERS / "social_norm.md", LETTERS / "social_norm.cy.md"]
    )
    page.get_by_role("button", name="Check and create draft").click()
    alert = page.get_by_role("alert")
    assert "1 problem to fix" in alert.inner_text()
    problem = page.locator("#problem-1").inner_text()
    assert "witness-reminders.yaml, line 7, column 11:" in problem
    assert (
        "unknown timezone 'Europe/Lundon'" in problem and "7 | timezone: Europe/Lundon" in problem
    )
    assert page.get_by_label("Trial definition (YAML)").get_attribute("aria-invalid") == "true"
    checked(page)

    page.get_by_label("Trial definition (YAML)").set_input_files(EXAMPLE)
    page.get_by_label("Letter files the definition names (optional)").set_input_files(
        [LETTERS / "social_norm.md", LETTERS / "social_norm.cy.md"]
    )
    page.get_by_role("button", name="Check and create draft").click()
    # A success banner: GOV.UK Frontend announces it as an alert and moves focus to it.
    assert f"Created draft trial {TRIAL}" in page.get_by_role("alert").inner_text()
    expect(page.get_by_role("table", name="Cost per participant (GBP)")).to_be_visible()
    checked(page)

    page.get_by_role("link", name=f"Review and launch {TRIAL}").click()
    checked(page)
    page.get_by_role("link", name="Launch this trial").click()
    checked(page)
    page.get_by_role("button", name=f"Yes, launch {TRIAL}").click()
    notice = page.get_by_role("alert").inner_text()
    assert "Launched: version 2 is frozen, SHA-256" in notice
    sha = notice.rsplit(" ", 1)[-1].rstrip(".")
    assert len(sha) == 64
    expect(page.get_by_role("row", name="2 launched")).to_be_visible()
    checked(page)
    assert outside == []
    page.close()


def test_a_researcher_filters_the_message_log_and_a_lead_is_refused_it(
    browser: Any, site: str, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    from tests.factories import launch

    launch(session, clock, EXAMPLE)
    rows = [person(n) for n in range(1, 13)]
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "p.csv", rows), "t")
    session.commit()
    base = site
    page = log_in_page(browser.new_page(), base, "researcher")
    page.goto(f"{base}/trials/{TRIAL}/messages")
    checked(page)
    page.get_by_label("Channel").select_option("letter")
    with page.expect_navigation():  # the filtered page loaded, not the one it replaces
        page.get_by_role("button", name="Filter").click()
    assert "channel=letter" in page.url
    table = page.get_by_role("table", name="Messages, page 1 of 1")
    channels = {cell.inner_text() for cell in table.locator("tbody td:nth-child(3)").all()}
    assert channels == {"Letter"}
    assert page.get_by_label("Channel").input_value() == "letter"
    checked(page)
    page.close()

    lead = log_in_page(browser.new_page(), base, "lead")
    assert lead.get_by_role("link", name="Replies").count() == 0
    response = lead.goto(f"{base}/trials/{TRIAL}/messages")
    assert response is not None and response.status == 403
    expect(lead.get_by_role("heading", name="Forbidden")).to_be_visible()
    checked(lead)
    lead.close()
