"""Dispatch and recovery through the real Notify client and the local fake Notify: each
failure with its reason, a refused key stopping the run, a rate limit backing off, and
recovery by reference (never by number, words and time)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from messages.providers.notify import NotifyProvider
from messages.recovery import recover
from nudge.clock import FixedClock
from nudge.models import Message, MessageEvent, Participant
from tests.conftest import Cli
from tests.fakes.notify_server import FakeNotifyServer, nudge_env
from tests.fakes.notify_state import (
    FAKE_API_KEY,
    FAKE_SENDER_ID,
    FAKE_TEMPLATE_ID,
    FakeNotifyState,
    NotifyFaults,
)
from tests.messages.sending import FIRST_DUE, PUBLIC, send_due


@pytest.fixture
def fake_notify(clock: FixedClock) -> Iterator[FakeNotifyServer]:
    with FakeNotifyServer(FakeNotifyState(now=clock.now)) as fake:
        yield fake


def notify_provider(fake: FakeNotifyServer, timeout: float = 15.0) -> NotifyProvider:
    return NotifyProvider(
        FAKE_API_KEY,
        FAKE_TEMPLATE_ID,
        sender_id=FAKE_SENDER_ID,
        base_url=fake.url,
        timeout=timeout,
    )


def state(session: Session, message_id: int) -> Message:
    session.expire_all()
    message = session.get(Message, message_id)
    assert message is not None
    return message


def accepted(fake: FakeNotifyServer) -> Counter[int]:
    return Counter(fake.state.our_message_ids())


def _phone(session: Session, message_id: int) -> str:
    participant = session.get(Participant, state(session, message_id).participant_id)
    assert participant is not None and participant.phone
    return participant.phone


def test_every_text_goes_once_with_its_id_as_the_reference_and_notifys_id_on_record(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_notify: FakeNotifyServer,
) -> None:
    result = send_due(engine, clock, notify_provider(fake_notify))
    assert result.sent == len(texts)
    assert accepted(fake_notify) == Counter({i: 1 for i in texts})
    ids = {n["reference"]: n["id"] for n in fake_notify.state.notifications}
    for message_id in texts:
        message = state(session, message_id)
        assert (message.status, message.provider_id) == ("sent", ids[str(message_id)])


def test_a_500_is_retried_later_with_backoff(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_notify: FakeNotifyServer,
) -> None:
    fake_notify.state.faults.script = ["500"]
    result = send_due(engine, clock, notify_provider(fake_notify))
    assert (result.retried, result.sent) == (1, len(texts) - 1)
    first = state(session, texts[0])
    assert first.status == "scheduled" and first.last_error
    assert first.last_error.startswith("notify-5xx")
    clock.advance(timedelta(seconds=61))
    assert send_due(engine, clock, notify_provider(fake_notify)).sent == 1
    assert accepted(fake_notify) == Counter({i: 1 for i in texts})


def test_a_number_notify_refuses_fails_for_good_with_invalid_number(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_notify: FakeNotifyServer,
) -> None:
    fake_notify.state.reject(
        _phone(session, texts[0]), "ValidationError", "phone_number Not a UK mobile number"
    )
    assert send_due(engine, clock, notify_provider(fake_notify)).failed == 1
    message = state(session, texts[0])
    assert (message.status, message.reason) == ("failed", "invalid_number")
    clock.advance(timedelta(hours=1))
    send_due(engine, clock, notify_provider(fake_notify))
    assert fake_notify.state.requests["POST sms"] == len(texts)  # never tried again


def test_a_revoked_key_stops_the_run_once_and_keeps_the_rest_queued(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_notify: FakeNotifyServer,
) -> None:
    fake_notify.state.faults.script = ["ok", "ok", "403"]
    result = send_due(engine, clock, notify_provider(fake_notify))
    assert (result.sent, result.stopped, result.failed) == (2, "credentials_refused", 0)
    rows = session.exec(select(Message).where(col(Message.id).in_(texts))).all()
    assert Counter(m.status for m in rows) == {"sent": 2, "scheduled": len(texts) - 2}
    refusals = session.exec(
        select(MessageEvent).where(MessageEvent.error_code == "notify-403")
    ).all()
    assert len(refusals) == 1 and refusals[0].detail["reason"] == "credentials_refused"
    assert send_due(engine, clock, notify_provider(fake_notify)).sent == len(texts) - 2
    assert accepted(fake_notify) == Counter({i: 1 for i in texts})


def test_a_rate_limit_pauses_the_run_and_then_it_goes_on(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_notify: FakeNotifyServer,
) -> None:
    fake_notify.state.faults.script = ["ok", "429"]
    started = clock.now()
    result = send_due(engine, clock, notify_provider(fake_notify))
    assert (result.rate_limited, result.sent, result.stopped) == (1, len(texts), None)
    assert clock.now() - started >= timedelta(seconds=1)  # the pause, on the clock
    assert accepted(fake_notify) == Counter({i: 1 for i in texts})


@pytest.mark.parametrize(
    ("fault", "reached_notify"),
    [("lost_reply", True), ("malformed", True), ("hang", False), ("drop", False)],
)
def test_a_send_without_a_clear_reply_is_settled_by_its_reference(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_notify: FakeNotifyServer,
    fault: str,
    reached_notify: bool,
) -> None:
    fake_notify.state.faults = NotifyFaults(script=[fault], hang_seconds=3)
    assert send_due(engine, clock, notify_provider(fake_notify, timeout=1)).ambiguous == 1
    assert state(session, texts[0]).status == "sending"
    clock.advance(timedelta(minutes=3))
    recovered = recover(engine, clock, notify_provider(fake_notify), PUBLIC)
    assert (recovered.confirmed_sent, recovered.requeued) == ((1, 0) if reached_notify else (0, 1))
    send_due(engine, clock, notify_provider(fake_notify))
    message = state(session, texts[0])
    assert message.status == "sent" and message.provider_id
    assert accepted(fake_notify) == Counter({i: 1 for i in texts})


def test_two_texts_to_one_number_are_told_apart_by_reference(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_notify: FakeNotifyServer,
) -> None:
    """Two people sharing one number, both texts left `sending`: Notify holds one reference,
    so that one is sent and the other queued again, whatever their words and times."""
    one, two = texts[0], texts[1]
    shared = session.get(Participant, state(session, two).participant_id)
    assert shared is not None
    shared.phone = _phone(session, one)
    session.add(shared)
    session.commit()
    fake_notify.state.faults = NotifyFaults(script=["lost_reply", "hang"], hang_seconds=3)
    assert send_due(engine, clock, notify_provider(fake_notify, timeout=1)).ambiguous == 2
    assert fake_notify.state.our_message_ids()[0] == one
    clock.advance(timedelta(minutes=3))
    recovered = recover(engine, clock, notify_provider(fake_notify), PUBLIC)
    assert (recovered.confirmed_sent, recovered.requeued) == (1, 1)
    found = next(n for n in fake_notify.state.notifications if n["reference"] == str(one))
    assert (state(session, one).status, state(session, one).provider_id) == ("sent", found["id"])
    assert state(session, two).status == "scheduled"
    send_due(engine, clock, notify_provider(fake_notify))
    assert accepted(fake_notify) == Counter({i: 1 for i in texts})


def test_when_notify_cannot_be_asked_the_message_is_left_for_staff(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_notify: FakeNotifyServer,
) -> None:
    fake_notify.state.faults = NotifyFaults(script=["lost_reply"], hang_seconds=3)
    send_due(engine, clock, notify_provider(fake_notify, timeout=1))
    clock.advance(timedelta(minutes=3))
    revoked = NotifyProvider(FAKE_API_KEY[:-4] + "0000", FAKE_TEMPLATE_ID, base_url=fake_notify.url)
    assert recover(engine, clock, revoked, PUBLIC).unknown == 1
    assert state(session, texts[0]).status == "unknown"


def test_nudge_dispatch_sends_through_notify_once_each(
    cli: Cli, session: Session, texts: list[int], fake_notify: FakeNotifyServer
) -> None:
    fake_notify.state.now = lambda: FIRST_DUE
    cli.env.update({**nudge_env(fake_notify.url), "NUDGE_NOW": FIRST_DUE.isoformat()})
    result = cli("dispatch")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"sent {len(texts)},")
    assert accepted(fake_notify) == Counter({i: 1 for i in texts})
    assert cli("dispatch").output.startswith("sent 0,")


def test_nudge_dispatch_with_a_refused_key_stops_and_says_what_to_check(
    cli: Cli, texts: list[int], fake_notify: FakeNotifyServer
) -> None:
    env = nudge_env(fake_notify.url)
    wrong_secret = env["NOTIFY_API_KEY"][:-12] + "000000000000"
    cli.env.update({**env, "NOTIFY_API_KEY": wrong_secret, "NUDGE_NOW": FIRST_DUE.isoformat()})
    result = cli("dispatch")
    assert result.exit_code == 1
    assert "STOPPED: Notify refused the API key: check NOTIFY_API_KEY" in result.output
    assert "Traceback" not in result.output and fake_notify.state.notifications == []


def test_nudge_dispatch_with_a_malformed_key_is_refused_before_anything_is_sent(
    cli: Cli, texts: list[int], fake_notify: FakeNotifyServer
) -> None:
    cli.env.update({**nudge_env(fake_notify.url), "NOTIFY_API_KEY": "live-key"})
    result = cli("dispatch")
    assert result.exit_code == 1 and "NOTIFY_API_KEY is not a Notify API key" in result.output
    assert "Traceback" not in result.output
    assert fake_notify.state.requests["total"] == 0
