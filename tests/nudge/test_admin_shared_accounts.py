"""An account in several organisations, as one organisation's admin sees it: disabling (which is
platform-wide) is refused with why and what to do, and nothing changes; instead the admin removes
it from their own organisation, which ends its sessions and is audited, unless that would leave
the organisation with no active admin."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from nudge.clock import FixedClock
from nudge.models import AuditEvent, Membership, Organisation, User
from nudge.organisations import add_membership, add_organisation, organisation_by_slug
from tests.factories import row_counts
from tests.web_helpers import STAFF, add_staff, csrf_token, logged_in, table_rows

SOUTH = {"admin": "sam.admin@example.org", "researcher": "sue.researcher@example.org"}
RITA = STAFF["researcher"]
SOUTH_NAME = "Southshire Victim Service"


@pytest.fixture
def shared(session: Session, clock: FixedClock) -> None:
    """North's staff and South's; Rita is a researcher in both."""
    add_organisation(session, clock, "north", "Northshire Police", "test")
    add_staff(session, clock, "north")
    add_organisation(session, clock, "south", SOUTH_NAME, "test")
    add_staff(session, clock, "south", SOUTH)
    add_membership(
        session,
        account(session, RITA).id or 0,
        organisation_by_slug(session, "south"),
        "researcher",
    )
    session.commit()


def account(session: Session, email: str) -> User:
    session.expire_all()
    return session.exec(select(User).where(User.email == email)).one()


def organisations_of(session: Session, email: str) -> list[tuple[str, str]]:
    session.expire_all()
    return list(
        session.exec(
            select(Organisation.slug, Membership.role)
            .join(Membership, col(Membership.organisation_id) == Organisation.id)
            .join(User, col(User.id) == Membership.user_id)
            .where(User.email == email)
            .order_by(col(Organisation.slug))
        ).all()
    )


def post(client: FlaskClient, path: str, **data: str) -> tuple[int, str]:
    """Post with the CSRF token; the status, and the page a redirect leads to (else its own)."""
    response = client.post(path, data={"csrf_token": csrf_token(client, "/"), **data})
    status = response.status_code
    if status == 302:
        response = client.get(response.headers["Location"])
    return status, response.get_data(as_text=True)


def changes(session: Session) -> dict[str, int]:
    """Every table's rows, but the audit log's looks at accounts (which a redirect makes)."""
    session.expire_all()
    counts = row_counts(session)
    counts["audit_event"] = len(
        session.exec(select(AuditEvent.id).where(col(AuditEvent.action).not_like("%viewed"))).all()
    )
    session.rollback()
    return counts


@pytest.mark.usefixtures("shared")
def test_an_account_another_organisation_shares_is_offered_removal_not_disabling(
    app: Flask, session: Session
) -> None:
    admin = logged_in(app, "admin")
    page = admin.get(f"/admin/users/{account(session, RITA).id}").get_data(as_text=True)
    assert "Remove from Northshire Police" in page
    assert f"This account also belongs to {SOUTH_NAME}." in page
    assert "Disable the account" not in page and "Re-enable the account" not in page
    assert "Make a set-password link" not in page
    # An account of North alone is disabled as before.
    alone = admin.get(f"/admin/users/{account(session, STAFF['lead']).id}").get_data(as_text=True)
    assert "Disable the account" in alone and "Remove from" not in alone


REFUSED = {
    "disable": ("disable", "lock it out of", "to disable it"),
    "enable": ("enable", "let it back into", "to enable it"),
    # Whoever holds the link would log in as her in South too.
    "reset": (
        "make a set-password link for",
        "give whoever holds the link its access to",
        "for a set-password link",
    ),
}


@pytest.mark.usefixtures("shared")
@pytest.mark.parametrize("action", list(REFUSED))
def test_a_platform_wide_change_to_a_shared_account_is_refused_saying_why_and_changes_nothing(
    app: Flask, session: Session, action: str
) -> None:
    rita = account(session, RITA)
    if action == "enable":  # South's admin (or the operator) disabled her
        rita.active = False
        session.commit()
    rita_browser = logged_in(app, "researcher") if action != "enable" else None
    admin = logged_in(app, "admin")
    before = changes(session)
    status, page = post(admin, f"/admin/users/{rita.id}/{action}")
    assert status == 302
    verb, effect, ask = REFUSED[action]
    assert (
        f"You cannot {verb} {RITA}: it also belongs to {SOUTH_NAME}, and that would {effect} "
        f"{SOUTH_NAME} too. Remove it from your organisation instead, or ask Southshire Victim "
        f"Service&#39;s admin or the platform operator {ask}."
    ) in page
    assert changes(session) == before
    rita = account(session, RITA)
    assert rita.active is (action != "enable") and rita.session_epoch == 0
    if rita_browser is not None:
        assert rita_browser.get("/").status_code == 200  # still logged in


@pytest.mark.usefixtures("shared")
def test_removing_a_shared_account_ends_its_sessions_and_leaves_it_in_the_other_organisation(
    app: Flask, session: Session
) -> None:
    rita_browser = logged_in(app, "researcher")
    admin = logged_in(app, "admin")
    rita = account(session, RITA)
    status, page = post(admin, f"/admin/users/{rita.id}/remove", organisation="north")
    assert status == 302
    assert f"{RITA} is no longer in Northshire Police; its sessions have ended." in page
    emails = [row[0] for row in table_rows(page, "2 accounts")[1:]]  # back on the list
    assert sorted(emails) == sorted([STAFF["admin"], STAFF["lead"]])
    assert organisations_of(session, RITA) == [("south", "researcher")]
    rita = account(session, RITA)
    assert (rita.active, rita.session_epoch) == (True, 1)
    assert rita_browser.get("/").status_code == 302  # logged out
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.removed")).one()
    assert (event.actor, event.subject, event.details) == (
        f"web:{STAFF['admin']}",
        "north",
        {"account": RITA, "role": "researcher"},
    )
    # On North's audit log, though she is no longer North's.
    audit = admin.get("/admin/audit?action=user.removed").get_data(as_text=True)
    assert "user.removed" in audit and RITA in audit
    assert admin.get(f"/admin/users/{rita.id}").status_code == 404  # not North's now


@pytest.mark.usefixtures("shared")
def test_removing_from_another_organisation_is_a_404_and_changes_nothing(
    app: Flask, session: Session
) -> None:
    admin = logged_in(app, "admin")
    rita = account(session, RITA)
    before = changes(session)
    for slug in ("south", "west", ""):
        status, _ = post(admin, f"/admin/users/{rita.id}/remove", organisation=slug)
        assert status == (400 if slug == "" else 404), slug
    assert changes(session) == before
    assert organisations_of(session, RITA) == [("north", "researcher"), ("south", "researcher")]


@pytest.mark.usefixtures("shared")
def test_the_only_active_admin_cannot_be_removed_and_nothing_changes(
    app: Flask, session: Session
) -> None:
    ada = account(session, STAFF["admin"])
    add_membership(session, ada.id or 0, organisation_by_slug(session, "south"), "lead")
    session.commit()
    admin = logged_in(app, "admin")
    page = admin.get(f"/admin/users/{ada.id}").get_data(as_text=True)
    assert "Remove from Northshire Police" in page
    before = changes(session)
    status, page = post(admin, f"/admin/users/{ada.id}/remove", organisation="north")
    assert status == 302
    assert (
        f"{STAFF['admin']} cannot be removed from north: it is the only active admin of north. "
        "Make another admin first."
    ) in page
    assert changes(session) == before
    assert organisations_of(session, STAFF["admin"]) == [("north", "admin"), ("south", "lead")]
    assert account(session, STAFF["admin"]).session_epoch == 0


@pytest.mark.usefixtures("shared")
def test_an_admin_of_every_organisation_the_account_is_in_may_disable_it(
    app: Flask, session: Session
) -> None:
    ada = account(session, STAFF["admin"])
    add_membership(session, ada.id or 0, organisation_by_slug(session, "south"), "admin")
    session.commit()
    admin = logged_in(app, "admin")
    rita = account(session, RITA)
    page = admin.get(f"/admin/users/{rita.id}").get_data(as_text=True)
    assert "Disable the account" in page and "Remove from" not in page
    status, page = post(admin, f"/admin/users/{rita.id}/disable")
    assert "The account is disabled and its sessions have ended." in page
    assert account(session, RITA).active is False
