"""The audit log viewer: filters by who, action, trial and date; a CSV of what matches; every
look recorded; nothing shaped like a phone number shown or downloaded."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from flask import Flask
from sqlmodel import Session, col, select

from nudge import audit
from nudge.audit_log import HIDDEN, hide_numbers
from nudge.clock import FixedClock
from nudge.models import AuditEvent, Trial
from nudge.organisations import organisation_for_new
from tests.web_helpers import STAFF, logged_in, table_rows

pytestmark = pytest.mark.usefixtures("staff")  # one person of each role

TRIAL = "witness-reminders-2027"


@pytest.fixture(autouse=True)
def events(app: Flask, session: Session, clock: FixedClock) -> None:
    """Four days of events by several people; the last holds a number typed as an email. The
    trials they name are the admin's organisation's (an admin reads only their own's)."""
    home = organisation_for_new(session, clock, None, "test")
    for trial_id in (TRIAL, "other-trial-2027"):
        session.add(
            Trial(id=trial_id, title=trial_id, organisation_id=home.id, created_at=clock.now())
        )
    events = [
        ("cli:rita", "trial.created", TRIAL, None),
        ("web:rita@example.org", "trial.launched", TRIAL, None),
        ("web:rita@example.org", "messages.viewed", "other-trial-2027", None),
        ("web:192.0.2.7", "login.failed", None, "07700 900123"),  # a number typed as email
    ]
    for actor, action, trial_id, subject in events:
        clock.advance(timedelta(days=1))
        audit.record(session, clock, actor=actor, action=action, trial_id=trial_id, subject=subject)
    session.commit()


def shown(app: Flask, query: str) -> list[list[str]]:
    page = logged_in(app, "admin").get(f"/admin/audit?{query}").get_data(as_text=True)
    return table_rows(page, "Audit events")[1:]


def test_each_filter_narrows_the_log(app: Flask) -> None:
    assert [r[2] for r in shown(app, "who=RITA")] == [
        "messages.viewed",
        "trial.launched",
        "trial.created",
    ]
    assert [r[2] for r in shown(app, "action=trial.launched")] == ["trial.launched"]
    assert [r[2] for r in shown(app, f"trial={TRIAL}")] == ["trial.launched", "trial.created"]
    assert [r[2] for r in shown(app, "since=2027-01-12&until=2027-01-13")] == [
        "messages.viewed",
        "trial.launched",
    ]


def test_a_wildcard_typed_in_who_matches_only_itself(app: Flask) -> None:
    admin = logged_in(app, "admin")
    for who in ("%25", "r_ta"):
        page = admin.get(f"/admin/audit?who={who}").get_data(as_text=True)
        assert "0 events match." in page, who
    assert len(shown(app, "who=rita")) == 3


def test_an_invalid_filter_is_reported_and_the_valid_ones_still_apply(app: Flask) -> None:
    response = logged_in(app, "admin").get("/admin/audit?action=no.such&who=rita")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "<title>Error: Audit log" in page
    assert 'href="#action">Choose an action from the list' in page
    assert len(table_rows(page, "Audit events")) == 1 + 3


def test_a_phone_number_in_the_log_is_hidden_on_the_page_and_in_the_download(
    app: Flask,
) -> None:
    admin = logged_in(app, "admin")
    page = admin.get("/admin/audit?action=login.failed").get_data(as_text=True)
    assert "07700 900123" not in page and HIDDEN in page
    download = admin.get("/admin/audit.csv").get_data(as_text=True)
    assert "07700 900123" not in download and HIDDEN in download


def test_the_download_holds_every_matching_event_oldest_first(app: Flask) -> None:
    response = logged_in(app, "admin").get(f"/admin/audit.csv?trial={TRIAL}")
    assert response.headers["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Time (UTC)", "Who", "Action", "Trial", "Subject", "Details"]
    assert [(r[0], r[2]) for r in rows[1:]] == [
        ("2027-01-11 12:00:00", "trial.created"),
        ("2027-01-12 12:00:00", "trial.launched"),
    ]


def test_every_look_at_the_log_is_itself_recorded_with_its_filters(
    app: Flask, session: Session
) -> None:
    admin = logged_in(app, "admin")
    admin.get("/admin/audit?who=rita")
    admin.get(f"/admin/audit.csv?trial={TRIAL}")
    looks = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.action).startswith("audit."))
        .order_by(col(AuditEvent.id))
    ).all()
    assert [(e.actor, e.action, e.details) for e in looks] == [
        (f"web:{STAFF['admin']}", "audit.viewed", {"who": "rita", "page": 1, "shown": 3}),
        (f"web:{STAFF['admin']}", "audit.downloaded", {"trial_id": TRIAL}),
    ]


@pytest.mark.parametrize(
    "text",
    ["+447700900123", "+44 7700 900123", "07700-900-123", "447700900123", "call 07700900999 now"],
)
def test_phone_numbers_however_written_are_hidden(text: str) -> None:
    assert "7700" not in hide_numbers(text)


@pytest.mark.parametrize(
    "text",
    ["web:192.0.2.7", "2027-01-11T12:00:00+00:00", '{"cancelled": 3, "participant_id": 12}'],
)
def test_addresses_times_and_counts_are_shown_as_they_are(text: str) -> None:
    assert hide_numbers(text) == text
