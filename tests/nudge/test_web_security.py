"""CSRF on every state-changing route, sessions that cannot be fixed or replayed, cookie flags.

The CSRF table is generated from the app's URL map, so a new POST route is covered as soon as
it is registered; only the signed Twilio webhooks are exempt (tests/messages/test_webhooks.py
and test_fuzz_webhooks.py cover their signatures).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from nudge.config import load_settings
from nudge.web import create_app
from nudge.web.access import WEBHOOK, allowed_roles
from tests.conftest import PINNED
from tests.factories import row_counts
from tests.web_helpers import CSRF_FIELD, logged_in, post_login

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def state_changing_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, path) of every route that changes state, except the signed webhooks."""
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if WEBHOOK in (allowed_roles(view) or ()):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)
        routes += [
            (method, path) for method in sorted(rule.methods or ()) if method in STATE_CHANGING
        ]
    return routes


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def assert_a_stranger_with(app: Flask, cookie: str) -> None:
    """A fresh browser holding only this session cookie is sent to log in."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_csrf_table_covers_login_and_logout(app: Flask) -> None:
    assert {("POST", "/login"), ("POST", "/logout")} <= set(state_changing_routes(app))


@pytest.mark.parametrize("role", ["researcher", "admin", "lead"])
def test_every_state_changing_route_refuses_a_request_without_its_csrf_token(
    app: Flask,
    staff: None,
    session: Session,
    role: str,
) -> None:
    client = logged_in(app, role)
    before = row_counts(session)
    session.rollback()
    for method, path in state_changing_routes(app):
        for token in (None, "forged-token"):
            data = {} if token is None else {"csrf_token": token}
            response = client.open(path, method=method, data=data)
            assert response.status_code == 400, (method, path, token, response.status_code)
    assert row_counts(session) == before
    assert client.get("/").status_code == 200, "the refused requests logged the person out"


def test_a_session_cookie_planted_before_login_is_not_logged_in_afterwards(
    app: Flask,
    staff: None,
) -> None:
    victim = app.test_client()
    victim.get("/login")
    planted = session_cookie(victim)
    assert planted
    assert post_login(victim, "rita@example.org").status_code == 302
    assert session_cookie(victim) != planted, "the session cookie did not change on login"
    assert_a_stranger_with(app, planted)


def test_after_logout_the_old_session_cookie_no_longer_works(
    app: Flask,
    staff: None,
) -> None:
    client = app.test_client()
    post_login(client, "rita@example.org")
    assert client.get("/").status_code == 200
    stolen = session_cookie(client)
    assert stolen
    page = client.get("/").get_data(as_text=True)
    token = re.search(CSRF_FIELD, page)
    assert token, "the logout form carries no CSRF token"
    assert client.post("/logout", data={"csrf_token": token.group(1)}).status_code == 302
    assert client.get("/").status_code == 302
    assert_a_stranger_with(app, stolen)


def test_the_session_cookie_is_httponly_and_samesite(
    app: Flask,
    staff: None,
) -> None:
    client = app.test_client()
    response = post_login(client, "rita@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development over plain HTTP on a laptop


@pytest.fixture
def production(db_url: str) -> Iterator[Flask]:
    settings = load_settings(
        {
            "NUDGE_DATABASE_URL": db_url,
            "NUDGE_NOW": PINNED.isoformat(),
            "NUDGE_ENV": "production",
            "NUDGE_SECRET_KEY": "a-long-random-production-secret-for-this-test-only",
        }
    )
    built = create_app(settings)
    yield built
    built.extensions["nudge"]["engine"].dispose()


def test_in_production_the_session_cookie_is_also_secure(
    production: Flask,
    staff: None,
) -> None:
    client = production.test_client()
    response = post_login(client, "rita@example.org")
    cookie = response.headers["Set-Cookie"]
    assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Lax"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/login"),
        ("GET", "/"),
        ("GET", "/healthz"),
        ("GET", "/no-such-page"),
        ("POST", "/login"),
        ("POST", "/webhooks/twilio/status"),
        ("GET", "/static/nudge.css"),
    ],
)
def test_every_response_carries_the_security_headers(
    app: Flask,
    method: str,
    path: str,
) -> None:
    with app.test_client().open(path, method=method) as response:
        headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "same-origin"
    if not path.startswith("/static/"):
        assert headers["Cache-Control"] == "no-store"
