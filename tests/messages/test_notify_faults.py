"""Notify failing at random, every way it can, over a thousand-odd texts: none dropped silently.

As test_provider_faults.py does for Twilio: the fake Notify answers sends with 429 and 500,
hangs past the client's timeout (with and without having recorded the text), drops
connections, answers slowly and with truncated JSON, all at random; two numbers are refused
for good. The real client sends; recovery (by reference) and dispatch run round after round on
a simulated clock until nothing is left to do. Then every text is sent, accepted by Notify
exactly once under its own reference, or failed with a reason and accepted never.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from messages.providers.notify import NotifyProvider
from messages.recovery import recover
from nudge.clock import FixedClock
from nudge.models import Message, Participant
from tests.conftest import EXAMPLE, PINNED
from tests.factories import enrol_due_texts, fast_example
from tests.fakes.notify_server import FakeNotifyServer
from tests.fakes.notify_state import (
    FAKE_API_KEY,
    FAKE_TEMPLATE_ID,
    FakeNotifyState,
    NotifyFaults,
)
from tests.messages.sending import FIRST_DUE, PUBLIC, send_due

PEOPLE = 1_500
RATES = {
    "429": 0.03,
    "500": 0.05,
    "hang": 0.01,
    "lost_reply": 0.01,
    "drop": 0.02,
    "slow": 0.02,
    "malformed": 0.03,
}
AMBIGUOUS = ("hang", "lost_reply", "drop", "malformed")
RECORDED = ("lost_reply", "malformed")
REFUSED = ("+447700900013", "+447700900014")
SEED = 11


def test_random_notify_faults_end_every_text_sent_once_or_failed_with_a_reason(
    engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        definition = fast_example(tmp_path, EXAMPLE)
        due = set(enrol_due_texts(session, FixedClock(PINNED), definition, PEOPLE, FIRST_DUE))
    assert len(due) >= 900
    clock = FixedClock(FIRST_DUE)
    state = FakeNotifyState(now=clock.now)
    state.faults = NotifyFaults(rates=RATES, seed=SEED, slow_seconds=0.2, hang_seconds=2)
    for number in REFUSED:
        state.reject(number, "ValidationError", "phone_number Not a UK mobile number")
    ambiguous = confirmed = rounds = 0
    with FakeNotifyServer(state) as fake:
        sending = NotifyProvider(FAKE_API_KEY, FAKE_TEMPLATE_ID, base_url=fake.url, timeout=0.5)
        asking = NotifyProvider(FAKE_API_KEY, FAKE_TEMPLATE_ID, base_url=fake.url)
        while _unfinished(engine, due) and rounds < 40:
            confirmed += recover(engine, clock, asking, PUBLIC).confirmed_sent
            ambiguous += send_due(engine, clock, sending).ambiguous
            clock.advance(timedelta(minutes=10))
            rounds += 1
        sends = state.requests["POST sms"]
    assert not _unfinished(engine, due), f"texts still in flight after {rounds} rounds"
    replayed = NotifyFaults(rates=RATES, seed=SEED)
    met = Counter(replayed.next() for _ in range(sends))
    assert all(met[kind] for kind in RATES)  # every fault happened
    assert ambiguous >= sum(met[kind] for kind in AMBIGUOUS)
    assert confirmed >= sum(met[kind] for kind in RECORDED)
    by_reference = Counter(state.our_message_ids())
    assert max(by_reference.values()) == 1  # nothing sent twice
    with Session(engine) as session:
        final = session.exec(select(Message).where(col(Message.id).in_(due))).all()
        phones = dict(session.exec(select(Participant.id, Participant.phone)).all())
    ids = {n["reference"]: n["id"] for n in state.notifications}
    for message in final:
        if message.status == "sent":  # held by exactly its own notification
            assert message.provider_id == ids[str(message.id)], message.id
        else:  # nothing lost: only the refused numbers failed, each with its reason
            assert phones[message.participant_id] in REFUSED, message.id
            assert (message.status, message.reason) == ("failed", "invalid_number")
            assert str(message.id) not in ids
    assert {str(m.id) for m in final if m.status == "sent"} == set(ids)


def _unfinished(engine: Engine, due: set[int]) -> int:
    with Session(engine) as session:
        return len(
            session.exec(
                select(Message.id).where(
                    col(Message.id).in_(due),
                    col(Message.status).in_(["scheduled", "claimed", "sending", "unknown"]),
                )
            ).all()
        )
