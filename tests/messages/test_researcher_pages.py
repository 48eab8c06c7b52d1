"""The message log and the opt-outs, as a researcher sees them (replies: test_reply_queue.py)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from messages.intake import enrol_and_plan
from messages.log import PER_PAGE
from messages.replies import handle_reply
from nudge.clock import FixedClock
from nudge.models import Arm, Assignment, AuditEvent, Message, Participant
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


def log(client: FlaskClient, query: str = "") -> str:
    response = client.get(f"/trials/{TRIAL}/messages{query}")
    assert response.status_code == 200, page_text(response)
    return page_text(response)


def total_shown(text: str) -> int:
    marker = " match."
    before = text[: text.index(marker)]
    return int(before.rsplit(" ", 2)[-2].replace(",", ""))


def test_the_log_shows_references_and_counts_by_status_but_no_names_or_numbers(
    researcher: FlaskClient, session: Session
) -> None:
    messages = session.exec(select(Message).where(Message.trial_id == TRIAL)).all()
    counts = Counter(m.status for m in messages)
    text = log(researcher)
    for status, n in counts.items():
        assert f"{n} {status}" in text
    assert total_shown(text) == len(messages) > PER_PAGE
    assert "P00002" in text or "P00001" in text
    assert "McTestface" not in text and "07700" not in text and "+44" not in text
    assert "Page 1 of 2" in text


def test_the_second_page_holds_the_rest(researcher: FlaskClient, session: Session) -> None:
    total = len(session.exec(select(Message.id).where(Message.trial_id == TRIAL)).all())
    second = researcher.get(f"/trials/{TRIAL}/messages?page=2").get_data(as_text=True)
    assert second.count('<th scope="row">') == total - PER_PAGE
    assert "Page 2 of 2" in page_text(researcher.get(f"/trials/{TRIAL}/messages?page=2"))


def expected(session: Session, **where: object) -> int:
    query = (
        select(Message, Participant.participant_ref, Arm.key)
        .join(Participant, col(Participant.id) == Message.participant_id)
        .join(Assignment, col(Assignment.participant_id) == Message.participant_id)
        .join(Arm, col(Arm.id) == Assignment.arm_id)
        .where(Message.trial_id == TRIAL)
    )
    found = 0
    for message, ref, arm in session.exec(query).all():
        local_day = message.due_at.astimezone(LONDON).date()
        checks = {
            "status": message.status,
            "channel": message.channel,
            "arm": arm,
            "reason": message.reason,
            "ref": ref,
        }
        if all(checks[k] == v for k, v in where.items() if k in checks) and (
            "day" not in where or local_day == where["day"]
        ):
            found += 1
    return found


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("?status=skipped", {"status": "skipped"}),
        ("?channel=letter", {"channel": "letter"}),
        ("?arm=practical", {"arm": "practical"}),
        ("?arm=social_norm&channel=sms", {"arm": "social_norm", "channel": "sms"}),
        ("?reason=late_enrolment", {"reason": "late_enrolment"}),
        ("?due_from=2027-03-10&due_to=2027-03-10", {"day": date(2027, 3, 10)}),
    ],
)
def test_each_filter_narrows_the_log_to_what_the_database_holds(
    researcher: FlaskClient, session: Session, query: str, where: dict[str, object]
) -> None:
    want = expected(session, **where)
    assert want > 0
    assert total_shown(log(researcher, query)) == want


def test_a_reference_filter_shows_one_persons_messages_and_audits_their_id_not_reference(
    researcher: FlaskClient, session: Session
) -> None:
    ref = session.exec(
        select(Participant.participant_ref)
        .join(Message, col(Message.participant_id) == Participant.id)
        .order_by(col(Participant.participant_ref))
    ).first()
    assert ref is not None
    text = log(researcher, f"?ref={ref}&channel=sms")
    assert total_shown(text) == expected(session, ref=ref, channel="sms")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "messages.viewed")).one()
    participant_id = session.exec(
        select(Participant.id).where(Participant.participant_ref == ref)
    ).one()
    assert event.actor == "web:rita@example.org" and event.trial_id == TRIAL
    assert event.details["filters"] == {
        "channel": "sms",
        "participant_ref": f"participant ids [{participant_id}]",
    }
    assert ref not in json.dumps(event.details)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?status=lost", "Status: Invalid value, must be one of"),
        ("?due_from=yesterday", "Due from: Not a valid date value"),
        ("?due_from=2027-03-10&due_to=2027-03-01", "the end date is before the start date"),
        ("?reason=drop%20table", "Reason code: not a reason code such as opted_out"),
    ],
)
def test_a_bad_filter_is_explained_and_the_whole_log_shown(
    researcher: FlaskClient, session: Session, query: str, message: str
) -> None:
    response = researcher.get(f"/trials/{TRIAL}/messages{query}")
    assert response.status_code == 400
    text = page_text(response)
    assert message in text and "All messages are shown instead." in text
    total = len(session.exec(select(Message.id).where(Message.trial_id == TRIAL)).all())
    assert total_shown(text) == total


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
