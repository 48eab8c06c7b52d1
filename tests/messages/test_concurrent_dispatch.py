"""Two workers sending from one PostgreSQL database at once never send the same text twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Interval, type_coerce, update
from sqlmodel import Session

from nudge.clock import FixedClock
from nudge.db import make_engine
from nudge.models import Hearing, Message
from tests.conftest import (
    EXAMPLE,
    PINNED,
    ROOT,
    migrated_postgres_database,
    postgres_server_or_fail,
)
from tests.factories import enrol_due_texts, fast_example
from tests.fakes import notify_server
from tests.fakes.notify_server import FakeNotifyServer
from tests.fakes.notify_state import FakeNotifyState
from tests.fakes.twilio_server import FakeTwilioServer, nudge_env
from tests.fakes.twilio_state import FakeTwilioState

FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)


def test_two_workers_on_postgresql_never_send_the_same_message(tmp_path: Path) -> None:
    with _texts_due(tmp_path, 600) as (url, due):
        outbox = tmp_path / "outbox"
        env = {
            **os.environ,
            "NUDGE_DATABASE_URL": url,
            "NUDGE_NOW": FIRST_DUE.isoformat(),
            "NUDGE_OUTBOX_DIR": str(outbox),
        }
        workers = [
            subprocess.Popen(
                DISPATCH, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        outputs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    lines = (outbox / "sms-2027-02-25.jsonl").read_text().splitlines()
    sends = Counter(json.loads(line)["message_id"] for line in lines)
    assert set(sends) == due and len(due) > 100 and max(sends.values()) == 1
    assert all(out.decode().startswith("sent ") for out, _ in outputs)
    # Which worker sends how many is a race here: the console is so fast that one worker can
    # finish all 400 before the other has started. The next test makes them share.


def test_a_second_worker_started_mid_send_through_twilio_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    """Twilio answering in 30 ms (it takes longer from the UK): a second worker started once
    the first is sending works beside it without touching the first's texts. How many it gets
    depends on how fast the machine starts Python, so that is measured by bench/dispatch.py,
    not asserted here."""
    fake_twilio = FakeTwilioServer(FakeTwilioState(now=lambda: FIRST_DUE))
    with _texts_due(tmp_path, 450) as (url, due), fake_twilio as fake:
        fake.state.faults.delay = 0.03
        env = {**_worker_env(fake, url), "NUDGE_NOW": FIRST_DUE.isoformat()}
        first = subprocess.Popen(DISPATCH, env=env, cwd=ROOT, stdout=subprocess.PIPE)
        deadline = time.monotonic() + 240  # a loaded machine starts Python slowly
        while not fake.state.our_message_ids() and first.poll() is None:
            assert time.monotonic() < deadline, "the first worker never got going"
            time.sleep(0.01)
        second = subprocess.Popen(DISPATCH, env=env, cwd=ROOT, stdout=subprocess.PIPE)
        outputs = [w.communicate(timeout=600)[0].decode() for w in (first, second)]
        sends = Counter(fake.state.our_message_ids())
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert set(sends) == due and max(sends.values()) == 1
    _all_accounted_for(outputs, len(due))


def test_a_second_worker_started_mid_send_through_notify_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    """As above, with the real Notify client against the fake Notify: each text accepted once,
    under its own reference."""
    fake_notify = FakeNotifyServer(FakeNotifyState(now=lambda: FIRST_DUE))
    with _texts_due(tmp_path, 450) as (url, due), fake_notify as fake:
        fake.state.faults.delay = 0.03
        env = {
            **os.environ,
            **notify_server.nudge_env(fake.url),
            "NUDGE_DATABASE_URL": url,
            "NUDGE_NOW": FIRST_DUE.isoformat(),
        }
        first = subprocess.Popen(DISPATCH, env=env, cwd=ROOT, stdout=subprocess.PIPE)
        deadline = time.monotonic() + 240
        while not fake.state.our_message_ids() and first.poll() is None:
            assert time.monotonic() < deadline, "the first worker never got going"
            time.sleep(0.01)
        second = subprocess.Popen(DISPATCH, env=env, cwd=ROOT, stdout=subprocess.PIPE)
        outputs = [w.communicate(timeout=600)[0].decode() for w in (first, second)]
        sends = Counter(fake.state.our_message_ids())
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert set(sends) == due and max(sends.values()) == 1
    _all_accounted_for(outputs, len(due))


RATE = 400  # texts a second for the trial, across all its workers


def test_four_workers_send_20000_texts_once_each_never_faster_than_the_trials_rate(
    tmp_path: Path,
) -> None:
    """In real time (the throttle waits on the wall clock), four workers with their Twilio
    clients share 20,000 texts: each sent once, and in no one-second window (by Twilio's own
    clock of acceptance) more than the trial's max_per_second."""
    texts = _texts_due(tmp_path, 30_000, per_second=RATE, due_now=True)
    with texts as (url, due), FakeTwilioServer(FakeTwilioState()) as fake:
        assert len(due) >= 20_000
        env = _worker_env(fake, url)
        env.pop("NUDGE_NOW", None)  # the system clock: pacing really waits
        workers = [
            subprocess.Popen(DISPATCH, env=env, cwd=ROOT, stdout=subprocess.PIPE) for _ in range(4)
        ]
        outputs = [w.communicate(timeout=900)[0].decode() for w in workers]
        with fake.state.lock:
            times = sorted(m["_accepted"][0] for m in fake.state.messages)
        sends = Counter(fake.state.our_message_ids())
    assert [w.returncode for w in workers] == [0] * 4, outputs
    assert set(sends) == due and max(sends.values()) == 1, "a text lost or sent twice"
    _all_accounted_for(outputs, len(due))
    assert _peak(times) <= RATE
    # How fast they send, and how evenly the workers share, is the machine's: bench/dispatch.py
    # measures both. A test asserts only what must always hold.


