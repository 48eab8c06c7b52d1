"""Twilio's client in its own process: the same outcomes as in-process, and it dies with its worker.

Against the local fake Twilio server, with the real client in the real child process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from messages.dispatch import dispatch_due
from messages.providers.base import OutgoingSms, SendReceipt
from messages.providers.sender import SenderProcess
from nudge.clock import FixedClock
from nudge.db import make_engine
from nudge.errors import ProviderError
from nudge.models import Message
from tests.conftest import EXAMPLE, PINNED, ROOT
from tests.factories import enrol_due_texts, fast_example
from tests.fakes.twilio_server import FakeTwilioServer
from tests.fakes.twilio_state import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeTwilioState

FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)


def outgoing(n: int) -> OutgoingSms:
    return OutgoingSms(
        message_id=n,
        to=f"+447700900{n:03d}",
        body=f"Reminder {n}: you are due at court on Thursday.",
        sender="+447700900000",
        status_callback=f"https://nudge.example/webhooks/twilio/status?m={n}",
        validity_seconds=3600,
    )


@pytest.fixture
def fake() -> FakeTwilioServer:
    with FakeTwilioServer(FakeTwilioState(now=lambda: FIRST_DUE)) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def sender(fake: FakeTwilioServer) -> SenderProcess:
    provider = SenderProcess(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=fake.url, timeout=2)
    yield provider  # type: ignore[misc]
    provider.close()


def accepted(fake: FakeTwilioServer) -> list[str]:
    with fake.state.lock:
        return [m["to"] for m in fake.state.messages]


def test_each_text_gets_its_own_receipt_or_its_own_refusal(
    fake: FakeTwilioServer, sender: SenderProcess
) -> None:
    fake.state.reject("+447700900002", "21610")
    outcomes = sender.send_many([outgoing(1), outgoing(2), outgoing(3)], None, None, None)
    first, second, third = (outcome for outcome, _after in outcomes)
    assert isinstance(first, SendReceipt) and first.provider_id.startswith("SM")
    assert isinstance(second, ProviderError) and second.code == "21610"
    assert not second.transient and not second.ambiguous
    assert isinstance(third, SendReceipt) and third.provider_id != first.provider_id
    assert accepted(fake) == ["+447700900001", "+447700900003"]
    with pytest.raises(ProviderError) as refused:
        sender.send(outgoing(2))  # one at a time, the refusal is raised as in-process
    assert refused.value.code == "21610"


def test_in_real_time_the_child_waits_for_each_slot_and_stops_when_time_is_up(
    fake: FakeTwilioServer, sender: SenderProcess
) -> None:
    outcomes = sender.send_many([outgoing(1), outgoing(2)], [0.0, 0.3], None, None)
    assert all(isinstance(o, SendReceipt) for o, _after in outcomes)
    assert outcomes[1][1] >= 0.3  # not before its slot

    fake.state.faults.delay = 0.2  # a slow provider: the group's time runs out
    outcomes = sender.send_many([outgoing(3), outgoing(4), outgoing(5)], [0.0, 0.0, 0.0], 0.3, None)
    assert [type(o).__name__ for o, _after in outcomes] == [
        "SendReceipt",
        "SendReceipt",
        "NoneType",
    ]
    assert accepted(fake)[-2:] == ["+447700900003", "+447700900004"]


def test_a_text_that_cannot_go_within_its_lateness_limit_is_handed_back_for_a_new_slot(
    fake: FakeTwilioServer, sender: SenderProcess
) -> None:
    # Each send takes 0.5 s, so the next two slots (and their 0.15 s of lateness) go by
    # meanwhile. The margins are wide so that a loaded machine, slow to start the first send
    # or to wake for the last, still sees the same outcome.
    fake.state.faults.delay = 0.5
    texts = [outgoing(1), outgoing(2), outgoing(3), outgoing(4)]
    outcomes = sender.send_many(texts, [0.0, 0.1, 0.2, 2.0], None, 0.15)
    assert [type(o).__name__ for o, _after in outcomes] == [
        "SendReceipt",
        "MissedSlot",
        "MissedSlot",
        "SendReceipt",
    ]
    assert outcomes[3][1] >= 2.0  # the later one still waited for its own slot
    assert accepted(fake) == ["+447700900001", "+447700900004"]


def test_a_slot_that_went_by_before_the_group_arrived_counts_as_missed(
    fake: FakeTwilioServer, sender: SenderProcess
) -> None:
    outcomes = sender.send_many([outgoing(1), outgoing(2)], [-0.2, -0.01], None, 0.05)
    assert [type(o).__name__ for o, _after in outcomes] == ["MissedSlot", "SendReceipt"]
    assert accepted(fake) == ["+447700900002"]


def test_a_child_that_dies_mid_group_leaves_what_it_had_not_reported_to_recovery(
    fake: FakeTwilioServer, sender: SenderProcess
) -> None:
    assert sender.child is not None
    child = sender.child.pid
    results: list[object] = []
    texts, waits = [outgoing(n) for n in range(1, 5)], [0.0, 2.0, 2.0, 2.0]
    sending = threading.Thread(
        target=lambda: results.extend(sender.send_many(texts, waits, None, None))
    )
    sending.start()
    deadline = time.monotonic() + 30
    while not accepted(fake):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)  # the first is reported; the child waits for the second text's slot
    os.kill(child, signal.SIGKILL)
    sending.join(timeout=30)
    outcomes = [outcome for outcome, _after in results]  # type: ignore[misc]
    assert isinstance(outcomes[0], SendReceipt)  # reported before the child began to wait
    assert all(isinstance(o, ProviderError) and o.ambiguous for o in outcomes[1:])
    assert accepted(fake) == ["+447700900001"]
    assert isinstance(sender.send(outgoing(9)), SendReceipt)  # a new child took over
    assert sender.child is not None and sender.child.pid != child


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_dies_with_its_worker(fake: FakeTwilioServer, tmp_path: Path) -> None:
    """A worker killed with SIGKILL must not leave a child that sends after recovery looked."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from messages.providers.sender import SenderProcess
        provider = SenderProcess({FAKE_ACCOUNT_SID!r}, {FAKE_AUTH_TOKEN!r}, base_url={fake.url!r})
        print(provider.child.pid, flush=True)
        time.sleep(120)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as worker:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    deadline = time.monotonic() + 30
    while _alive(child):
        assert time.monotonic() < deadline, "the sending process outlived its worker"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"  # a zombie has already died
    except FileNotFoundError:
        return False


