"""Event texts in flight when a worker is killed with SIGKILL: after recovery each went once.

A court list moves every hearing at once, so hundreds of "your date has changed" texts fall due
together; a worker is killed mid-batch and another recovers and finishes, with the console
provider and with the real twilio client against the fake Twilio server (the sinks of
test_crash_dispatch.py), on the engine under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.db import make_engine
from nudge.models import Message
from nudge.models.statuses import Timing
from tests.conftest import EXAMPLE_TRIAL, PINNED
from tests.factories import launch, person, write_people
from tests.messages.journeys import court_list, journey_example
from tests.messages.test_crash_dispatch import FIRST_DUE, Sink, kill_mid_batch_then_finish, sink

PEOPLE = 450
__all__ = ["sink"]  # the fixture, shared with test_crash_dispatch.py


def moved_texts_due(db_url: str, tmp_path: Path) -> set[int]:
    """Enrol PEOPLE people (a case each), then move every hearing at FIRST_DUE: the ids of the
    texts telling of the move, all due at once (the moved reminders are planned for later)."""
    engine = make_engine(db_url)
    with Session(engine) as session:
        clock = FixedClock(PINNED)
        launch(session, clock, journey_example(tmp_path))
        rows = [person(i, case_ref=f"C{i}") for i in range(PEOPLE)]
        enrol_and_plan(session, clock, EXAMPLE_TRIAL, write_people(tmp_path / "p.csv", rows), "t")
        session.commit()
        clock.set(FIRST_DUE)
        moves = [(f"C{i}", "2027-03-18T10:00", "adjourned") for i in range(PEOPLE)]
        court_list(session, clock, tmp_path / "court-list.csv", *moves)
        due = set(
            session.exec(
                select(Message.id).where(
                    Message.timing == Timing.HEARING_MOVED,
                    Message.status == "scheduled",
                    col(Message.due_at) <= FIRST_DUE,
                )
            ).all()
        )
        every_due = session.exec(
            select(Message.id).where(
                Message.status == "scheduled", col(Message.due_at) <= FIRST_DUE
            )
        ).all()
    engine.dispose()
    assert due and set(every_due) == due, "only the texts about the move are due"
    return {message_id for message_id in due if message_id is not None}


@pytest.mark.parametrize("kill_after", [5, 60])
def test_a_worker_killed_while_telling_of_moves_sends_each_text_once(
    db_url: str, tmp_path: Path, kill_after: int, sink: Sink
) -> None:
    kill_mid_batch_then_finish(db_url, sink, kill_after, moved_texts_due(db_url, tmp_path))
