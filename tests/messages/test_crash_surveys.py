"""Survey questions in flight when a worker is killed with SIGKILL: after recovery each person
was asked once, with the console provider and the real twilio client against the fake Twilio
server (the sinks of test_crash_dispatch.py), on the engine under test."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.db import make_engine
from nudge.models import Message
from tests.conftest import EXAMPLE_TRIAL, PINNED
from tests.factories import launch, person, write_people
from tests.messages.survey_factories import survey_trial
from tests.messages.test_crash_dispatch import FIRST_DUE, Sink, kill_mid_batch_then_finish, sink

PEOPLE = 300
__all__ = ["sink"]  # the fixture, shared with test_crash_dispatch.py


def questions_due(db_url: str, tmp_path: Path) -> set[int]:
    """PEOPLE people asked both questions five days before a hearing on 2 March 2027, at 18:00
    on 25 February (FIRST_DUE); the ids of every text due then (the week-before reminders too)."""
    path = survey_trial(tmp_path)
    path.write_text(
        path.read_text().replace(
            'send: {days_after: 2, of: hearing, at: "10:00"}', 'send: {days_before: 5, at: "18:00"}'
        )
    )
    engine = make_engine(db_url)
    with Session(engine) as session:
        clock = FixedClock(PINNED)
        launch(session, clock, path)
        rows = [
            person(i, case_ref=f"C{i}", hearing_start="2027-03-02T10:00") for i in range(PEOPLE)
        ]
        enrol_and_plan(session, clock, EXAMPLE_TRIAL, write_people(tmp_path / "p.csv", rows), "t")
        session.commit()
        due = session.exec(
            select(Message.id, Message.template).where(
                Message.status == "scheduled",
                Message.channel == "sms",
                col(Message.due_at) <= FIRST_DUE,
            )
        ).all()
    engine.dispose()
    asked = [template for _, template in due if template.startswith("survey:")]
    assert len(asked) == 2 * PEOPLE and not any(t.endswith(":reminder") for t in asked)
    return {message_id for message_id, _ in due if message_id is not None}


def test_a_worker_killed_while_asking_a_survey_asks_each_person_once(
    db_url: str, tmp_path: Path, sink: Sink
) -> None:
    kill_mid_batch_then_finish(db_url, sink, 60, questions_due(db_url, tmp_path))
