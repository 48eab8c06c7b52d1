"""A researcher works through a trial's replies in Chromium, a lead is kept out; axe on each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session

from nudge.clock import FixedClock
from tests.conftest import PINNED
from tests.factories import enrol_due_texts
from tests.messages.test_researcher_pages import reply
from tests.nudge.test_browser_researcher import checked
from tests.trial_factories import TRIAL
from tests.web_helpers import log_in_page

TITLE = "Reminder framing for prosecution witnesses"
SCARED = "I am scared to come, his brother threatened me"
WHO = "the reply from P00003, Sun 10 Jan 2027 12:00 GMT"


def trial_navigation(page: Any) -> Any:
    return page.get_by_role("navigation", name="Pages of this trial")


def test_a_researcher_handles_a_flagged_reply_with_a_note_and_undoes_it(
    browser: Any, site: str, session: Session, clock: FixedClock, example_dir: Path
) -> None:
    enrol_due_texts(session, clock, example_dir / "witness-reminders.yaml", 6, PINNED)
    reply(session, clock, 4, "Where do I park?")
    reply(session, clock, 3, SCARED)
    page = log_in_page(browser.new_page(), site, "researcher")
    page.get_by_role("link", name=TITLE, exact=True).click()
    checked(page)
    trial_navigation(page).get_by_role("link", name="Replies 2 unhandled replies").click()
    checked(page)
    assert page.get_by_role("status").inner_text() == "2 unhandled replies, 1 of them flagged."
    cards = page.locator(".govuk-summary-card__title")
    assert cards.nth(0).inner_text().startswith("P00003")  # flagged, though it came last
    assert cards.nth(1).inner_text().startswith("P00004")

    page.get_by_role("button", name=f"Mark handled ({WHO})").click()
    assert page.title().startswith("Error: Replies")
    summary = page.get_by_role("alert")
    assert "Enter what was done about this reply" in summary.inner_text()
    note = page.get_by_label(f"What was done about {WHO}")
    assert note.get_attribute("aria-invalid") == "true"
    checked(page)

    note.fill("Called back; passed to the Witness Care Unit")
    page.get_by_role("button", name=f"Mark handled ({WHO})").click()
    assert "The reply from P00003 received Sun 10 Jan 2027 12:00 GMT is marked handled" in (
        page.get_by_role("alert").inner_text()
    )
    assert trial_navigation(page).get_by_role("link", name="Replies 1 unhandled reply").count()
    checked(page)

    page.get_by_label("Show").select_option("handled")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.get_by_text("Called back; passed to the Witness Care Unit")).to_be_visible()
    checked(page)
    page.get_by_role("button", name=f"Undo: mark not handled ({WHO})").click()
    assert "is back in the queue as not handled" in page.get_by_role("alert").inner_text()
    assert trial_navigation(page).get_by_role("link", name="Replies 2 unhandled replies").count()
    checked(page)
    page.close()


def test_a_lead_sees_no_researcher_items_and_is_refused_the_replies(
    browser: Any, results_site: str
) -> None:
    lead = log_in_page(browser.new_page(), results_site, "lead")
    lead.get_by_role("link", name=TITLE, exact=True).click()
    links = trial_navigation(lead).get_by_role("link")
    assert links.all_inner_texts() == ["Overview", "Results"]
    response = lead.goto(f"{results_site}/trials/{TRIAL}/replies")
    assert response is not None and response.status == 403
    expect(lead.get_by_role("heading", name="Forbidden")).to_be_visible()
    checked(lead)
    lead.close()
