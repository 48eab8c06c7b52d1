"""The layout of a service outside GOV.UK: no crown, no GDS Transport, no inline script."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.web_helpers import logged_in

GOVUK_ONLY = re.compile(r"crown|crest|GDS Transport|@font-face|govuk-logo", re.IGNORECASE)


def test_no_page_or_stylesheet_uses_the_crown_or_gds_transport(
    app: Flask, researcher: FlaskClient
) -> None:
    client = researcher
    stylesheets: set[str] = set()
    for path in ("/", "/trials/new", "/replies", "/opt-outs", "/accessibility", "/privacy"):
        page = client.get(path).get_data(as_text=True)
        assert not GOVUK_ONLY.search(page), path
        stylesheets |= set(re.findall(r'<link rel="stylesheet" href="([^"]+)"', page))
    assert stylesheets == {"/static/vendor/frontend.css", "/static/nudge.css", "/static/print.css"}
    for stylesheet in stylesheets:
        with client.get(stylesheet) as response:  # a file response: close it
            css = response.get_data(as_text=True)
        assert not re.search(r"GDS Transport|@font-face", css, re.IGNORECASE), stylesheet
    login = app.test_client().get("/login").get_data(as_text=True)
    assert not GOVUK_ONLY.search(login)


def test_the_csp_refuses_inline_script_and_every_script_is_a_file(app: Flask, staff: None) -> None:
    client = logged_in(app, "lead")
    for path in ("/", "/accessibility", "/login"):
        response = client.get(path)
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response.headers["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'"
        page = response.get_data(as_text=True)
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S)
        assert scripts and all(" src=" in tag and not body.strip() for tag, body in scripts), path
        assert not re.search(r"<[^>]+\son[a-z]+=", page), path  # no inline event handlers


def test_the_contact_setting_appears_on_the_accessibility_statement(db_url: str) -> None:
    from nudge.config import load_settings
    from nudge.web import create_app
    from tests.conftest import PINNED

    settings = load_settings(
        {
            "NUDGE_DATABASE_URL": db_url,
            "NUDGE_NOW": PINNED.isoformat(),
            "NUDGE_CONTACT": "nudge-help@example.org",
        }
    )
    app = create_app(settings)
    page = app.test_client().get("/accessibility").get_data(as_text=True)
    app.extensions["nudge"]["engine"].dispose()
    assert 'href="mailto:nudge-help@example.org"' in page
