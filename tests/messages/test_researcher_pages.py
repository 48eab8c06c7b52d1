"""The replies inbox and the opt-outs, as a researcher sees them (the message log:
test_message_log.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from messages.intake import enrol_and_plan
from messages.replies import handle_reply
from nudge.clock import FixedClock
from nudge.models import AuditEvent, InboundMessage
from tests.experiments.test_trial_pages import page_text
from tests.factories import launch, person, write_people
from tests.web_helpers import csrf_token

TRIAL = "witness-reminders-2027"
LONDON = ZoneInfo("Europe/London")
PEOPLE = 60


@pytest.fixture
def enrolled(session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path) -> None:
    """The example trial, live, with 60 fictional witnesses at four hearing dates."""
    launch(session, clock, example_dir / "witness-reminders.yaml")
    days = ("2027-03-04T10:00", "2027-03-11T10:00", "2027-01-11T10:00", "2027-02-01T10:00")
    rows = [person(n, hearing_start=days[n % 4]) for n in range(1, PEOPLE + 1)]
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "people.csv", rows), "t")
    session.commit()


pytestmark = pytest.mark.usefixtures("enrolled", "staff")


def reply(session: Session, clock: FixedClock, n: int, body: str) -> None:
    handle_reply(
        session,
        clock,
        provider_id=f"SM{n:032d}",
        from_number=f"+447700900{n:03d}",
        to_number="+447700900000",
        body=body,
    )
    session.commit()


def test_replies_for_staff_are_listed_in_the_trials_time_and_can_be_marked_handled(
    app: Flask, researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    reply(session, clock, 3, "Can I bring my daughter with me?")
    reply(session, clock, 5, "STOP")
    clock.advance(timedelta(hours=1))
    reply(session, clock, 7, "HELP")
    text = page_text(researcher.get("/replies"))
    assert "1 reply." in text
    assert "Sun 10 Jan 2027 12:00 GMT P00003 witness-reminders-2027 Can I bring my daughter" in text
    assert "STOP" not in text.split("1 reply.")[1] and "07700" not in text
    inbound = session.exec(select(InboundMessage).where(InboundMessage.kind == "other")).one()
    path = f"/replies/{inbound.id}/handled"
    assert researcher.post(path).status_code == 400
    app.extensions["nudge"]["clock"].advance(timedelta(hours=1, minutes=30))
    done = researcher.post(path, data={"csrf_token": csrf_token(researcher, "/replies")})
    assert done.status_code == 302
    session.expire_all()
    handled = session.get(InboundMessage, inbound.id)
    assert handled is not None and handled.handled_by == "web:rita@example.org"
    assert handled.handled_at == datetime(2027, 1, 10, 13, 30, tzinfo=LONDON)
    assert "0 replies." in page_text(researcher.get("/replies"))
    text = page_text(researcher.get("/replies?show=handled"))
    assert "10 Jan 2027 13:30 GMT by web:rita@example.org" in text
    actions = session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
    assert actions.count("replies.viewed") == 4 and "reply.handled" in actions


def test_marking_an_unknown_reply_handled_is_not_found(researcher: FlaskClient) -> None:
    token = csrf_token(researcher, "/replies")
    assert researcher.post("/replies/999/handled", data={"csrf_token": token}).status_code == 404


def test_opt_outs_show_a_masked_number_its_participants_when_and_the_keyword(
    researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    reply(session, clock, 3, "quit please")
    text = page_text(researcher.get("/opt-outs"))
    assert "1 number opted out." in text
    assert (
        "ending 003 P00003 (witness-reminders-2027) Sun 10 Jan 2027 12:00 GMT replied QUIT" in text
    )
    assert "900003" not in text
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "opt_outs.viewed")).one()
    assert event.actor == "web:rita@example.org" and event.details == {"page": 1, "shown": 1}
