"""Notify's callbacks through the real app: the bearer token or 403, forward only, idempotent,
and received texts handled as Twilio's are (STOP, START, HELP, CONFIRM)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from werkzeug.serving import make_server

from messages.dispatch import dispatch_due
from messages.intake import enrol_and_plan
from messages.providers.notify import NotifyProvider
from nudge.clock import FixedClock
from nudge.config import load_settings
from nudge.models import InboundMessage, Message, MessageEvent, OptOut, Participant
from nudge.web import create_app
from tests.factories import launch, person, write_people
from tests.fakes.notify_server import FakeNotifyServer
from tests.fakes.notify_state import (
    FAKE_API_KEY,
    FAKE_CALLBACK_TOKEN,
    FAKE_TEMPLATE_ID,
    FakeNotifyState,
)
from tests.messages.sending import send_due
from tests.messages.test_webhooks import FIRST_DUE, PUBLIC, TRIAL

STATUS, INBOUND = "/webhooks/notify/status", "/webhooks/notify/inbound"


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app(
        load_settings(
            {
                "NUDGE_DATABASE_URL": db_url,
                "NUDGE_PUBLIC_URL": PUBLIC,
                "NUDGE_NOW": FIRST_DUE.isoformat(),
                "NOTIFY_CALLBACK_TOKEN": FAKE_CALLBACK_TOKEN,
            }
        )
    )
    yield app
    app.extensions["nudge"]["engine"].dispose()


@pytest.fixture
def sent(
    app: Flask, session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> Message:
    """A live trial, people enrolled, and the first due texts sent through the fake Notify."""
    launch(session, clock, example_dir / "witness-reminders.yaml")
    path = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 13)])
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()
    clock.set(FIRST_DUE)
    with FakeNotifyServer(FakeNotifyState(now=clock.now)) as fake:
        provider = NotifyProvider(FAKE_API_KEY, FAKE_TEMPLATE_ID, base_url=fake.url)
        engine = app.extensions["nudge"]["engine"]
        dispatch_due(engine, clock, provider, worker="w", public_url=PUBLIC)
    message = session.exec(select(Message).where(Message.status == "sent")).first()
    assert message is not None and message.provider_id
    return message


def post(
    client: FlaskClient, path: str, data: dict[str, Any], token: str | None = FAKE_CALLBACK_TOKEN
):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(path, json=data, headers=headers)


def receipt(message: Message, status: str) -> dict[str, Any]:
    """A delivery receipt as Notify posts it."""
    return {
        "id": message.provider_id,
        "reference": str(message.id),
        "to": "07700900001",
        "status": status,
        "created_at": "2027-02-25T18:00:00.000000Z",
        "completed_at": "2027-02-25T18:00:05.000000Z",
        "sent_at": "2027-02-25T18:00:01.000000Z",
        "notification_type": "sms",
        "template_id": FAKE_TEMPLATE_ID,
        "template_version": 1,
    }


def status_of(session: Session, message_id: int | None) -> Message:
    session.expire_all()
    found = session.get(Message, message_id)
    assert found is not None
    return found


def test_a_delivery_receipt_with_the_token_is_recorded(
    app: Flask, session: Session, sent: Message
) -> None:
    assert post(app.test_client(), STATUS, receipt(sent, "delivered")).status_code == 204
    assert status_of(session, sent.id).status == "delivered"


@pytest.mark.parametrize("token", ["wrong-token", FAKE_CALLBACK_TOKEN + "x", None])
def test_a_wrong_or_missing_token_is_refused_and_nothing_recorded(
    app: Flask, session: Session, sent: Message, token: str | None
) -> None:
    before = len(session.exec(select(MessageEvent)).all())
    for path, data in ((STATUS, receipt(sent, "delivered")), (INBOUND, {"id": "a"})):
        assert post(app.test_client(), path, data, token=token).status_code == 403
    assert status_of(session, sent.id).status == "sent"
    assert len(session.exec(select(MessageEvent)).all()) == before
    assert session.exec(select(InboundMessage)).first() is None


def test_without_a_callback_token_set_every_callback_is_refused(
    db_url: str, session: Session, sent: Message
) -> None:
    bare = create_app(load_settings({"NUDGE_DATABASE_URL": db_url}))
    try:
        response = post(bare.test_client(), STATUS, receipt(sent, "delivered"), token="None")
        assert response.status_code == 403
    finally:
        bare.extensions["nudge"]["engine"].dispose()


def test_receipts_move_forward_only_and_a_repeat_is_recorded_once(
    app: Flask, session: Session, sent: Message
) -> None:
    client = app.test_client()
    for status in ("sending", "delivered", "temporary-failure", "delivered"):
        assert post(client, STATUS, receipt(sent, status)).status_code == 204
    assert status_of(session, sent.id).status == "delivered"
    events = session.exec(
        select(MessageEvent.provider_status).where(MessageEvent.message_id == sent.id)
    ).all()
    assert events.count("delivered") == 1


@pytest.mark.parametrize(
    ("status", "ours"),
    [
        ("permanent-failure", "undelivered"),
        ("temporary-failure", "undelivered"),
        ("technical-failure", "failed"),
    ],
)
def test_each_notify_failure_lands_with_its_reason(
    app: Flask, session: Session, sent: Message, status: str, ours: str
) -> None:
    post(app.test_client(), STATUS, receipt(sent, status))
    message = status_of(session, sent.id)
    assert (message.status, message.reason) == (ours, f"provider_{status}")


def test_a_malformed_receipt_gets_a_clear_400(app: Flask, sent: Message) -> None:
    client = app.test_client()
    response = post(client, STATUS, {**receipt(sent, "delivered"), "status": "teleported"})
    assert (response.status_code, response.get_data(as_text=True)) == (400, "unknown status\n")
    response = post(client, STATUS, {"status": "delivered"})
    assert response.get_data(as_text=True) == "missing field: id\n"


def received(session: Session, sent: Message, text: str, id: str = "a" * 8) -> dict[str, str]:
    """A received text as Notify posts it: its numbers without the +."""
    phone = session.exec(
        select(Participant.phone).where(Participant.id == sent.participant_id)
    ).one()
    assert phone
    return {
        "id": f"{id}-1111-4111-8111-111111111111",
        "source_number": phone.lstrip("+"),
        "destination_number": "07700900000",
        "message": text,
        "date_received": "2027-02-25T19:00:00.000000Z",
    }


def test_stop_opts_out_at_once_cancels_pending_texts_and_a_repeat_is_harmless(
    app: Flask, session: Session, sent: Message
) -> None:
    data = received(session, sent, " stop ")
    assert post(app.test_client(), INBOUND, data).status_code == 204
    assert session.exec(select(OptOut).where(OptOut.phone == "+" + data["source_number"])).first()
    pending = session.exec(
        select(Message).where(
            Message.participant_id == sent.participant_id,
            Message.channel == "sms",
            col(Message.id) != sent.id,
        )
    ).all()
    assert pending and {(m.status, m.reason) for m in pending} == {("cancelled", "opted_out")}
    assert post(app.test_client(), INBOUND, data).status_code == 204  # Notify retries
    assert len(session.exec(select(InboundMessage)).all()) == 1


def test_start_opts_back_in(app: Flask, session: Session, sent: Message) -> None:
    client = app.test_client()
    post(client, INBOUND, received(session, sent, "STOP", "1" * 8))
    data = received(session, sent, "Start", "2" * 8)
    post(client, INBOUND, data)
    assert session.exec(select(OptOut)).first() is None


@pytest.mark.parametrize(
    ("text", "kind"), [("CONFIRM", "confirm"), ("help", "help"), ("Yes I'll be there", "other")]
)
def test_confirm_help_and_anything_else_are_recorded_as_twilios_are(
    app: Flask, session: Session, sent: Message, text: str, kind: str
) -> None:
    post(app.test_client(), INBOUND, received(session, sent, text))
    reply = session.exec(select(InboundMessage)).one()
    assert (reply.kind, reply.participant_id) == (kind, sent.participant_id)
    assert session.exec(select(OptOut)).first() is None


def test_the_fakes_receipts_reach_the_app_with_the_token_and_record_delivery(
    db_url: str, engine: Engine, session: Session, clock: FixedClock, texts: list[int]
) -> None:
    """Notify's receipts over HTTP, as Notify posts them, to the app served on a port."""
    with live_app(db_url) as public:
        state = FakeNotifyState(now=clock.now)
        with FakeNotifyServer(state, callback_url=public + STATUS) as fake:
            undeliverable = _phone_of(session, texts[0])
            state.undeliverable = {undeliverable: "permanent-failure"}
            provider = NotifyProvider(FAKE_API_KEY, FAKE_TEMPLATE_ID, base_url=fake.url)
            assert send_due(engine, clock, provider).sent == len(texts)
            assert fake.callbacks is not None
            fake.callbacks.wait_idle()
            assert (fake.callbacks.posted, fake.callbacks.failed) == (len(texts), 0)
    session.expire_all()
    first = status_of(session, texts[0])
    assert (first.status, first.reason) == ("undelivered", "provider_permanent-failure")
    assert {status_of(session, i).status for i in texts[1:]} == {"delivered"}


def _phone_of(session: Session, message_id: int) -> str:
    participant = session.get(Participant, status_of(session, message_id).participant_id)
    assert participant is not None and participant.phone
    return participant.phone


@contextmanager
def live_app(db_url: str) -> Iterator[str]:
    """The real app on a loopback port, checking Notify's bearer token."""
    holder: dict[str, Flask] = {}
    server = make_server(
        "127.0.0.1", 0, lambda env, reply: holder["app"](env, reply), threaded=True
    )
    settings = {
        "NUDGE_DATABASE_URL": db_url,
        "NUDGE_NOW": FIRST_DUE.isoformat(),
        "NOTIFY_CALLBACK_TOKEN": FAKE_CALLBACK_TOKEN,
    }
    holder["app"] = create_app(load_settings(settings))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        holder["app"].extensions["nudge"]["engine"].dispose()
