"""Pages in a real headless Chromium: logging in works, and axe finds no accessibility faults."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from sqlmodel import Session

from nudge.accounts import add_user
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE

PASSWORD = "correct horse battery"


def no_violations(page: Any) -> None:
    results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]})
    assert results.violations_count == 0, results.generate_report()


def test_a_researcher_logs_in_and_sees_the_trials_and_both_pages_are_accessible(
    browser: Any, live_app: tuple[str, Any], session: Session, clock: FixedClock
) -> None:
    from tests.factories import launch

    add_user(session, clock, "rita@example.org", "researcher", PASSWORD, "test")
    launch(session, clock, EXAMPLE)
    base, _ = live_app
    page = browser.new_page()
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login")
    no_violations(page)
    page.get_by_label("Email").fill("rita@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_role("heading", name="Trials").is_visible()
    row = page.get_by_role("row", name="Reminder framing for prosecution witnesses")
    assert "Live" in row.inner_text()
    no_violations(page)
    page.close()


def test_a_wrong_password_is_announced_to_a_screen_reader(
    browser: Any, live_app: tuple[str, Any], session: Session, clock: FixedClock
) -> None:
    add_user(session, clock, "rita@example.org", "researcher", PASSWORD, "test")
    session.commit()
    base, _ = live_app
    page = browser.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("rita@example.org")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert")
    assert "email or password is not right" in alert.inner_text()
    no_violations(page)
    page.close()
