"""Logging in, roles and security headers, through the real app and its test client.

That every route declares its roles, and gives them, is checked in test_route_roles.py.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlmodel import Session, col, select

from nudge.accounts import MAX_SOURCE_FAILURES
from nudge.models import AuditEvent, LoginFailure
from tests.conftest import Cli
from tests.web_helpers import PASSWORD, post_login


def test_a_stranger_is_sent_to_log_in(app: Flask) -> None:
    response = app.test_client().get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_logging_in_shows_the_trials_list(app: Flask, staff: None) -> None:
    client = app.test_client()
    assert post_login(client, "rita@example.org").status_code == 302
    page = client.get("/")
    assert page.status_code == 200 and "There are no trials yet" in page.get_data(as_text=True)


def test_a_wrong_password_and_an_unknown_email_get_the_same_generic_message(
    app: Flask, staff: None
) -> None:
    client = app.test_client()
    wrong = post_login(client, "rita@example.org", "not the password")
    unknown = post_login(client, "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    message = "The email or password is not right, or the account is locked for 15 minutes."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_five_failures_lock_the_account_even_against_the_right_password(
    app: Flask, staff: None
) -> None:
    client = app.test_client()
    for _ in range(5):
        assert post_login(client, "rita@example.org", "guess guess guess").status_code == 401
    assert post_login(client, "rita@example.org").status_code == 401
    later = app.extensions["nudge"]["clock"]
    later.advance(timedelta(minutes=16))
    assert post_login(client, "rita@example.org").status_code == 302


def test_many_failures_from_one_address_refuse_it_whatever_the_email(
    app: Flask, staff: None
) -> None:
    """Spraying one guess across many accounts never trips any one account's limit."""
    sprayer = app.test_client()
    sprayer.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    for n in range(MAX_SOURCE_FAILURES):
        assert post_login(sprayer, f"person{n}@example.org", "Summer2027!!!").status_code == 401
    refused = post_login(sprayer, "rita@example.org")  # even the right password, from there
    assert refused.status_code == 429
    assert "Too many failed logins from this network" in refused.get_data(as_text=True)
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    assert post_login(colleague, "rita@example.org").status_code == 302  # elsewhere: unaffected
    app.extensions["nudge"]["clock"].advance(timedelta(minutes=16))
    assert post_login(sprayer, "rita@example.org").status_code == 302


def test_the_lockout_forgets_old_failures_but_the_audit_log_keeps_every_attempt(
    app: Flask, staff: None, session: Session
) -> None:
    client = app.test_client()
    for _ in range(3):
        post_login(client, "rita@example.org", "guess guess guess")
    app.extensions["nudge"]["clock"].advance(timedelta(minutes=16))
    post_login(client, "lee@example.org", "guess guess guess")
    assert post_login(client, "rita@example.org").status_code == 302
    assert [f.email for f in session.exec(select(LoginFailure)).all()] == ["lee@example.org"]
    actions = session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
    assert actions[-5:] == ["login.failed"] * 4 + ["login.succeeded"]


def test_a_login_without_its_csrf_token_is_refused(app: Flask, staff: None) -> None:
    response = app.test_client().post(
        "/login", data={"email": "rita@example.org", "password": PASSWORD}
    )
    assert response.status_code == 400


def test_logging_in_starts_a_fresh_session(app: Flask, staff: None) -> None:
    client = app.test_client()
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
    post_login(client, "rita@example.org")
    with client.session_transaction() as after:
        assert "planted" not in after and after.get("_user_id")


def test_after_login_only_a_local_path_is_followed(app: Flask, staff: None) -> None:
    response = post_login(app.test_client(), "rita@example.org", query="?next=//evil.example/x")
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
