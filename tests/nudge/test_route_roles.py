"""Every route of the app for every role, from one table: who may use it, what they get, and
which routes show personal data (so each look at them goes on the audit log).

The table is checked against the app's URL map, so a route added anywhere fails here until it
has a row: its roles as `@allow` declares them and, if it shows people's data, the audit action
a look at it records. URL parameters (trial_id, ref, reply_id, user_id, token...) are filled
from one dict built over one seeded trial, so a new route usually needs its row and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy import select as select_rows
from sqlmodel import Session, SQLModel, col, select

from analysis.evidence_pages import EVIDENCE_ROLES
from messages.replies import handle_reply
from nudge import staff
from nudge.audit_log import hide_numbers
from nudge.clock import FixedClock
from nudge.db import make_engine
from nudge.models import AuditEvent, InboundMessage, User
from nudge.web.access import ALL_STAFF, PUBLIC, WEBHOOK, allowed_roles
from tests.conftest import PINNED
from tests.experiments.test_trial_pages import page_text
from tests.factories import person
from tests.trial_factories import TRIAL, seed_trial
from tests.web_helpers import STAFF, add_staff, csrf_token, logged_in, make_app

STRANGER = "stranger"  # not logged in
WHO = (*STAFF, STRANGER)
ANYONE = (PUBLIC,)
TWILIO = (WEBHOOK,)
RESEARCHERS = ("researcher",)
ADMINS = ("admin",)


@dataclass(frozen=True)
class Access:
    """One route's row: who may use it, and what an allowed GET answers and records."""

    roles: tuple[str, ...]
    audit: str | None = None  # the action a GET puts on the audit log: it shows personal data
    redirect: str | None = None  # where an allowed GET is sent instead of a page (PARAMS filled)


ROUTES: dict[str, Access] = {
    # Flask's own static files: public, and no view of ours to declare it on.
    "static": Access(ANYONE),
    "healthz": Access(ANYONE),
    "about.accessibility": Access(ANYONE),
    "about.privacy": Access(ANYONE),
    "auth.login": Access(ANYONE),
    "auth.logout": Access(ALL_STAFF),
    "home.index": Access(ALL_STAFF),
    "overview.overview_page": Access(ALL_STAFF),
    "overview.letter_preview": Access(ALL_STAFF),
    "results.results_page": Access(ALL_STAFF),
    "results.results_download_csv": Access(ALL_STAFF),
    "results.results_download_json": Access(ALL_STAFF),
    "results.results_download_pdf": Access(ALL_STAFF),
    "results.results_bundle": Access(RESEARCHERS, audit="results.bundle_exported"),
    "evidence.evidence_page": Access(EVIDENCE_ROLES),
    "trial_pages.new_trial": Access(RESEARCHERS),
    "trial_pages.manage": Access(RESEARCHERS),
    "trial_pages.launch": Access(RESEARCHERS, redirect="/trials/{trial_id}/manage"),  # live
    "trial_pages.amend": Access(RESEARCHERS),
    "message_pages.message_log_page": Access(RESEARCHERS, audit="messages.viewed"),
    "message_pages.message_log_download": Access(RESEARCHERS, audit="messages.downloaded"),
    "reply_pages.trial_replies": Access(RESEARCHERS, audit="replies.viewed"),
    "reply_pages.replies_hub": Access(RESEARCHERS, audit="replies.viewed"),
    "reply_pages.reply_handled": Access(RESEARCHERS),
    "reply_pages.reply_reopened": Access(RESEARCHERS),
    "pause_pages.pause_page": Access(RESEARCHERS),
    "pause_pages.resume_page": Access(RESEARCHERS),
    "message_pages.opt_outs_page": Access(RESEARCHERS, audit="opt_outs.viewed"),
    "people_pages.find_person": Access(RESEARCHERS),
    "people_pages.person_timeline": Access(RESEARCHERS, audit="person.viewed"),
    "admin.accounts": Access(ADMINS, audit="users.viewed"),
    "admin.new_account": Access(ADMINS),
    "admin.account": Access(ADMINS, audit="user.viewed"),
    "admin.change_role": Access(ADMINS),
    "admin.disable": Access(ADMINS),
    "admin.enable": Access(ADMINS),
    "admin.remove": Access(ADMINS),
    "admin.unlock": Access(ADMINS),
    "admin.reset": Access(ADMINS),
    "admin.set_password": Access(ANYONE),  # whoever holds the link
    "audit_pages.audit_log": Access(ADMINS, audit="audit.viewed"),
    "audit_pages.audit_download": Access(ADMINS, audit="audit.downloaded"),
    "webhooks.inbound": Access(TWILIO),
    "webhooks.status": Access(TWILIO),
    "notify_webhooks.inbound": Access(TWILIO),  # a bearer token, not a session
    "notify_webhooks.status": Access(TWILIO),
    "notify_webhooks.returned_letter": Access(TWILIO),
}
REFUSAL = "Your account's role does not allow this page."  # the 403 page, for every role
PEOPLE = 12
TO = "+447700900000"  # the trial's own number, as Twilio sends a reply on
# What each refused POST carries besides its CSRF token: enough that the form would pass, were
# the role check missing (a role to change to, an email to add).
POSTED = {"role": "admin", "email": "mallory@example.org", "reason": "testing the roles"}
# What no audit record may hold: the seeded people's names, numbers and addresses.
PRIVATE = ("Testy", "McTestface", "7700", "Example Street", "BS1 1AA")


