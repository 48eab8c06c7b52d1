"""Every researcher page for every role: researchers in, leads and admins 403, strangers out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, url_for
from sqlmodel import Session

from messages.replies import handle_reply
from nudge.clock import FixedClock
from nudge.web.access import allowed_roles
from tests.conftest import EXAMPLE
from tests.experiments.test_trial_pages import page_text
from tests.factories import launch
from tests.web_helpers import csrf_token, logged_in, make_app

BLUEPRINTS = ("trial_pages", "message_pages")
ARGS = {"trial_id": "witness-reminders-2027", "reply_id": 1}


@pytest.fixture
def app(db_url: str, session: Session, clock: FixedClock, staff: None) -> Iterator[Flask]:
    app = make_app(db_url)
    launch(session, clock, EXAMPLE)
    handle_reply(
        session,
        clock,
        provider_id="SM1",
        from_number="+447700900001",
        to_number="+447700900000",
        body="Where do I park?",
    )
    session.commit()
    yield app
    app.extensions["nudge"]["engine"].dispose()


def researcher_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, path) of every route the two researcher blueprints register."""
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.split(".")[0] not in BLUEPRINTS:
                continue
            path = url_for(rule.endpoint, **{k: ARGS[k] for k in rule.arguments})
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append((method, path))
    return routes


def test_the_researcher_routes_are_declared_for_researchers_only(app: Flask) -> None:
    views = [
        app.view_functions[rule.endpoint]
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in BLUEPRINTS
    ]
    assert len(views) == 9
    assert {allowed_roles(view) for view in views} == {("researcher",)}


@pytest.mark.parametrize("role", ["lead", "admin"])
def test_leads_and_admins_are_refused_every_researcher_page_with_an_explained_403(
    app: Flask, role: str
) -> None:
    client = logged_in(app, role)
    token = csrf_token(client, "/")
    for method, path in researcher_routes(app):
        response = client.open(path, method=method, data={"csrf_token": token})
        assert response.status_code == 403, (method, path)
        assert "Your account's role does not allow this page." in page_text(response)


def test_strangers_are_sent_to_log_in_from_every_researcher_page(app: Flask) -> None:
    client = app.test_client()
    for method, path in researcher_routes(app):
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/login"), path


def test_a_researcher_reaches_every_researcher_page(app: Flask) -> None:
    """Each page shows (200); launching a trial that is already live goes to its manage page."""
    client = logged_in(app, "researcher")
    launch_page = f"/trials/{ARGS['trial_id']}/launch"
    for method, path in researcher_routes(app):
        if method == "GET":
            response = client.get(path)
            if path == launch_page:
                assert response.status_code == 302, path
                assert response.headers["Location"] == f"/trials/{ARGS['trial_id']}/manage"
            else:
                assert response.status_code == 200, path


def test_only_researchers_see_the_researcher_links(app: Flask) -> None:
    assert 'href="/replies"' in logged_in(app, "researcher").get("/").get_data(as_text=True)
    for role in ("lead", "admin"):
        assert 'href="/replies"' not in logged_in(app, role).get("/").get_data(as_text=True)
