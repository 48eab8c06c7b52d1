"""What an admin is shown about the admin pages: the links to them, and the way out of a 403.

Who may open each admin route (admins in, researchers and leads 403, strangers out, nothing
changed by a refused POST) is checked with every other route in test_route_roles.py.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, col, select

from nudge.models import AuditEvent, User
from tests.conftest import PINNED
from tests.web_helpers import STAFF, logged_in

pytestmark = pytest.mark.usefixtures("staff")  # one person of each role


def test_only_admins_see_the_admin_links(app: Flask) -> None:
    page = logged_in(app, "admin").get("/").get_data(as_text=True)
    assert 'href="/admin/users"' in page and 'href="/admin/audit"' in page
    for role in ("researcher", "lead"):
        assert 'href="/admin/' not in logged_in(app, role).get("/").get_data(as_text=True)


def test_an_admin_refused_a_trial_page_is_told_what_an_admin_can_do(app: Flask) -> None:
    response = logged_in(app, "admin").get("/trials/new")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Admins manage accounts and read the audit log" in page
    assert "Ask an admin" not in page and 'href="/admin/users"' in page


def test_looking_at_accounts_is_on_the_audit_log_naming_only_the_account_looked_at(
    app: Flask, session: Session
) -> None:
    admin = logged_in(app, "admin")
    lead = session.exec(select(User.id).where(User.email == STAFF["lead"])).one()
    admin.get("/admin/users")
    admin.get(f"/admin/users/{lead}")
    looks = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.action).in_(["users.viewed", "user.viewed"]))
        .order_by(col(AuditEvent.id))
    ).all()
    assert [(e.action, e.actor, e.at, e.subject, e.details) for e in looks] == [
        ("users.viewed", f"web:{STAFF['admin']}", PINNED, None, {"shown": 3}),
        ("user.viewed", f"web:{STAFF['admin']}", PINNED, STAFF["lead"], {}),
    ]
