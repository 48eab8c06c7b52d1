"""Dispatch and recovery through the real twilio client and the local fake Twilio server."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from werkzeug.serving import make_server

from messages.providers.twilio import TwilioProvider
from messages.recovery import recover
from nudge.clock import FixedClock
from nudge.config import load_settings
from nudge.models import Message, MessageEvent, OptOut, Participant
from nudge.web import create_app
from tests.conftest import Cli
from tests.fakes.twilio_server import FakeTwilioServer, nudge_env
from tests.messages.sending import (
    FIRST_DUE,
    PUBLIC,
    accepted_ids,
    dispatch_through,
    hasty_provider,
    send_due,
    twilio_provider,
)


def state(session: Session, message_id: int) -> Message:
    session.expire_all()
    message = session.get(Message, message_id)
    assert message is not None
    return message


@pytest.mark.parametrize("fault", ["500", "503"])  # 429: test_hardening_sending.py
def test_a_busy_or_failing_twilio_is_retried_later_with_backoff(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    twilio: TwilioProvider,
    fake_twilio: FakeTwilioServer,
    fault: str,
) -> None:
    fake_twilio.state.faults.script = [fault]
    result = send_due(engine, clock, twilio)
    assert (result.retried, result.sent) == (1, len(texts) - 1)
    first = state(session, texts[0])
    assert first.status == "scheduled" and first.attempts == 1
    assert first.next_attempt_at - first.updated_at == timedelta(seconds=60)  # 30 s, doubled
    assert first.last_error and first.last_error.startswith(f"20{fault}")
    clock.advance(timedelta(seconds=61))
    assert send_due(engine, clock, twilio).sent == 1
    assert accepted_ids(fake_twilio) == Counter({i: 1 for i in texts})


def test_an_invalid_number_fails_for_good(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    twilio: TwilioProvider,
    fake_twilio: FakeTwilioServer,
) -> None:
    phone = _phone(session, texts[0])
    fake_twilio.state.reject(phone, "21211")
    result = send_due(engine, clock, twilio)
    assert result.failed == 1
    message = state(session, texts[0])
    assert (message.status, message.reason) == ("failed", "invalid_number")
    clock.advance(timedelta(hours=1))
    send_due(engine, clock, twilio)
    assert fake_twilio.state.requests["POST Messages"] == len(texts)  # never tried again


def test_an_unsubscribed_number_fails_and_is_opted_out_everywhere(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    twilio: TwilioProvider,
    fake_twilio: FakeTwilioServer,
) -> None:
    message = state(session, texts[0])
    phone = _phone(session, texts[0])
    fake_twilio.state.reject(phone, "21610")
    send_due(engine, clock, twilio)
    message = state(session, texts[0])
    assert (message.status, message.reason) == ("failed", "opted_out")
    assert session.exec(select(OptOut).where(OptOut.phone == phone)).one().source == "carrier"
    later = session.exec(
        select(Message).where(
            Message.participant_id == message.participant_id, Message.channel == "sms"
        )
    ).all()
    assert {m.reason for m in later if m.id != message.id} == {"opted_out"}


@pytest.mark.parametrize(
    ("fault", "reached_twilio"), [("lost_reply", True), ("malformed", True), ("hang", False)]
)
def test_a_send_without_a_clear_reply_is_reconciled_never_blindly_repeated(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
    fault: str,
    reached_twilio: bool,
) -> None:
    twilio = hasty_provider(fake_twilio, clock)
    fake_twilio.state.faults.script = [fault]
    assert send_due(engine, clock, twilio).ambiguous == 1
    assert state(session, texts[0]).status == "sending"
    clock.advance(timedelta(minutes=3))
    recovered = recover(engine, clock, twilio, PUBLIC)
    assert (recovered.confirmed_sent, recovered.requeued) == ((1, 0) if reached_twilio else (0, 1))
    send_due(engine, clock, twilio)
    message = state(session, texts[0])
    assert message.status == "sent" and message.provider_id
    assert accepted_ids(fake_twilio) == Counter({i: 1 for i in texts})


def test_when_twilio_cannot_be_asked_the_message_is_left_for_staff(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
) -> None:
    fake_twilio.state.faults.script = ["lost_reply"]
    send_due(engine, clock, hasty_provider(fake_twilio, clock))
    clock.advance(timedelta(minutes=3))
    wrong = twilio_provider(fake_twilio, clock, token="revoked")
    assert recover(engine, clock, wrong, PUBLIC).unknown == 1
    assert state(session, texts[0]).status == "unknown"


def test_nudge_dispatch_sends_through_twilio_once_each(
    cli: Cli,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
) -> None:
    dispatch_through(cli, fake_twilio)
    result = cli("dispatch")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"sent {len(texts)},")
    assert accepted_ids(fake_twilio) == Counter({i: 1 for i in texts})
    sids = {m["sid"] for m in fake_twilio.state.messages}
    rows = session.exec(select(Message).where(col(Message.id).in_(texts))).all()
    assert {m.provider_id for m in rows} == sids and {m.status for m in rows} == {"sent"}
    assert {m["from"] for m in fake_twilio.state.messages} == {"+447700900000"}
    assert cli("dispatch").output.startswith("sent 0,")


def test_nudge_dispatch_with_twilio_needs_the_public_url(cli: Cli) -> None:
    cli.env.update(_twilio_env("http://127.0.0.1:9", ""))
    result = cli("dispatch")
    assert result.exit_code == 1 and "NUDGE_PUBLIC_URL" in result.output
    assert "Traceback" not in result.output


def test_twilios_signed_status_callbacks_reach_the_app_and_record_delivery(
    db_url: str, engine: Engine, session: Session, clock: FixedClock, texts: list[int]
) -> None:
    with live_app(db_url) as public, FakeTwilioServer(callbacks=True) as fake:
        fake.state.undeliverable = {_phone(session, texts[0]): "30003"}
        send_due(engine, clock, twilio_provider(fake, clock), public)
        assert fake.callbacks is not None
        fake.callbacks.wait_idle()
        assert (fake.callbacks.posted, fake.callbacks.failed) == (2 * len(texts), 0)
    undelivered = state(session, texts[0])
    assert (undelivered.status, undelivered.reason) == ("undelivered", "provider_30003")
    assert {state(session, i).status for i in texts[1:]} == {"delivered"}
    reported = session.exec(
        select(MessageEvent.provider_status).where(col(MessageEvent.message_id).in_(texts))
    ).all()
    assert Counter(reported)["sent"] == len(texts)  # Twilio's "sent" came first, and counted


def _twilio_env(base_url: str, public_url: str) -> dict[str, str]:
    return {**nudge_env(base_url, public_url), "NUDGE_NOW": FIRST_DUE.isoformat()}


@contextmanager
def live_app(db_url: str) -> Iterator[str]:
    """The real app on a loopback port, checking signatures with the fake's auth token."""
    holder: dict[str, Flask] = {}
    server = make_server(
        "127.0.0.1", 0, lambda env, reply: holder["app"](env, reply), threaded=True
    )
    public = f"http://127.0.0.1:{server.server_port}"
    settings = {**_twilio_env("http://127.0.0.1:9", public), "NUDGE_DATABASE_URL": db_url}
    holder["app"] = create_app(load_settings(settings))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield public
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        holder["app"].extensions["nudge"]["engine"].dispose()


def _phone(session: Session, message_id: int) -> str:
    message = state(session, message_id)
    participant = session.get(Participant, message.participant_id)
    assert participant is not None and participant.phone
    return participant.phone
