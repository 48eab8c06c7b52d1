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
    first = sender.send(outgoing(1))
    assert first.provider_id.startswith("SM")
    with pytest.raises(ProviderError) as refused:
        sender.send(outgoing(2))  # raised as in-process, with everything dispatch reads
    assert refused.value.code == "21610"
    assert not refused.value.transient and not refused.value.ambiguous
    third = sender.send(outgoing(3))
    assert third.provider_id != first.provider_id
    assert accepted(fake) == ["+447700900001", "+447700900003"]


def test_a_child_that_dies_mid_send_leaves_that_text_to_recovery_and_is_replaced(
    fake: FakeTwilioServer, sender: SenderProcess
) -> None:
    assert sender.child is not None and sender.child.pid is not None
    child = sender.child.pid
    fake.state.faults.delay = 2.0  # the request reaches Twilio, the answer takes a while
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            sender.send(outgoing(1))
        except ProviderError as error:
            outcome.append(error)

    sending = threading.Thread(target=send)
    sending.start()
    deadline = time.monotonic() + 30
    while not fake.state.requests["POST Messages"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(child, signal.SIGKILL)
    sending.join(timeout=30)
    [error] = outcome
    assert isinstance(error, ProviderError) and error.ambiguous  # it may have gone
    fake.state.faults.delay = 0.0
    assert isinstance(sender.send(outgoing(9)), SendReceipt)  # a new child took over
    assert sender.child is not None and sender.child.pid != child


def test_the_child_dies_with_its_worker(fake: FakeTwilioServer, tmp_path: Path) -> None:
    """A worker killed with SIGKILL must not leave a child that sends after recovery looked."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from messages.providers.sender import SenderProcess
        if __name__ == "__main__":
            provider = SenderProcess(
                {FAKE_ACCOUNT_SID!r}, {FAKE_AUTH_TOKEN!r}, base_url={fake.url!r}
            )
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

    def sleep_until(self, at: datetime) -> None:
        time.sleep(max(0.0, (at - self.now()).total_seconds()))


def test_dispatch_in_real_time_keeps_the_trials_pace_through_the_child(
    db_url: str, tmp_path: Path, fake: FakeTwilioServer, sender: SenderProcess
) -> None:
    engine = make_engine(db_url)
    with Session(engine) as session:
        definition = fast_example(tmp_path, EXAMPLE, per_second=20)
        due = enrol_due_texts(session, FixedClock(PINNED), definition, 40, FIRST_DUE)
    assert len(due) >= 20
    began = time.time()
    result = dispatch_due(engine, Shifted(FIRST_DUE), sender, worker="w", public_url=None)
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


def test_on_a_pinned_clock_the_child_sends_each_text_at_its_own_slot_never_in_a_burst(
    db_url: str, tmp_path: Path, fake: FakeTwilioServer, sender: SenderProcess
) -> None:
    """The one sending path: a simulated clock is moved slot by slot and each text goes at
    its slot, so Twilio, on the same clock, accepts them the trial's spacing apart (the old
    simulated path moved the clock through every slot first, then sent the group at once)."""
    engine = make_engine(db_url)
    with Session(engine) as session:
        definition = fast_example(tmp_path, EXAMPLE, per_second=5)
        due = enrol_due_texts(session, FixedClock(PINNED), definition, 20, FIRST_DUE)
    engine.dispose()
    clock = FixedClock(FIRST_DUE)
    fake.state.now = clock.now
    result = dispatch_due(make_engine(db_url), clock, sender, worker="w", public_url=None)
    assert result.sent == len(due) >= 10
    with fake.state.lock:
        accepted_at = sorted(datetime.fromisoformat(m["_created"]) for m in fake.state.messages)
    gaps = [later - earlier for earlier, later in zip(accepted_at, accepted_at[1:], strict=False)]
    assert min(gaps) >= timedelta(seconds=1 / 5)  # never faster than the trial's rate