@dataclass
class Site:
    app: Flask
    engine: Engine
    clients: dict[str, FlaskClient]  # one per role, and the stranger's
    params: dict[str, Any]  # a value for every URL parameter any route takes


@pytest.fixture(scope="module")
def site(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The example trial live with people, messages, outcomes, a reply and an opt-out; staff of
    each role logged in; an invited account with its set-password link."""
    clock = FixedClock(PINNED)
    engine = make_engine(module_db_url)
    with Session(engine, expire_on_commit=False) as session:
        add_staff(session, clock)
        seed_trial(session, clock, tmp_path_factory.mktemp("trial"), people=PEOPLE)
        phone = "+44" + person(1)["phone"].replace(" ", "")[1:]
        for sid, body in (("SM1", "Where do I park?"), ("SM2", "STOP")):
            handle_reply(
                session, clock, provider_id=sid, from_number=phone, to_number=TO, body=body
            )
        link = staff.invite(session, clock, "ivy@example.org", "researcher", "test:admin")
        session.commit()
        params = {
            "trial_id": TRIAL,
            "ref": person(1)["participant_ref"],
            "arm_id": "social_norm",
            "position": 2,  # its letter
            "filename": "nudge.css",
            "reply_id": session.exec(select(InboundMessage.id).limit(1)).one(),
            "user_id": session.exec(select(User.id).where(User.email == STAFF["lead"])).one(),
            "token": link.token,
        }
    app = make_app(module_db_url)
    clients = {role: logged_in(app, role) for role in STAFF}
    clients[STRANGER] = app.test_client()
    yield Site(app, engine, clients, params)
    app.extensions["nudge"]["engine"].dispose()
    engine.dispose()


def paths(site: Site, method: str) -> list[tuple[str, str, Access]]:
    """(endpoint, path, row) of every route answering `method`, its parameters filled."""
    found = []
    with site.app.test_request_context():
        for rule in site.app.url_map.iter_rules():
            if method not in (rule.methods or set()):
                continue
            assert rule.endpoint in ROUTES, f"add a row to ROUTES in {__name__} for {rule.endpoint}"
            missing = sorted(set(rule.arguments) - set(site.params))
            assert not missing, f"{rule.rule} takes {missing}: add a value to the params in site()"
            path = url_for(rule.endpoint, **{k: site.params[k] for k in rule.arguments})
            found.append((rule.endpoint, path, ROUTES[rule.endpoint]))
    return found


def answer(
    client: FlaskClient, method: str, path: str, data: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """The status, the Location header and the page's text (a file's response closed after)."""
    with client.open(path, method=method, data=data) as response:
        location = response.headers.get("Location", "")
        text = page_text(response) if response.mimetype == "text/html" else ""
        return response.status_code, location, text


def contents(engine: Engine) -> dict[str, list[Any]]:
    """Every row of every table, in key order: 'nothing changed' means nothing at all."""
    with Session(engine) as session:
        return {
            table.name: list(session.execute(select_rows(table).order_by(*table.primary_key)))
            for table in SQLModel.metadata.sorted_tables
        }


def test_every_route_has_a_row_and_declares_the_roles_it_gives(site: Site) -> None:
    endpoints = {rule.endpoint for rule in site.app.url_map.iter_rules()}
    unlisted = sorted(endpoints - set(ROUTES))
    assert not unlisted, f"add a row to ROUTES in {__name__} for {unlisted}"
    assert sorted(set(ROUTES) - endpoints) == [], "rows for routes the app no longer has"
    # Flask's static view is its own: it has no @allow to read (its row says who may use it).
    views = {e: site.app.view_functions[e] for e in sorted(endpoints - {"static"})}
    declared = {endpoint: allowed_roles(view) for endpoint, view in views.items()}
    undeclared = [endpoint for endpoint, roles in declared.items() if roles is None]
    assert undeclared == [], "these views need @allow(...) from nudge.web.access"
    differ = {
        endpoint: (roles, ROUTES[endpoint].roles)
        for endpoint, roles in declared.items()
        if set(roles or ()) != set(ROUTES[endpoint].roles)
    }
    assert differ == {}, "declared roles (left) differ from the table's (right)"


@pytest.mark.parametrize("who", WHO)
def test_every_page_answers_each_role_as_the_table_says(site: Site, who: str) -> None:
    """Allowed: the page (or its documented redirect); another role: the 403 page that says
    why; a stranger: off to log in. Public pages answer everyone."""
    client = site.clients[who]
    wrong = []
    for endpoint, path, row in paths(site, "GET"):
        status, location, text = answer(client, "GET", path)
        if PUBLIC in row.roles or (who in row.roles and row.redirect is None):
            expected = status == 200
        elif who in row.roles:
            expected = status == 302 and location == str(row.redirect).format(**site.params)
        elif who == STRANGER:
            expected = status == 302 and location.startswith("/login")
        else:
            expected = status == 403 and REFUSAL in text
        if not expected:
            wrong.append(f"GET {path} ({endpoint}): {status} {location}")
    assert wrong == []


@pytest.mark.parametrize("who", WHO)
def test_every_post_refused_to_a_role_changes_nothing(site: Site, who: str) -> None:
    """A role the route does not allow gets 403 (a stranger is sent to log in, an unsigned
    webhook call is refused), and every table is as it was."""
    client = site.clients[who]
    token = csrf_token(client, "/login" if who == STRANGER else "/")
    refused = [
        (endpoint, path, row)
        for endpoint, path, row in paths(site, "POST")
        if PUBLIC not in row.roles and who not in row.roles
    ]
    assert refused, "a role that every POST allows: nothing to check"
    wrong = []
    for endpoint, path, row in refused:
        before = contents(site.engine)
        status, location, text = answer(client, "POST", path, {"csrf_token": token, **POSTED})
        if who == STRANGER and WEBHOOK not in row.roles:
            expected = status == 302 and location.startswith("/login")
        else:
            expected = status == 403 and (WEBHOOK in row.roles or REFUSAL in text)
        if not expected or contents(site.engine) != before:
            wrong.append(f"POST {path} ({endpoint}): {status} {location}")
    assert wrong == []


@pytest.mark.parametrize("role", STAFF)
def test_a_look_at_personal_data_is_audited_once_with_who_and_when_and_nothing_else_is(
    site: Site, role: str
) -> None:
    """Each GET of a route the table marks as personal adds exactly one audit record of that
    action, with the viewer and the time, and no name, number or address; other GETs add none
    (a page that records a look but has no mark in the table fails too)."""
    clock: FixedClock = site.app.extensions["nudge"]["clock"]
    wrong = []
    for endpoint, path, row in paths(site, "GET"):
        if role not in row.roles:
            continue
        clock.advance(timedelta(minutes=1))  # each look at its own time
        before = _last_audit_id(site.engine)
        assert answer(site.clients[role], "GET", path)[0] in (200, 302), path
        added = _audit_since(site.engine, before)
        if row.audit is None:
            if added:
                wrong.append(f"{endpoint} records {[a.action for a in added]}: mark it in ROUTES")
            continue
        expected = [(row.audit, f"web:{STAFF[role]}", clock.now())]
        if (got := [(a.action, a.actor, a.at) for a in added]) != expected:
            wrong.append(f"{endpoint} records {got}, not {expected}")
        for event in added:
            text = json.dumps([event.actor, event.subject, event.trial_id, event.details])
            if hide_numbers(text) != text or any(word in text for word in PRIVATE):
                wrong.append(f"{endpoint} records personal data: {text}")
    assert wrong == []


def _last_audit_id(engine: Engine) -> int:
    with Session(engine) as session:
        last = session.exec(select(col(AuditEvent.id)).order_by(col(AuditEvent.id).desc()))
        return last.first() or 0


def _audit_since(engine: Engine, after: int) -> list[AuditEvent]:
    with Session(engine) as session:
        query = select(AuditEvent).where(col(AuditEvent.id) > after).order_by(col(AuditEvent.id))
        return list(session.exec(query))