class Shifted:
    """Real time, starting at a pinned instant: texts due then go at the real pace."""

    def __init__(self, at: datetime) -> None:
        self.at, self.started = at, time.monotonic()

    def now(self) -> datetime:
        return self.at + timedelta(seconds=time.monotonic() - self.started)


def test_dispatch_in_real_time_keeps_the_trials_pace_through_the_child(
    db_url: str, tmp_path: Path, fake: FakeTwilioServer, sender: SenderProcess
) -> None:
    engine = make_engine(db_url)
    with Session(engine) as session:
        definition = fast_example(tmp_path, EXAMPLE, per_second=20)
        due = enrol_due_texts(session, FixedClock(PINNED), definition, 40, FIRST_DUE)
    assert len(due) >= 20
    began = time.time()
    result = dispatch_due(
        engine, Shifted(FIRST_DUE), sender, worker="w", sleep=time.sleep, public_url=None
    )
    assert result.sent == len(due)
    with fake.state.lock:
        times = sorted(m["_accepted"][0] for m in fake.state.messages)
    # Slots are 1/20 s apart from when dispatch began, and no text goes before its slot (one
    # held up by a slow call may go late, straight after the one before it).
    assert all(at >= began + k / 20 - 0.01 for k, at in enumerate(times))
    with Session(engine) as session:
        sent_at = session.exec(
            select(Message.sent_at).where(col(Message.id).in_(due)).order_by(Message.sent_at)
        ).all()
    engine.dispose()
    # Each stamped when the child said it went, on the worker's clock: the same pattern.
    slack = timedelta(seconds=0.01)
    assert all(
        at is not None and at >= FIRST_DUE + timedelta(seconds=k / 20) - slack
        for k, at in enumerate(sent_at)
    )
    assert sent_at[-1] is not None and sent_at[-1] - FIRST_DUE < timedelta(seconds=30)
