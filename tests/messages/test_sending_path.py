"""One way to send: the worker's own provider and clock, wherever the clock comes from.

Before, a worker chose how to send by asking whether its sleep function *was* `time.sleep`:
any other (a wrapped sleep, a pinned clock's) took a simulated path that moved the clock
through every slot of a group first and then sent the whole group at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from nudge.cli.dispatching import opened, provider_for, run_once
from nudge.cli.runtime import Runtime
from nudge.clock import FixedClock
from nudge.config import load_settings
from tests.conftest import EXAMPLE, PINNED
from tests.factories import enrol_due_texts, fast_example
from tests.fakes.twilio_server import FakeTwilioServer, nudge_env

FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)
RATE = 5  # texts a second for the trial


def test_a_worker_on_a_pinned_clock_sends_each_text_at_its_slot_never_in_a_burst(
    db_url: str, engine: Engine, tmp_path: Path, fake_twilio: FakeTwilioServer
) -> None:
    with Session(engine) as session:
        definition = fast_example(tmp_path, EXAMPLE, per_second=RATE)
        due = enrol_due_texts(session, FixedClock(PINNED), definition, 20, FIRST_DUE)
    clock = FixedClock(FIRST_DUE)
    fake_twilio.state.now = clock.now  # Twilio stamps what it accepts by the worker's clock
    settings = load_settings({"NUDGE_DATABASE_URL": db_url, **nudge_env(fake_twilio.url)})
    runtime = Runtime(settings, engine, clock)
    with opened(provider_for(runtime)) as provider:  # the provider `nudge dispatch` uses
        _recovered, sent = run_once(runtime, provider)
    assert sent.sent == len(due) >= 10
    with fake_twilio.state.lock:
        accepted = sorted(datetime.fromisoformat(m["_created"]) for m in fake_twilio.state.messages)
    gaps = [later - earlier for earlier, later in zip(accepted, accepted[1:], strict=False)]
    assert min(gaps) >= timedelta(seconds=1 / RATE)  # never faster than the trial's rate
    assert clock.now() >= accepted[-1]  # the clock waited, and says so
