"""Helpers for tests that drive the web app as a logged-in person: through its test client, or
through the login form in a real browser (tests/conftest.py's `browser` and `site`)."""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from typing import Any

from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select
from werkzeug.test import TestResponse

from nudge.clock import Clock
from nudge.config import load_settings
from nudge.models import Membership, User
from nudge.organisations import organisation_for_new
from nudge.web import create_app
from tests.conftest import PINNED
from tests.trial_factories import TRIAL

PASSWORD = "correct horse battery"
STAFF = {"admin": "ada@example.org", "researcher": "rita@example.org", "lead": "lee@example.org"}
RESULTS = f"/trials/{TRIAL}/results"  # the seeded trial's results page


def make_app(db_url: str) -> Flask:
    return create_app(
        load_settings({"NUDGE_DATABASE_URL": db_url, "NUDGE_NOW": PINNED.isoformat()})
    )


@cache
def _password_hash() -> str:
    """Hashed once per test run: argon2 is slow on purpose, and these tests are about pages."""
    return PasswordHasher().hash(PASSWORD)


def add_staff(
    session: Session,
    clock: Clock,
    organisation: str | None = None,
    staff: dict[str, str] | None = None,
) -> None:
    """One person of each role (emails as in STAFF, or `staff`), members of `organisation`
    (the only one, made as `default` when there is none): what `nudge users add` stores."""
    home = organisation_for_new(session, clock, organisation, "test")
    for role, email in (staff or STAFF).items():
        user = User(email=email, password_hash=_password_hash(), created_at=clock.now())
        session.add(user)
        session.flush()
        assert user.id is not None and home.id is not None
        session.add(Membership(user_id=user.id, organisation_id=home.id, role=role))
    session.commit()


def role_of(session: Session, email: str) -> str | None:
    """The account's role in its (first) organisation, as the database holds it now."""
    session.expire_all()
    return session.exec(
        select(Membership.role)
        .join(User, col(User.id) == Membership.user_id)
        .where(User.email == email)
        .order_by(col(Membership.id))
    ).first()


CSRF_FIELD = r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"'


def without_csrf_token(page: str) -> str:
    """The page less its CSRF token, which is signed afresh each second: two requests either
    side of a second's turn give the same page with different tokens."""
    return re.sub(CSRF_FIELD, "", page)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(CSRF_FIELD, page)
    assert match, page
    return match.group(1)


def post_login(
    client: FlaskClient, email: str, password: str = PASSWORD, query: str = ""
) -> TestResponse:
    """The login form sent as a browser sends it, with its CSRF token; the app's answer."""
    data = {"email": email, "password": password, "csrf_token": csrf_token(client)}
    return client.post(f"/login{query}", data=data)


def logged_in(app: Flask, role: str) -> FlaskClient:
    """A test client logged in as the staff member with that role."""
    client = app.test_client()
    response = post_login(client, STAFF[role])
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def submit_login(page: Any, email: str, password: str = PASSWORD) -> None:
    """Fill in and send the login form a browser page is showing."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def log_in_page(page: Any, base: str, who: str, password: str = PASSWORD) -> Any:
    """Log a browser page in through the form as `who`: the staff member with that role, or
    the person with that email address; the page."""
    page.goto(f"{base}/login")
    submit_login(page, STAFF.get(who, who), password)
    page.wait_for_url(f"{base}/")
    return page


def open_as(
    browser: Any, base: str, role: str, path: str = "/", width: int = 1280, height: int = 900
) -> Any:
    """A new browser page of that size, logged in as `role`, showing `path`."""
    page = log_in_page(browser.new_page(viewport={"width": width, "height": height}), base, role)
    page.goto(f"{base}{path}")
    return page


def no_violations(page: Any) -> None:
    """axe-core finds no WCAG 2.1 A or AA fault on the page (it runs as a script in the page)."""
    from axe_playwright_python.sync_playwright import Axe  # Playwright: for browser tests only

    results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]})
    assert results.violations_count == 0, results.generate_report()


class _TableReader(HTMLParser):
    """Every <table> of a page as its caption and its rows of cell texts (header cells too)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._caption: list[str] | None = None
        self._cell: list[str] | None = None
        self._rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append(("", []))
        elif tag == "caption":
            self._caption = []
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None and self.tables:
            caption = " ".join("".join(self._caption).split())
            self.tables[-1] = (caption, self.tables[-1][1])
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._caption is not None:
            self._caption.append(data)
        if self._cell is not None:
            self._cell.append(data)


def page_tables(page: str) -> list[tuple[str, list[list[str]]]]:
    """The page's tables as (caption, rows of cell texts), in the order they appear."""
    reader = _TableReader()
    reader.feed(page)
    return reader.tables


def table_rows(page: str, caption_starts: str) -> list[list[str]]:
    """The rows of the one table whose caption starts with the given words."""
    found = [rows for caption, rows in page_tables(page) if caption.startswith(caption_starts)]
    assert len(found) == 1, f"{len(found)} tables captioned {caption_starts!r}"
    return found[0]
