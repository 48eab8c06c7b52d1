"""Every admin route for every role: admins in, researchers and leads 403, strangers out.

The table is read from the URL map, so a route added to either admin blueprint is covered as
soon as it exists. The set-password page is the one public page among them (a link's holder is
not logged in) and is tested in test_admin_accounts.py.
"""

from __future__ import annotations

import pytest
from flask import Flask, url_for
from sqlmodel import Session, select

from nudge.models import User
from nudge.web.access import PUBLIC, allowed_roles
from tests.web_helpers import STAFF, csrf_token, logged_in

BLUEPRINTS = ("admin", "audit_pages")
PUBLIC_ROUTES = {"admin.set_password"}


pytestmark = pytest.mark.usefixtures("staff")  # one person of each role


def admin_routes(app: Flask, session: Session) -> list[tuple[str, str]]:
    """(method, path) of every admin-only route, on the lead's account where it takes one."""
    lead = session.exec(select(User.id).where(User.email == STAFF["lead"])).one()
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.split(".")[0] not in BLUEPRINTS or rule.endpoint in PUBLIC_ROUTES:
                continue
            path = url_for(rule.endpoint, **({"user_id": lead} if rule.arguments else {}))
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append((method, path))
    return routes


def test_every_admin_route_is_declared_for_admins_only(app: Flask) -> None:
    declared = {
        rule.endpoint: allowed_roles(app.view_functions[rule.endpoint])
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in BLUEPRINTS
    }
    assert len(declared) == 11
    assert declared.pop("admin.set_password") == (PUBLIC,)
    assert set(declared.values()) == {("admin",)}


@pytest.mark.parametrize("role", ["researcher", "lead"])
def test_researchers_and_leads_are_refused_every_admin_route_and_nothing_changes(
    app: Flask, session: Session, role: str
) -> None:
    client = logged_in(app, role)
    token = csrf_token(client, "/")
    before = [(u.email, u.role, u.active) for u in session.exec(select(User)).all()]
    for method, path in admin_routes(app, session):
        response = client.open(path, method=method, data={"csrf_token": token, "role": "admin"})
        assert response.status_code == 403, (method, path)
        page = response.get_data(as_text=True)
        assert "Your account&#39;s role does not allow this page. Ask an admin" in page
    session.expire_all()
    assert [(u.email, u.role, u.active) for u in session.exec(select(User)).all()] == before


def test_strangers_are_sent_to_log_in_from_every_admin_page(app: Flask, session: Session) -> None:
    client = app.test_client()
    for method, path in admin_routes(app, session):
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/login"), path


def test_an_admin_reaches_every_admin_page(app: Flask, session: Session) -> None:
    client = logged_in(app, "admin")
    for method, path in admin_routes(app, session):
        if method == "GET":
            assert client.get(path).status_code == 200, path


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
