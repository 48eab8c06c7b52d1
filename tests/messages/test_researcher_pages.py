"""The opt-outs, as a researcher sees them, and the helpers the other page tests share (the
message log: test_message_log.py; replies: test_reply_queue.py)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from messages.intake import enrol_and_plan
from messages.replies import handle_reply
from nudge.clock import FixedClock
from nudge.models import AuditEvent
from tests.experiments.test_trial_pages import page_text
from tests.factories import launch, person, write_people

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
