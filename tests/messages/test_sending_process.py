"""The sending process: the twilio client in a child process, running the same `send_group`.

What it must keep from the thread: every text once, refusals handled alike, the clock in step.
What is its own: a child that dies leaves its group for recovery, never resent blindly; the
next run starts a new child; a child whose worker is gone sends nothing more.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from messages.dispatch import dispatch_due
from messages.providers.twilio import TwilioProvider
from messages.recovery import recover
from messages.sending import ProcessSender, Sender, ThreadSender, _Orphaned
from messages.throttle import spacing
from nudge.clock import FixedClock
from nudge.models import Message, MessageStatus, SendWindow
from tests.fakes.twilio_server import FakeTwilioServer
from tests.fakes.twilio_state import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN
from tests.messages.sending import FIRST_DUE, PUBLIC, DiesMidGroup, TickingClock, accepted_ids

RATE = 1000  # texts a second: the `texts` fixture's trial (fast_example)


def statuses(session: Session, ids: list[int]) -> Counter[str]:
    session.expire_all()
    return Counter(session.exec(select(Message.status).where(col(Message.id).in_(ids))).all())


def test_a_rate_limit_in_the_sending_process_pauses_the_run_and_every_text_goes_once(
    db_url: str,
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
) -> None:
    fake_twilio.state.now = clock.now
    fake_twilio.state.faults.script = ["ok", "429"]
    client = partial(TwilioProvider, FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=fake_twilio.url)
    sender = ProcessSender(db_url, clock, client)
    try:
        result = dispatch_due(engine, clock, sender, worker="w", public_url=PUBLIC)
    finally:
        sender.close()
    assert (result.sent, result.rate_limited, result.stopped) == (len(texts), 1, None)
    assert accepted_ids(fake_twilio) == Counter({i: 1 for i in texts})
    assert statuses(session, texts) == {MessageStatus.SENT: len(texts)}
    assert clock.now() - FIRST_DUE >= timedelta(seconds=1)  # the pause, on this process's clock


def test_a_sending_process_that_dies_leaves_its_group_to_recovery_and_nothing_goes_twice(
    db_url: str,
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
    tmp_path: Path,
) -> None:
    fake_twilio.state.now = clock.now
    died = tmp_path / "died"
    sender = ProcessSender(db_url, clock, partial(DiesMidGroup, fake_twilio.url, 4, died))
    try:
        with pytest.raises(BrokenProcessPool):
            dispatch_due(engine, clock, sender, worker="w", public_url=PUBLIC)
        assert sum(accepted_ids(fake_twilio).values()) == 3  # three went before it died
        # Which went is unknown here: the whole group waits for recovery, none is resent.
        assert statuses(session, texts) == {MessageStatus.SENDING: len(texts)}

        clock.advance(timedelta(minutes=5))  # past the lease
        lookup = TwilioProvider(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=fake_twilio.url)
        recovered = recover(engine, clock, lookup, PUBLIC)
        assert (recovered.confirmed_sent, recovered.requeued) == (3, len(texts) - 3)
        result = dispatch_due(engine, clock, sender, worker="w", public_url=PUBLIC)
    finally:
        sender.close()
    assert died.exists() and result.sent == len(texts) - 3  # from a new child
    assert accepted_ids(fake_twilio) == Counter({i: 1 for i in texts})
    assert statuses(session, texts) == {MessageStatus.SENT: len(texts)}


class Never:
    def is_set(self) -> bool:
        return False


def test_a_sending_process_stops_when_its_worker_is_gone() -> None:
    assert not _Orphaned(Never(), os.getppid()).is_set()
    assert _Orphaned(Never(), os.getppid() + 1).is_set()  # another parent: ours has died


@pytest.mark.parametrize("where", ["thread", "process"])
def test_on_a_slow_machine_each_missed_slot_is_given_a_new_one_from_either_sender(
    db_url: str,
    engine: Engine,
    session: Session,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
    where: str,
) -> None:
    """Every reading of this clock costs 0.2 s, four times LATE: each text finds its slot
    missed, and the sender reserves new slots (in the database, from its own process too)."""
    clock = TickingClock(FIRST_DUE, timedelta(seconds=0.2))
    client = partial(TwilioProvider, FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=fake_twilio.url)
    sender: Sender = (
        ThreadSender(engine, clock, client())
        if where == "thread"
        else ProcessSender(db_url, clock, client)
    )
    try:
        result = dispatch_due(engine, clock, sender, worker="w", public_url=PUBLIC)
    finally:
        sender.close()
    assert result.sent == len(texts) and result.ambiguous == 0
    assert accepted_ids(fake_twilio) == Counter({i: 1 for i in texts})
    window = session.exec(select(SendWindow)).one()
    sent = sorted(session.exec(select(Message.sent_at).where(col(Message.id).in_(texts))))
    # One reservation would end len(texts) slots after the first; each new slot lies beyond it.
    assert window.next_free_at - sent[0] > 2 * len(texts) * spacing(RATE)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_a_sending_process_is_refused_a_database_only_this_process_can_reach(
    url: str, clock: FixedClock
) -> None:
    client = partial(TwilioProvider, FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN)
    with pytest.raises(ValueError, match="in-memory SQLite"):
        ProcessSender(url, clock, client)
