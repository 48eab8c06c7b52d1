"""Logging in, roles and security headers, through the real app and its test client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from nudge.accounts import MAX_SOURCE_FAILURES, add_user
from nudge.clock import FixedClock
from nudge.models import AuditEvent, LoginFailure
from nudge.web.access import allowed_roles
from tests.conftest import Cli
from tests.web_helpers import csrf_token

PASSWORD = "correct horse battery"


@pytest.fixture
def people(session: Session, clock: FixedClock) -> None:
    for email, role in (
        ("ada@example.org", "admin"),
        ("rita@example.org", "researcher"),
        ("lee@example.org", "lead"),
    ):
        add_user(session, clock, email, role, PASSWORD, "test")
    session.commit()


def log_in(client: FlaskClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)}
    )


def test_a_stranger_is_sent_to_log_in(app: Flask) -> None:
    response = app.test_client().get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_logging_in_shows_the_trials_list(app: Flask, people: None) -> None:
    client = app.test_client()
    assert log_in(client, "rita@example.org").status_code == 302
    page = client.get("/")
    assert page.status_code == 200 and "There are no trials yet" in page.get_data(as_text=True)


def test_a_wrong_password_and_an_unknown_email_get_the_same_generic_message(
    app: Flask, people: None
) -> None:
    client = app.test_client()
    wrong = log_in(client, "rita@example.org", "not the password")
    unknown = log_in(client, "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    message = "The email or password is not right, or the account is locked for 15 minutes."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_five_failures_lock_the_account_even_against_the_right_password(
    app: Flask, people: None
) -> None:
    client = app.test_client()
    for _ in range(5):
        assert log_in(client, "rita@example.org", "guess guess guess").status_code == 401
    assert log_in(client, "rita@example.org").status_code == 401
    later = app.extensions["nudge"]["clock"]
    later.advance(timedelta(minutes=16))
    assert log_in(client, "rita@example.org").status_code == 302


def test_many_failures_from_one_address_refuse_it_whatever_the_email(
    app: Flask, people: None
) -> None:
    """Spraying one guess across many accounts never trips any one account's limit."""
    sprayer = app.test_client()
    sprayer.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    for n in range(MAX_SOURCE_FAILURES):
        assert log_in(sprayer, f"person{n}@example.org", "Summer2027!!!").status_code == 401
    refused = log_in(sprayer, "rita@example.org")  # even the right password, from there
    assert refused.status_code == 429
    assert "Too many failed logins from this network" in refused.get_data(as_text=True)
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    assert log_in(colleague, "rita@example.org").status_code == 302  # elsewhere: unaffected
    app.extensions["nudge"]["clock"].advance(timedelta(minutes=16))
    assert log_in(sprayer, "rita@example.org").status_code == 302


def test_the_lockout_forgets_old_failures_but_the_audit_log_keeps_every_attempt(
    app: Flask, people: None, session: Session
) -> None:
    client = app.test_client()
    for _ in range(3):
        log_in(client, "rita@example.org", "guess guess guess")
    app.extensions["nudge"]["clock"].advance(timedelta(minutes=16))
    log_in(client, "lee@example.org", "guess guess guess")
    assert log_in(client, "rita@example.org").status_code == 302
    assert [f.email for f in session.exec(select(LoginFailure)).all()] == ["lee@example.org"]
    actions = session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
    assert actions[-5:] == ["login.failed"] * 4 + ["login.succeeded"]


def test_a_login_without_its_csrf_token_is_refused(app: Flask, people: None) -> None:
    response = app.test_client().post(
        "/login", data={"email": "rita@example.org", "password": PASSWORD}
    )
    assert response.status_code == 400


def test_logging_in_starts_a_fresh_session(app: Flask, people: None) -> None:
    client = app.test_client()
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
    log_in(client, "rita@example.org")
    with client.session_transaction() as after:
        assert "planted" not in after and after.get("_user_id")


def test_after_login_only_a_local_path_is_followed(app: Flask, people: None) -> None:
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"email": "rita@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_pages_carry_security_headers_and_are_not_cached(app: Flask) -> None:
    response = app.test_client().get("/login")
    headers = response.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers
    secure = app.test_client().get("/login", base_url="https://nudge.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_every_route_declares_who_may_use_it(app: Flask) -> None:
    undeclared = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and allowed_roles(app.view_functions[rule.endpoint]) is None
    ]
    assert undeclared == []


def test_users_add_reads_the_password_from_standard_input(cli: Cli) -> None:
    result = cli(
        "users", "add", "New.Person@Example.org", "--role", "lead", input="a long enough password\n"
    )
    assert result.output.strip() == "added new.person@example.org as lead"


def test_users_add_refuses_a_short_password(cli: Cli) -> None:
    result = cli("users", "add", "p@example.org", "--role", "lead", input="short\n")
    assert (result.exit_code, result.output.strip()) == (
        1,
        "the password must be at least 12 characters long",
    )


def test_users_add_refuses_a_duplicate(cli: Cli) -> None:
    cli("users", "add", "p@example.org", "--role", "lead", input="a long enough password\n")
    again = cli(
        "users", "add", "p@example.org", "--role", "admin", input="a long enough password\n"
    )
    assert again.exit_code == 1 and "already exists" in again.output
