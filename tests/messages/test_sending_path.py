"""One way to send: the worker's own provider and clock, wherever the clock comes from, and
wherever the provider calls run (a thread of the worker, or the sending process).

Before, a worker chose how to send by asking whether its sleep function *was* `time.sleep`:
any other (a wrapped sleep, a pinned clock's) took a simulated path that moved the clock
through every slot of a group first and then sent the whole group at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from messages.sending import ProcessSender, ThreadSender
from nudge.cli.dispatching import opened, provider_for, run_once, sending
from nudge.cli.runtime import Runtime
from nudge.clock import FixedClock
from nudge.config import load_settings
from nudge.models import Message
from tests.conftest import EXAMPLE, PINNED
from tests.factories import enrol_due_texts, fast_example
from tests.fakes.twilio_server import FakeTwilioServer, nudge_env

FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)
RATE = 5  # texts a second for the trial


def runtime_for(
    db_url: str, engine: Engine, clock: FixedClock, server: FakeTwilioServer
) -> Runtime:
    settings = load_settings({"NUDGE_DATABASE_URL": db_url, **nudge_env(server.url)})
    return Runtime(settings, engine, clock)


def test_nudge_dispatch_sends_from_a_process_of_its_own_with_twilio(
    db_url: str, engine: Engine, fake_twilio: FakeTwilioServer
) -> None:
    runtime = runtime_for(db_url, engine, FixedClock(FIRST_DUE), fake_twilio)
    with opened(provider_for(runtime)) as provider, sending(runtime, provider) as sender:
        assert isinstance(sender, ProcessSender)  # the client's CPU on the other core


@pytest.mark.parametrize("where", ["thread", "process"])
def test_a_worker_on_a_pinned_clock_sends_each_text_at_its_slot_never_in_a_burst(
    db_url: str, engine: Engine, tmp_path: Path, fake_twilio: FakeTwilioServer, where: str
) -> None:
    with Session(engine) as session:
        definition = fast_example(tmp_path, EXAMPLE, per_second=RATE)
        due = enrol_due_texts(session, FixedClock(PINNED), definition, 20, FIRST_DUE)
    clock = FixedClock(FIRST_DUE)
    runtime = runtime_for(db_url, engine, clock, fake_twilio)
    with opened(provider_for(runtime)) as provider, sending(runtime, provider) as sender:
        if where == "thread":  # the process `nudge dispatch` sends from, or a thread of ours
            sender = ThreadSender(engine, clock, provider)
        _recovered, sent = run_once(runtime, provider, sender)
    assert sent.sent == len(due) >= 10
    assert len(fake_twilio.state.messages) == len(due)  # each went once
    with Session(engine) as session:
        texts = select(Message.sent_at).where(col(Message.sent_at).is_not(None))
        stamped = [at for at in session.exec(texts.order_by(col(Message.sent_at))) if at]
    gaps = [later - earlier for earlier, later in zip(stamped, stamped[1:], strict=False)]
    assert min(gaps) >= timedelta(seconds=1 / RATE)  # never faster than the trial's rate
    assert clock.now() >= stamped[-1]  # the clock waited, and says so, in either process
