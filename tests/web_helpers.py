"""Helpers for tests that drive the web app through its test client as a logged-in person."""

from __future__ import annotations

import re
from functools import cache

from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from nudge.clock import Clock
from nudge.config import load_settings
from nudge.models import User
from nudge.web import create_app
from tests.conftest import PINNED

PASSWORD = "correct horse battery"
STAFF = {"admin": "ada@example.org", "researcher": "rita@example.org", "lead": "lee@example.org"}


def make_app(db_url: str) -> Flask:
    return create_app(
        load_settings({"NUDGE_DATABASE_URL": db_url, "NUDGE_NOW": PINNED.isoformat()})
    )


@cache
def _password_hash() -> str:
    """Hashed once per test run: argon2 is slow on purpose, and these tests are about pages."""
    return PasswordHasher().hash(PASSWORD)


def add_staff(session: Session, clock: Clock) -> None:
    """One person of each role, emails as in STAFF (what `nudge users add` stores)."""
    for role, email in STAFF.items():
        session.add(
            User(email=email, password_hash=_password_hash(), role=role, created_at=clock.now())
        )
    session.commit()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def logged_in(app: Flask, role: str) -> FlaskClient:
    """A test client logged in as the staff member with that role."""
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": STAFF[role], "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client
