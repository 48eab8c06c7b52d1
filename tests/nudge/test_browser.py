"""Pages in a real headless Chromium: logging in works, and axe finds no accessibility faults."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session

from nudge.clock import FixedClock
from tests.conftest import EXAMPLE
from tests.web_helpers import STAFF, no_violations, submit_login


def test_a_researcher_logs_in_and_sees_the_trials_and_both_pages_are_accessible(
    browser: Any, site: str, session: Session, clock: FixedClock
) -> None:
    from tests.factories import launch

    launch(session, clock, EXAMPLE)
    page = browser.new_page()
    page.goto(f"{site}/")
    assert page.url.startswith(f"{site}/login")
    no_violations(page)
    submit_login(page, STAFF["researcher"])
    page.wait_for_url(f"{site}/")
    expect(page.get_by_role("heading", name="Trials")).to_be_visible()
    row = page.get_by_role("row", name="Reminder framing for prosecution witnesses")
    assert "Live" in row.inner_text()
    no_violations(page)
    page.close()


def test_a_wrong_password_is_announced_to_a_screen_reader(browser: Any, site: str) -> None:
    page = browser.new_page()
    page.goto(f"{site}/login")
    submit_login(page, STAFF["researcher"], "not the password at all")
    alert = page.get_by_role("alert")
    assert "email or password is not right" in alert.inner_text()
    no_violations(page)
    page.close()
