"""A worker killed with SIGKILL mid-batch: after recovery every text went once, none lost.

Run with the console provider, with the real twilio client against the local fake Twilio
server, and with the real Notify client against the local fake Notify (recovery asks it by
reference), each fake counting what it accepted; on the engine under test (SQLite or PostgreSQL).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest
from sqlmodel import Session, col, select

from nudge.clock import FixedClock
from nudge.db import make_engine
from nudge.models import Message
from tests.conftest import EXAMPLE, PINNED, ROOT
from tests.factories import enrol_due_texts, fast_example
from tests.fakes import notify_server
from tests.fakes.notify_server import FakeNotifyServer
from tests.fakes.notify_state import FakeNotifyState
from tests.fakes.twilio_server import FakeTwilioServer, nudge_env
from tests.fakes.twilio_state import FakeTwilioState

FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)


class Sink(Protocol):
    """Where a provider's texts end up, and which of our message ids got there."""

    env: dict[str, str]

    def sent(self) -> list[int]: ...

    def slow_down(self, slow: bool) -> None: ...


class ConsoleSink:
    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.env = {"NUDGE_OUTBOX_DIR": str(outbox)}

    def sent(self) -> list[int]:
        path = self.outbox / "sms-2027-02-25.jsonl"
        if not path.exists():
            return []
        lines = path.read_text().splitlines()
        return [json.loads(line)["message_id"] for line in lines if line.endswith("}")]

    def slow_down(self, slow: bool) -> None:
        pass  # the console is fast enough to stop mid-batch anyway


class TwilioSink:
    def __init__(self, fake: FakeTwilioServer) -> None:
        self.fake = fake
        self.env = nudge_env(fake.url)

    def sent(self) -> list[int]:
        return self.fake.state.our_message_ids()

    def slow_down(self, slow: bool) -> None:
        self.fake.state.faults.delay = 0.01 if slow else 0.0  # so the kill lands mid-batch


class NotifySink:
    def __init__(self, fake: FakeNotifyServer) -> None:
        self.fake = fake
        self.env = notify_server.nudge_env(fake.url)

    def sent(self) -> list[int]:
        return self.fake.state.our_message_ids()

    def slow_down(self, slow: bool) -> None:
        self.fake.state.faults.delay = 0.01 if slow else 0.0


@pytest.fixture(params=["console", "twilio", "notify"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sink]:
    if request.param == "console":
        yield ConsoleSink(tmp_path / "outbox")
        return
    if request.param == "notify":
        with FakeNotifyServer(FakeNotifyState(now=lambda: FIRST_DUE)) as notify:
            yield NotifySink(notify)
        return
    with FakeTwilioServer(FakeTwilioState(now=lambda: FIRST_DUE)) as fake:
        yield TwilioSink(fake)


def run_dispatch(db_url: str, sink: Sink, now: datetime) -> subprocess.Popen[bytes]:
    env = {**os.environ, **sink.env, "NUDGE_DATABASE_URL": db_url, "NUDGE_NOW": now.isoformat()}
    return subprocess.Popen(
        [sys.executable, "-m", "nudge", "dispatch"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def kill_mid_batch_then_finish(db_url: str, sink: Sink, kill_after: int, due: set[int]) -> None:
    """A worker killed with SIGKILL once `kill_after` texts went; another recovers and finishes:
    then every one of `due` went exactly once and is on record as sent."""
    sink.slow_down(True)
    worker = run_dispatch(db_url, sink, FIRST_DUE)
    deadline = time.monotonic() + 240  # a loaded machine starts Python slowly
    while len(sink.sent()) < kill_after and worker.poll() is None:
        assert time.monotonic() < deadline, "the worker never got going"
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    assert len(sink.sent()) < len(due), "killed too late to test anything"

    sink.slow_down(False)
    after = run_dispatch(db_url, sink, FIRST_DUE + timedelta(minutes=10))
    _out, err = after.communicate(timeout=180)
    assert after.returncode == 0, err.decode()

    sends = Counter(sink.sent())
    assert set(sends) == due and max(sends.values()) == 1
    engine = make_engine(db_url)
    with Session(engine) as session:
        states = Counter(session.exec(select(Message.status).where(col(Message.id).in_(due))).all())
    engine.dispose()
    assert states == {"sent": len(due)}


@pytest.mark.parametrize("kill_after", [5, 60, 150])
def test_a_worker_killed_mid_batch_sends_nothing_twice_and_loses_nothing(
    db_url: str, tmp_path: Path, kill_after: int, sink: Sink
) -> None:
    engine = make_engine(db_url)
    with Session(engine) as session:
        definition = fast_example(tmp_path, EXAMPLE)
        due = set(enrol_due_texts(session, FixedClock(PINNED), definition, 450, FIRST_DUE))
    engine.dispose()
    kill_mid_batch_then_finish(db_url, sink, kill_after, due)


SCALE_PEOPLE = 15_000  # about 10,000 texts due at once
KILLS = 4


def test_rounds_of_sigkill_over_ten_thousand_texts_send_each_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    """Workers killed at random points, round after round, against the fake Twilio server;
    each new worker first recovers what the last one left. 15,000 people share the thousand
    drama numbers, so identical texts to one number are common: recovery must tell them apart.
    """
    engine = make_engine(db_url)
    with Session(engine) as session:
        definition = fast_example(tmp_path, EXAMPLE)
        clock = FixedClock(PINNED)
        due = set(enrol_due_texts(session, clock, definition, SCALE_PEOPLE, FIRST_DUE))
    assert len(due) >= 10_000
    rng = random.Random(20270225)
    rounds = [FIRST_DUE + timedelta(minutes=3 * n) for n in range(KILLS + 1)]
    now = rounds[0]
    # Twilio's clock moves with ours: each round starts past the dead worker's lease.
    with FakeTwilioServer(FakeTwilioState(now=lambda: now)) as fake:
        sink = TwilioSink(fake)
        for now in rounds[:-1]:
            accepted = len(fake.state.messages)
            target = accepted + rng.randint(50, len(due) // (KILLS + 1))  # a random point
            worker = run_dispatch(db_url, sink, now)
            deadline = time.monotonic() + 240
            while len(fake.state.messages) < target and worker.poll() is None:
                assert time.monotonic() < deadline, "the worker never got going"
                time.sleep(0.05)
            worker.send_signal(signal.SIGKILL)
            worker.communicate(timeout=30)
        assert len(fake.state.messages) < len(due), "the kills came too late to test anything"
        now = rounds[-1]
        last = run_dispatch(db_url, sink, now)
        out, err = last.communicate(timeout=600)
        assert last.returncode == 0, err.decode()
        sends = Counter(sink.sent())
    assert set(sends) == due and max(sends.values()) == 1, "a text lost or sent twice"
    with Session(engine) as session:
        states = Counter(session.exec(select(Message.status).where(col(Message.id).in_(due))).all())
    engine.dispose()
    assert states == {"sent": len(due)}