DISPATCH = [sys.executable, "-m", "nudge", "dispatch"]


@contextmanager
def _texts_due(
    tmp_path: Path, people: int, *, per_second: int = 1000, due_now: bool = False
) -> Iterator[tuple[str, set[int]]]:
    """A fresh PostgreSQL database with the example trial and `people` enrolled; the ids of
    the texts due at FIRST_DUE (or, with `due_now`, moved to be due now by the wall clock)."""
    with migrated_postgres_database(postgres_server_or_fail()) as url:
        engine = make_engine(url)
        with Session(engine) as session:
            definition = fast_example(tmp_path, EXAMPLE, per_second=per_second)
            due = set(enrol_due_texts(session, FixedClock(PINNED), definition, people, FIRST_DUE))
            if due_now:
                _due_now(session, FIRST_DUE)
        engine.dispose()
        yield url, due


def _worker_env(fake: FakeTwilioServer, url: str) -> dict[str, str]:
    return {**os.environ, **nudge_env(fake.url), "NUDGE_DATABASE_URL": url}


def _all_accounted_for(outputs: list[str], due: int) -> None:
    """The workers' own counts of what they sent add up to the texts due."""
    shares = [int(out.split(",")[0].removeprefix("sent ")) for out in outputs]
    assert sum(shares) == due, outputs


def _due_now(session: Session, planned_for: datetime) -> None:
    """Move the trial's hearings and texts in time so that what was due at `planned_for` is
    due now by the wall clock: the workers run on the system clock."""
    shift = type_coerce(datetime.now(UTC) - planned_for, Interval())
    session.execute(update(Hearing).values(starts_at=Hearing.starts_at + shift))
    session.execute(
        update(Message).values(
            due_at=Message.due_at + shift,
            next_attempt_at=Message.next_attempt_at + shift,
            expires_at=Message.expires_at + shift,
        )
    )
    session.commit()


def _peak(times: list[float]) -> int:
    """The most acceptances in any window [t, t + 1)."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most
