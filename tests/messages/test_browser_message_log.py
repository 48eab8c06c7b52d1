"""The message log in a real Chromium, as a researcher uses it and as a lead is refused it;
axe-core checks each state of the page (tests/nudge/test_browser_researcher.py's `checked`)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session, select

from nudge.clock import FixedClock
from nudge.csvout import BYTE_ORDER_MARK
from nudge.models import AuditEvent
from tests.nudge.test_browser_researcher import checked
from tests.trial_factories import TRIAL, seed_trial
from tests.web_helpers import log_in_page

LOG = f"/trials/{TRIAL}/messages"


def test_a_researcher_reads_filters_pages_through_and_downloads_the_message_log(
    browser: Any, site: str, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    seed_trial(session, clock, tmp_path, people=80)
    page = log_in_page(browser.new_page(), site, "researcher")
    page.goto(f"{site}{LOG}")
    checked(page)

    page.get_by_text("What the statuses and reasons mean").click()
    glossary = page.locator("details.govuk-details")
    expect(glossary.get_by_text("Cancelled before sending", exact=True)).to_be_visible()
    assert "In downloads: opted_out" in glossary.inner_text()
    checked(page)

    page.get_by_label("Channel").select_option(label="Text (SMS)")
    page.get_by_label("Arm").select_option(label="Practical information")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/messages?*channel=sms&arm=practical*")
    total = int(page.get_by_role("status").inner_text().split()[0])
    table = page.get_by_role("table", name="Messages, page 1 of 2")
    assert {c.inner_text() for c in table.locator("tbody td:nth-child(2)").all()} == {
        "Practical information"
    }
    states = {c.inner_text() for c in table.locator("tbody td:nth-child(6)").all()}
    assert "Delivered" in states and not states & {"delivered", "sent", "failed"}
    checked(page)

    pages = page.get_by_role("navigation", name="Pages")
    pages.get_by_role("link", name="Next page").click()
    page.wait_for_url(f"{site}{LOG}?channel=sms&arm=practical&page=2")
    second = page.get_by_role("table", name="Messages, page 2 of 2")
    assert second.locator("tbody tr").count() == total - 50
    assert page.get_by_label("Arm").input_value() == "practical"  # the filters came along
    checked(page)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Page 1").click()
    page.wait_for_url(f"{site}{LOG}?channel=sms&arm=practical&page=1")
    expect(page.get_by_role("table", name="Messages, page 1 of 2")).to_be_visible()

    with page.expect_download() as started:
        page.get_by_role("link", name="Download these messages as CSV").click()
    saved = Path(started.value.path())
    with saved.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == BYTE_ORDER_MARK + "participant_ref" and len(rows) - 1 == total
    assert {(r[1], r[2]) for r in rows[1:]} == {("practical", "sms")}
    session.expire_all()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "messages.downloaded")).one()
    assert event.actor == "web:rita@example.org" and event.details["rows"] == total
    assert event.details["filters"] == {"channel": "sms", "arm": "practical"}

    page.goto(f"{site}{LOG}?channel=letter&due_from=2027-02-30")
    summary = page.get_by_role("alert")
    assert "Due from must be a real date, like 2027-03-10" in summary.inner_text()
    summary.get_by_role("link", name="Due from must be a real date").click()
    assert page.evaluate("document.activeElement.id") == "due_from"  # the link leads to it
    assert page.get_by_label("Due from").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Channel").input_value() == "letter"  # still applied
    checked(page)
    page.close()


def test_a_lead_is_refused_the_message_log_and_its_download(
    browser: Any, site: str, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    seed_trial(session, clock, tmp_path, people=12)
    page = log_in_page(browser.new_page(), site, "lead")
    for path in (LOG, f"{LOG}.csv"):
        response = page.goto(f"{site}{path}")
        assert response.status == 403, path
        assert "Your account's role does not allow this page." in page.inner_text("main")
        checked(page)
    session.expire_all()
    actions = session.exec(select(AuditEvent.action)).all()
    assert not {"messages.viewed", "messages.downloaded"} & set(actions)
    page.close()
