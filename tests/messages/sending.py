"""Sending through the real twilio client against the fake Twilio server, as the tests share it.

Twelve people's first texts (the `texts` fixture in tests/messages/conftest.py) go out at
FIRST_DUE, 18:00 a week before their hearings; `send_due` runs one dispatch as a worker does.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from messages.dispatch import DispatchResult, dispatch_due
from messages.providers.base import OutgoingSms, SendReceipt, SentRecord
from messages.providers.twilio import TIMEOUT_S, TwilioProvider
from nudge.clock import FixedClock
from nudge.models import Message, Participant
from tests.conftest import Cli
from tests.fakes.twilio_server import FakeTwilioServer, nudge_env
from tests.fakes.twilio_state import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN

FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)
PUBLIC = "https://nudge.example"


def twilio_provider(
    fake: FakeTwilioServer,
    clock: FixedClock,
    token: str = FAKE_AUTH_TOKEN,
    timeout: float = TIMEOUT_S,
) -> TwilioProvider:
    """The real client against `fake`, whose records then carry `clock`'s (pinned) time.

    The production time-out unless told: only a test that makes the fake hang needs a short
    one, and a short one is all a busy machine needs to turn an ordinary reply into a hang.
    """
    fake.state.now = clock.now
    return TwilioProvider(FAKE_ACCOUNT_SID, token, base_url=fake.url, timeout=timeout)


def hasty_provider(fake: FakeTwilioServer, clock: FixedClock) -> TwilioProvider:
    """For a test that makes the fake hang: a 1 s time-out, and the fake hangs for 5 s."""
    fake.state.faults.hang_seconds = 5
    return twilio_provider(fake, clock, timeout=1)


def send_due(
    engine: Engine, clock: FixedClock, provider: TwilioProvider, public_url: str = PUBLIC
) -> DispatchResult:
    """One dispatch run, as the worker `w` does it."""
    return dispatch_due(engine, clock, provider, worker="w", public_url=public_url)


def addressee(session: Session, message_id: int) -> tuple[Message, Participant]:
    """A stored message and the person it is for."""
    message = session.get(Message, message_id)
    assert message is not None
    participant = session.get(Participant, message.participant_id)
    assert participant is not None
    return message, participant


def accepted_ids(fake: FakeTwilioServer) -> Counter[int]:
    """How many times Twilio accepted each of our messages."""
    return Counter(fake.state.our_message_ids())


def dispatch_through(cli: Cli, fake: FakeTwilioServer) -> None:
    """Point `nudge dispatch` at `fake`, everyone's clock pinned at FIRST_DUE."""
    fake.state.now = lambda: FIRST_DUE
    cli.env.update({**nudge_env(fake.url, PUBLIC), "NUDGE_NOW": FIRST_DUE.isoformat()})


class DiesMidGroup:
    """For the sending process: the real client against the fake, whose process ends without
    a word (as under the kernel's OOM killer) when asked for its `dies_at`-th text; once, as
    `died` then records."""

    def __init__(self, url: str, dies_at: int, died: Path) -> None:
        self.client = TwilioProvider(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=url)
        self.dies_at, self.asked, self.died = dies_at, 0, died

    def send(self, sms: OutgoingSms) -> SendReceipt:
        self.asked += 1
        if self.asked == self.dies_at and not self.died.exists():
            self.died.touch()
            os._exit(9)
        return self.client.send(sms)

    def find_sent(self, to: str, since: datetime) -> list[SentRecord]:
        return self.client.find_sent(to, since)


class TickingClock(FixedClock):
    """A pinned clock that moves on `step` each time it is read, as if each step of the work
    took that long: a slow machine, deterministically (it pickles, so a sending process gets
    one too)."""

    def __init__(self, at: datetime, step: timedelta) -> None:
        super().__init__(at)
        self.step = step

    def now(self) -> datetime:
        self.advance(self.step)
        return super().now()
