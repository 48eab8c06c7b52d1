"""An account that also belongs to another organisation, in headless Chromium without
JavaScript: its page offers *Remove from* (not *Disable*), which works and says so; the page
passes axe (which needs script) and reflows at 320 px."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session, col, select

from nudge.clock import FixedClock
from nudge.models import Membership, User
from nudge.organisations import add_membership, add_organisation
from tests.web_helpers import STAFF, log_in_page, no_violations

ADMIN, RESEARCHER = STAFF["admin"], STAFF["researcher"]


def _share_the_researcher(session: Session, clock: FixedClock) -> int:
    south = add_organisation(session, clock, "south", "Southshire Victim Service", "test")
    rita = session.exec(select(User).where(User.email == RESEARCHER)).one()
    assert rita.id is not None
    add_membership(session, rita.id, south, "researcher")
    session.commit()
    return rita.id


def test_an_admin_removes_a_shared_account_from_their_organisation_without_javascript(
    browser: Any, site: str, session: Session, clock: FixedClock
) -> None:
    rita = _share_the_researcher(session, clock)
    page = browser.new_context(java_script_enabled=False).new_page()
    log_in_page(page, site, ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    page.get_by_role("link", name=RESEARCHER).click()
    expect(
        page.get_by_text("This account also belongs to Southshire Victim Service.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Disable the account")).to_have_count(0)
    page.get_by_role("button", name="Remove from Default organisation").click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"{RESEARCHER} is no longer in Default organisation; its sessions have ended."
    )
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    expect(page.get_by_role("link", name=RESEARCHER)).to_have_count(0)
    session.expire_all()
    left = session.exec(select(Membership.role).where(col(Membership.user_id) == rita)).all()
    assert left == ["researcher"]  # in South still


def test_the_shared_accounts_page_is_accessible_and_reflows(
    browser: Any, site: str, session: Session, clock: FixedClock
) -> None:
    rita = _share_the_researcher(session, clock)
    page = browser.new_page(viewport={"width": 320, "height": 640})
    log_in_page(page, site, ADMIN)
    page.goto(f"{site}/admin/users/{rita}")
    expect(page.get_by_role("button", name="Remove from Default organisation")).to_be_visible()
    no_violations(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
