"""Accounts as an admin manages them in the browser: each change works, is refused when it
must be, and is on the audit log with who and when; set-password links work once, for 24 hours.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from nudge.accounts import MAX_FAILURES
from nudge.models import AuditEvent, PasswordLink, User
from tests.conftest import PINNED
from tests.web_helpers import PASSWORD, STAFF, csrf_token, logged_in, post_login, role_of

pytestmark = pytest.mark.usefixtures("staff")  # one person of each role

ADMIN_ACTOR = f"web:{STAFF['admin']}"
NEW_PASSWORD = "a brand new password for rita"
VIEWED = "user.viewed"


def user(session: Session, role: str) -> User:
    session.expire_all()
    return session.exec(select(User).where(User.email == STAFF[role])).one()


def post(client: FlaskClient, path: str, **data: str) -> str:
    """Post a form with the page's CSRF token; follow the redirect; the page's text."""
    response = client.post(path, data={"csrf_token": csrf_token(client, "/"), **data})
    if response.status_code == 302:
        response = client.get(response.headers["Location"])
    return response.get_data(as_text=True)


def link_in(page: str) -> str:
    found = re.search(r'id="set-password-link">http://localhost(/set-password/[\w-]+)<', page)
    assert found, page
    return found.group(1)


def last_event(session: Session) -> AuditEvent:
    """The last event but looks at an account (`post` follows the redirect to one, recorded)."""
    session.expire_all()
    query = select(AuditEvent).where(AuditEvent.action != VIEWED)
    return session.exec(query.order_by(col(AuditEvent.id).desc())).first()  # type: ignore[return-value]


def test_the_accounts_list_shows_role_state_and_last_login(app: Flask, session: Session) -> None:
    admin = logged_in(app, "admin")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "3 accounts" in page
    rita = re.search(r"rita@example.org</a></th>(.*?)</tr>", page, re.S)
    assert rita and "Researcher" in rita.group(1) and "Never" in rita.group(1)
    assert "Active" in rita.group(1)
    ada = re.search(r"ada@example.org</a></th>(.*?)</tr>", page, re.S)
    assert ada and PINNED.strftime("%-d %b %Y %H:%M UTC") in ada.group(1)


def test_adding_an_account_shows_its_link_once_and_the_link_sets_the_password_once(
    app: Flask, session: Session
) -> None:
    admin = logged_in(app, "admin")
    page = post(admin, "/admin/users/new", email="New.Person@Example.org", role="lead")
    assert "Account added" in page and "it is shown only once" in page
    path = link_in(page)
    token = path.rsplit("/", 1)[1]
    stored = session.exec(select(PasswordLink)).one()
    assert stored.token_hash != token and token not in str(
        session.exec(select(AuditEvent.details)).all()
    )
    assert stored.expires_at == PINNED + timedelta(hours=24)
    account = session.exec(select(User).where(User.email == "new.person@example.org")).one()
    assert "Invited" in admin.get(f"/admin/users/{account.id}").get_data(as_text=True)
    person = app.test_client()
    assert (
        post_login(person, "new.person@example.org", NEW_PASSWORD).status_code == 401
    )  # no password yet
    form = person.get(path)
    assert form.status_code == 200 and "new.person@example.org" in form.get_data(as_text=True)
    assert form.headers["Referrer-Policy"] == "no-referrer"  # the token is in its address
    done = person.post(
        path,
        data={
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token(person, path),
        },
    )
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert post_login(person, "new.person@example.org", NEW_PASSWORD).status_code == 302
    assert app.test_client().get(path).status_code == 404  # used: never again
    actions = [(e.actor, e.action, e.subject) for e in session.exec(select(AuditEvent))]
    assert (ADMIN_ACTOR, "user.created", "new.person@example.org") in actions
    assert (ADMIN_ACTOR, "user.link_issued", "new.person@example.org") in actions
    assert ("web:new.person@example.org", "user.password_set", "new.person@example.org") in actions


def test_a_set_password_link_runs_out_after_24_hours(app: Flask) -> None:
    page = post(logged_in(app, "admin"), "/admin/users/new", email="late@example.org", role="lead")
    path = link_in(page)
    clock = app.extensions["nudge"]["clock"]
    clock.advance(timedelta(hours=23, minutes=59))
    assert app.test_client().get(path).status_code == 200
    clock.advance(timedelta(minutes=1))
    expired = app.test_client().get(path)
    assert expired.status_code == 404 and "This link does not work" in expired.get_data(
        as_text=True
    )


def test_a_new_link_replaces_the_old_one_and_a_short_password_is_refused(
    app: Flask, session: Session
) -> None:
    admin = logged_in(app, "admin")
    rita = user(session, "researcher")
    first = link_in(post(admin, f"/admin/users/{rita.id}/reset"))
    second = link_in(post(admin, f"/admin/users/{rita.id}/reset"))
    person = app.test_client()
    assert person.get(first).status_code == 404
    short = person.post(
        second,
        data={"password": "short", "confirm": "short", "csrf_token": csrf_token(person, second)},
    )
    page = short.get_data(as_text=True)
    assert short.status_code == 400 and "<title>Error: Set your password" in page
    assert "at least 12 characters" in page
    assert (
        post_login(person, STAFF["researcher"], PASSWORD).status_code == 302
    )  # the old one still works


def test_setting_a_password_by_link_ends_the_accounts_sessions_and_lockout(
    app: Flask, session: Session
) -> None:
    rita_browser = logged_in(app, "researcher")
    path = link_in(
        post(logged_in(app, "admin"), f"/admin/users/{user(session, 'researcher').id}/reset")
    )
    person = app.test_client()
    for _ in range(MAX_FAILURES):
        post_login(person, STAFF["researcher"], "a wrong guess at it")
    person.post(
        path,
        data={
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token(person, path),
        },
    )
    assert rita_browser.get("/").status_code == 302
    assert post_login(person, STAFF["researcher"], NEW_PASSWORD).status_code == 302


def test_changing_a_role_applies_at_once_and_is_audited(app: Flask, session: Session) -> None:
    rita_browser = logged_in(app, "researcher")
    assert rita_browser.get("/trials/new").status_code == 200
    page = post(
        logged_in(app, "admin"), f"/admin/users/{user(session, 'researcher').id}/role", role="lead"
    )
    assert "The account is now lead." in page
    assert rita_browser.get("/trials/new").status_code == 403
    event = last_event(session)
    assert (event.actor, event.action, event.subject, event.details, event.at) == (
        ADMIN_ACTOR,
        "user.role_changed",
        STAFF["researcher"],
        {"from": "researcher", "to": "lead", "organisation": "default"},
        PINNED,
    )


def test_disabling_ends_the_sessions_at_once_and_re_enabling_does_not_revive_them(
    app: Flask, session: Session
) -> None:
    lee_browser = logged_in(app, "lead")
    admin = logged_in(app, "admin")
    lee = user(session, "lead")
    page = post(admin, f"/admin/users/{lee.id}/disable")
    assert "The account is disabled and its sessions have ended." in page and "Disabled" in page
    assert lee_browser.get("/").status_code == 302
    refused = app.test_client()
    data = {"email": STAFF["lead"], "password": PASSWORD, "csrf_token": csrf_token(refused)}
    answer = refused.post("/login", data=data)
    # Told exactly what a wrong password is told: nothing says the account exists.
    assert answer.status_code == 401
    assert "The email or password is not right" in answer.get_data(as_text=True)
    assert last_event(session).action == "login.failed"
    post(admin, f"/admin/users/{lee.id}/enable")
    assert lee_browser.get("/").status_code == 302  # the old session stays ended
    assert post_login(app.test_client(), STAFF["lead"], PASSWORD).status_code == 302
    actions = session.exec(
        select(AuditEvent.action).where(
            AuditEvent.actor == ADMIN_ACTOR, AuditEvent.subject == STAFF["lead"]
        )
    ).all()
    assert actions == ["user.disabled", VIEWED, "user.enabled", VIEWED]


def test_unlocking_ends_a_lockout_now(app: Flask, session: Session) -> None:
    person = app.test_client()
    for _ in range(MAX_FAILURES):
        post_login(person, STAFF["lead"], "a wrong guess at it")
    assert post_login(person, STAFF["lead"], PASSWORD).status_code == 401
    admin = logged_in(app, "admin")
    lee = user(session, "lead")
    assert "Locked" in admin.get(f"/admin/users/{lee.id}").get_data(as_text=True)
    assert "The account is unlocked" in post(admin, f"/admin/users/{lee.id}/unlock")
    event = last_event(session)
    assert (event.actor, event.action, event.details) == (
        ADMIN_ACTOR,
        "user.unlocked",
        {"failures_cleared": MAX_FAILURES},
    )
    assert post_login(person, STAFF["lead"], PASSWORD).status_code == 302


@pytest.mark.parametrize("change", [("disable", {}), ("role", {"role": "researcher"})])
def test_the_last_active_admin_cannot_disable_or_demote_themselves(
    app: Flask, session: Session, change: tuple[str, dict[str, str]]
) -> None:
    admin = logged_in(app, "admin")
    ada = user(session, "admin")
    changes = select(AuditEvent.id).where(AuditEvent.action != VIEWED)
    before = session.exec(changes).all()
    page = post(admin, f"/admin/users/{ada.id}/{change[0]}", **change[1])
    assert "it is the only active admin of default. Make another admin first." in page
    ada = user(session, "admin")
    assert (role_of(session, ada.email), ada.active) == ("admin", True)
    assert session.exec(changes).all() == before
    assert admin.get("/admin/users").status_code == 200


def test_an_admin_can_step_down_once_another_admin_exists(app: Flask, session: Session) -> None:
    admin = logged_in(app, "admin")
    post(admin, f"/admin/users/{user(session, 'lead').id}/role", role="admin")
    assert "The account is now researcher." in post(
        admin, f"/admin/users/{user(session, 'admin').id}/role", role="researcher"
    )
    assert admin.get("/admin/users").status_code == 403


def test_adding_an_email_already_used_is_refused_at_its_field(app: Flask, session: Session) -> None:
    admin = logged_in(app, "admin")
    data = {"email": STAFF["lead"], "role": "admin", "csrf_token": csrf_token(admin, "/")}
    response = admin.post("/admin/users/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "<title>Error: Add an account" in page
    assert 'href="#email">A user with the email lee@example.org already exists' in page
    assert 'aria-invalid="true"' in page
    assert role_of(session, STAFF["lead"]) == "lead"
