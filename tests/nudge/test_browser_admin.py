"""An admin's tasks in headless Chromium, without JavaScript: add an account and hand over its
link, change a role, disable and re-enable, unlock, read and download the audit log. Then
each page again with axe (which needs script), at 320 px, and as the wrong role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session, col, select

from nudge.accounts import MAX_FAILURES
from nudge.models import AuditEvent, LoginFailure, User
from tests.conftest import PINNED
from tests.web_helpers import STAFF, log_in_page, no_violations

ADMIN, RESEARCHER, LEAD = STAFF["admin"], STAFF["researcher"], STAFF["lead"]
NEW_PASSWORD = "three unrelated words here"


def add_an_account(page: Any, base: str) -> str:
    """Add a lead through the form (a mistake first), and return the link shown once."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    page.get_by_role("button", name="Add an account").click()
    page.get_by_role("button", name="Add the account").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Enter their email address")
    expect(page).to_have_title("Error: Add an account – Nudge")
    summary.get_by_role("link", name="Choose a role").click()
    page.get_by_label("Email address").fill("nia@example.org")
    page.get_by_label("Programme lead: reads results only").check()
    page.get_by_role("button", name="Add the account").click()
    expect(page.get_by_role("heading", name="Account added")).to_be_visible()
    link = page.locator("#set-password-link").inner_text()
    assert link.startswith(f"{base}/set-password/")
    return link


def test_an_admin_manages_accounts_and_reads_the_audit_log_without_javascript(
    browser: Any, site: str, session: Session
) -> None:
    base = site
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    log_in_page(page, base, ADMIN)
    link = add_an_account(page, base)
    newcomer = browser.new_context(java_script_enabled=False).new_page()
    newcomer.goto(link)
    newcomer.get_by_label("New password").fill(NEW_PASSWORD)
    newcomer.get_by_label("Confirm the password").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Set the password").click()
    expect(newcomer.get_by_role("alert")).to_contain_text("Your password is set")
    log_in_page(newcomer, base, "nia@example.org", NEW_PASSWORD)
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name="This link does not work")).to_be_visible()

    page.get_by_role("link", name="Back to accounts").click()
    page.get_by_role("link", name=RESEARCHER).click()
    page.get_by_label("Programme lead: reads results only").check()
    page.get_by_role("button", name="Change the role").click()
    expect(page.get_by_role("alert")).to_contain_text("The account is now lead.")
    page.get_by_role("button", name="Disable the account").click()
    expect(page.get_by_role("alert")).to_contain_text("sessions have ended")
    expect(page.locator(".govuk-summary-list").get_by_text("Disabled")).to_be_visible()
    page.get_by_role("button", name="Re-enable the account").click()
    expect(page.get_by_role("alert")).to_contain_text("can log in again")

    for _ in range(MAX_FAILURES):
        session.add(LoginFailure(at=PINNED, email=LEAD, source="web:192.0.2.1"))
    session.commit()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("row", name=LEAD)).to_contain_text("Locked")
    page.get_by_role("link", name=LEAD).click()
    page.get_by_role("button", name="Unlock the account").click()
    expect(page.get_by_role("alert")).to_contain_text("unlocked")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").select_option("user.role_changed")
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(2)
    assert "rita@example.org" in table.inner_text() and f"web:{ADMIN}" in table.inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these events as CSV").click()
    rows = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 2 and "user.role_changed" in rows[1]
    context.close()
    actions = set(session.exec(select(AuditEvent.action).where(AuditEvent.actor == f"web:{ADMIN}")))
    assert {
        "user.created",
        "user.link_issued",
        "user.role_changed",
        "user.disabled",
        "user.enabled",
        "user.unlocked",
        "audit.viewed",
        "audit.downloaded",
    } <= actions


def test_the_admin_pages_are_accessible_and_reflow_and_refuse_the_wrong_roles(
    browser: Any, site: str, session: Session
) -> None:
    base = site
    page = browser.new_page(viewport={"width": 320, "height": 640})
    log_in_page(page, base, ADMIN)
    link = add_an_account(page, base)
    no_violations(page)
    new_id = session.exec(select(User.id).order_by(col(User.id).desc())).first()
    paths = ["/admin/users", f"/admin/users/{new_id}", "/admin/audit", "/admin/users/new"]
    for path in [*paths, "/admin/audit?action=nonsense", "/trials/new"]:
        page.goto(f"{base}{path}")
        no_violations(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, path
    assert "Admins manage accounts" in page.get_by_role("main").inner_text()  # the 403
    page.get_by_role("button", name="Log out").click()
    page.goto(link)
    page.get_by_role("button", name="Set the password").click()
    expect(page).to_have_title("Error: Set your password – Nudge")
    no_violations(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    for email in (RESEARCHER, LEAD):
        page.context.clear_cookies()
        log_in_page(page, base, email)
        for path in paths:
            response = page.goto(f"{base}{path}")
            assert response.status == 403, (email, path)
            assert "Ask an admin if you need it" in page.get_by_role("main").inner_text()
        no_violations(page)
    page.close()
