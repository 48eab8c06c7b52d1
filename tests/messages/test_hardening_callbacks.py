"""Issue 17, sending: an earlier error does not outlive a successful send, and a status
callback posted twice (signed, as Twilio retries) is recorded once; on the engine under test."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from nudge.clock import FixedClock
from nudge.models import Message, MessageEvent
from tests.fakes.twilio_server import FakeTwilioServer
from tests.messages.sending import send_due, twilio_provider
from tests.messages.test_webhooks import app, callback, post, sent, status_of

__all__ = ["app", "sent"]  # fixtures


def callback_events(session: Session, message_id: int | None) -> list[tuple[str, str | None]]:
    session.expire_all()
    query = (
        select(MessageEvent)
        .where(MessageEvent.message_id == message_id)
        .where(col(MessageEvent.provider_status).is_not(None))
        .order_by(col(MessageEvent.id))
    )
    return [(e.provider_status or "", e.error_code) for e in session.exec(query).all()]


def test_an_error_is_cleared_once_a_later_attempt_is_sent(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
) -> None:
    twilio = twilio_provider(fake_twilio, clock)
    fake_twilio.state.faults.script = ["503"]
    send_due(engine, clock, twilio)
    first = session.get(Message, texts[0])
    assert first is not None and first.last_error and first.last_error.startswith("20503")
    clock.advance(timedelta(minutes=2))
    send_due(engine, clock, twilio)
    session.expire_all()
    again = session.get(Message, texts[0])
    assert again is not None and again.status == "sent" and again.last_error is None
    history = session.exec(
        select(MessageEvent.status).where(MessageEvent.message_id == texts[0])
    ).all()
    assert "retry" in history  # the error is still on record, in the message's history


def test_a_replayed_status_callback_adds_no_second_event(
    app: Flask, session: Session, sent: Message
) -> None:
    client = app.test_client()
    path = f"/webhooks/twilio/status?m={sent.id}"
    for form in (
        callback(sent, "sent"),
        callback(sent, "sent"),  # Twilio retrying, or a proxy replaying
        callback(sent, "undelivered", ErrorCode="30003"),
        callback(sent, "undelivered", ErrorCode="30003"),
        callback(sent, "undelivered", ErrorCode="30005"),  # a different report: kept
    ):
        assert post(client, path, form).status_code == 204
    assert callback_events(session, sent.id) == [
        ("sent", None),
        ("undelivered", "30003"),
        ("undelivered", "30005"),
    ]
    assert status_of(session, sent.id) == "undelivered"


def test_a_replay_without_our_id_in_the_url_is_recorded_once_too(
    app: Flask, session: Session, sent: Message
) -> None:
    client = app.test_client()
    for _ in range(3):
        response = post(client, "/webhooks/twilio/status", callback(sent, "delivered"))
        assert response.status_code == 204
    assert callback_events(session, sent.id) == [("delivered", None)]
    assert status_of(session, sent.id) == "delivered"
