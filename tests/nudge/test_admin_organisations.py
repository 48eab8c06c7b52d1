"""An organisation's admin manages its own accounts only: the list holds its staff, an account of
another organisation is a 404 whatever is asked of it (and nothing changes), a new account
joins the admin's organisation, and the last admin rule holds in each organisation."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from nudge.clock import FixedClock
from nudge.models import Membership, Organisation, User
from nudge.organisations import add_organisation
from tests.factories import row_counts
from tests.web_helpers import STAFF, add_staff, csrf_token, logged_in, role_of, table_rows

SOUTH = {"admin": "sam.admin@example.org", "researcher": "sue.researcher@example.org"}


@pytest.fixture
def two_areas(session: Session, clock: FixedClock) -> None:
    add_organisation(session, clock, "north", "Northshire Police", "test")
    add_staff(session, clock, "north")
    add_organisation(session, clock, "south", "Southshire Victim Service", "test")
    add_staff(session, clock, "south", SOUTH)


def user_id(session: Session, email: str) -> int:
    found = session.exec(select(User.id).where(User.email == email)).one()
    assert found is not None
    return found


def post(client: FlaskClient, path: str, **data: str) -> int:
    return client.post(path, data={"csrf_token": csrf_token(client, "/"), **data}).status_code


@pytest.mark.usefixtures("two_areas")
def test_the_accounts_list_holds_only_the_admins_organisation(app: Flask) -> None:
    page = logged_in(app, "admin").get("/admin/users").get_data(as_text=True)
    emails = [row[0] for row in table_rows(page, "3 accounts")[1:]]
    assert sorted(emails) == sorted(STAFF.values())
    assert "Northshire Police" in page and "Southshire" not in page


@pytest.mark.usefixtures("two_areas")
def test_another_organisations_account_is_a_404_and_nothing_changes(
    app: Flask, session: Session
) -> None:
    admin = logged_in(app, "admin")
    sue = user_id(session, SOUTH["researcher"])
    before = row_counts(session)
    session.rollback()
    assert admin.get(f"/admin/users/{sue}").status_code == 404
    for action, data in (
        ("role", {"role": "lead"}),
        ("disable", {}),
        ("enable", {}),
        ("unlock", {}),
        ("reset", {}),
    ):
        assert post(admin, f"/admin/users/{sue}/{action}", **data) == 404, action
    assert row_counts(session) == before
    assert role_of(session, SOUTH["researcher"]) == "researcher"


@pytest.mark.usefixtures("two_areas")
def test_a_new_account_joins_the_admins_organisation(app: Flask, session: Session) -> None:
    admin = logged_in(app, "admin")
    response = admin.post(
        "/admin/users/new",
        data={"email": "ned@example.org", "role": "lead", "csrf_token": csrf_token(admin, "/")},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    joined = session.exec(
        select(Organisation.slug, Membership.role)
        .join(Membership, col(Membership.organisation_id) == Organisation.id)
        .join(User, col(User.id) == Membership.user_id)
        .where(User.email == "ned@example.org")
    ).all()
    assert joined == [("north", "lead")]
    # Another organisation's short name, slipped into the form, is refused.
    smuggled = admin.post(
        "/admin/users/new",
        data={
            "email": "eve@example.org",
            "role": "admin",
            "organisation": "south",
            "csrf_token": csrf_token(admin, "/"),
        },
    )
    assert smuggled.status_code == 400
    assert session.exec(select(User).where(User.email == "eve@example.org")).first() is None


@pytest.mark.usefixtures("two_areas")
def test_each_organisation_keeps_its_own_last_admin(app: Flask, session: Session) -> None:
    admin = logged_in(app, "admin")
    ada = user_id(session, STAFF["admin"])
    page = admin.post(
        f"/admin/users/{ada}/role",
        data={"role": "lead", "csrf_token": csrf_token(admin, "/")},
        follow_redirects=True,
    ).get_data(as_text=True)
    # South has an admin; North's only one cannot step down.
    assert "it is the only active admin of north" in page
    assert role_of(session, STAFF["admin"]) == "admin"
