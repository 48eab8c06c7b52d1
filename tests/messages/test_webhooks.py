"""Twilio's callbacks through the real app: signed or refused, forward only, STOP at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from messages.dispatch import dispatch_due
from messages.intake import enrol_and_plan
from messages.providers.base import OutgoingSms, SendReceipt
from messages.providers.console import ConsoleProvider
from nudge.clock import FixedClock
from nudge.config import DEVELOPMENT_SECRET, load_settings
from nudge.models import InboundMessage, Message, MessageEvent, OptOut, Participant
from nudge.web import create_app
from tests.factories import launch, person, write_people

PUBLIC = "https://nudge.example"
TRIAL = "witness-reminders-2027"
FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app(
        load_settings(
            {
                "NUDGE_DATABASE_URL": db_url,
                "NUDGE_PUBLIC_URL": PUBLIC,
                "NUDGE_NOW": FIRST_DUE.isoformat(),
            }
        )
    )
    yield app
    app.extensions["nudge"]["engine"].dispose()


@pytest.fixture
def sent(
    app: Flask, session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> Message:
    """A live trial, people enrolled, and the first due texts sent through the console."""
    launch(session, clock, example_dir / "witness-reminders.yaml")
    path = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 13)])
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()
    clock.set(FIRST_DUE)
    engine = app.extensions["nudge"]["engine"]
    dispatch_due(
        engine,
        clock,
        ConsoleProvider(tmp_path / "out", clock),
        worker="w",
        public_url=PUBLIC,
    )
    message = session.exec(select(Message).where(Message.status == "sent")).first()
    assert message is not None
    return message


def post(
    client: FlaskClient,
    path: str,
    form: dict[str, str],
    *,
    sign: bool = True,
    token: str = DEVELOPMENT_SECRET,
):  # type: ignore[no-untyped-def]
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(
            PUBLIC + path, form
        )
    return client.post(path, data=form, headers=headers)


def status_of(session: Session, message_id: int | None) -> str:
    session.expire_all()
    found = session.get(Message, message_id)
    assert found is not None
    return found.status


def callback(message: Message, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": message.provider_id or "",
        "MessageStatus": status,
        "AccountSid": "AC" + "0" * 32,
        **extra,
    }


def test_a_signed_delivery_callback_is_recorded(
    app: Flask, session: Session, sent: Message
) -> None:
    response = post(
        app.test_client(), f"/webhooks/twilio/status?m={sent.id}", callback(sent, "delivered")
    )
    assert response.status_code == 204
    assert status_of(session, sent.id) == "delivered"


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_a_bad_or_missing_signature_is_refused_and_nothing_recorded(
    app: Flask, session: Session, sent: Message, token: str | None
) -> None:
    before = len(session.exec(select(MessageEvent)).all())
    path = f"/webhooks/twilio/status?m={sent.id}"
    response = (
        post(app.test_client(), path, callback(sent, "delivered"), token=token)
        if token
        else post(app.test_client(), path, callback(sent, "delivered"), sign=False)
    )
    assert response.status_code == 403
    assert status_of(session, sent.id) == "sent"
    assert len(session.exec(select(MessageEvent)).all()) == before


def test_callbacks_never_move_a_message_backwards_and_duplicates_are_harmless(
    app: Flask, session: Session, sent: Message
) -> None:
    client = app.test_client()
    path = f"/webhooks/twilio/status?m={sent.id}"
    for status in ("delivered", "sent", "delivered", "queued"):
        assert post(client, path, callback(sent, status)).status_code == 204
    assert status_of(session, sent.id) == "delivered"


def test_a_callback_that_overtakes_our_own_record_still_lands(
    app: Flask, session: Session, sent: Message
) -> None:
    sent_id = sent.id
    stored = session.get(Message, sent_id)
    assert stored is not None
    stored.status, stored.provider_id = "sending", None
    session.commit()
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}
    assert post(app.test_client(), f"/webhooks/twilio/status?m={sent_id}", form).status_code == 204
    session.expire_all()
    landed = session.get(Message, sent_id)
    assert landed is not None and (landed.status, landed.provider_id) == (
        "delivered",
        "SM" + "a" * 32,
    )


def test_a_carrier_unsubscribe_records_an_opt_out(
    app: Flask, session: Session, sent: Message
) -> None:
    post(
        app.test_client(),
        f"/webhooks/twilio/status?m={sent.id}",
        callback(sent, "failed", ErrorCode="21610"),
    )
    phone = session.exec(
        select(Participant.phone).where(Participant.id == sent.participant_id)
    ).one()
    assert session.exec(select(OptOut).where(OptOut.phone == phone)).first() is not None


def inbound(
    sent: Message, session: Session, body: str, sid: str = "SM" + "b" * 32
) -> dict[str, str]:
    phone = session.exec(
        select(Participant.phone).where(Participant.id == sent.participant_id)
    ).one()
    return {"MessageSid": sid, "From": phone or "", "To": "+447700900000", "Body": body}


def test_stop_opts_out_at_once_and_cancels_pending_texts(
    app: Flask, session: Session, sent: Message
) -> None:
    form = inbound(sent, session, " stop ")
    response = post(app.test_client(), "/webhooks/twilio/inbound", form)
    assert response.status_code == 200 and "<Message>" not in response.get_data(as_text=True)
    assert session.exec(select(OptOut).where(OptOut.phone == form["From"])).first()
    pending = session.exec(
        select(Message).where(
            Message.participant_id == sent.participant_id,
            Message.channel == "sms",
            col(Message.id) != sent.id,
        )
    ).all()
    assert pending and {(m.status, m.reason) for m in pending} == {("cancelled", "opted_out")}
    again = post(app.test_client(), "/webhooks/twilio/inbound", form)  # Twilio retries
    assert again.status_code == 200
    assert len(session.exec(select(InboundMessage)).all()) == 1


def test_start_opts_back_in(app: Flask, session: Session, sent: Message) -> None:
    client = app.test_client()
    post(client, "/webhooks/twilio/inbound", inbound(sent, session, "STOP", "SM" + "1" * 32))
    form = inbound(sent, session, "Start", "SM" + "2" * 32)
    post(client, "/webhooks/twilio/inbound", form)
    assert session.exec(select(OptOut).where(OptOut.phone == form["From"])).first() is None


def test_help_replies_with_the_trials_help_text(
    app: Flask, session: Session, sent: Message
) -> None:
    response = post(app.test_client(), "/webhooks/twilio/inbound", inbound(sent, session, "help"))
    assert (
        "<Message>Witness Care Unit reminders. Call 0117 496 0000. Reply STOP to opt out.</Message>"
    ) in response.get_data(as_text=True)


@pytest.mark.parametrize(("body", "kind"), [("CONFIRM", "confirm"), ("Yes I'll be there", "other")])
def test_confirm_is_recorded_and_anything_else_kept_for_staff(
    app: Flask, session: Session, sent: Message, body: str, kind: str
) -> None:
    post(app.test_client(), "/webhooks/twilio/inbound", inbound(sent, session, body))
    reply = session.exec(select(InboundMessage)).one()
    assert (reply.kind, reply.participant_id) == (kind, sent.participant_id)
    assert session.exec(select(OptOut)).first() is None  # YES is not an opt-in or opt-out


def test_a_signed_request_missing_fields_gets_a_clear_400(app: Flask, sent: Message) -> None:
    response = post(app.test_client(), "/webhooks/twilio/inbound", {"Body": "hi"})
    assert response.status_code == 400
    assert response.get_data(as_text=True) == "missing form field(s): MessageSid, From\n"


class ReportsBeforeReturning(ConsoleProvider):
    """A provider so quick that its signed delivery report lands before `send` returns."""

    def __init__(self, outbox: Path, clock: FixedClock, client: FlaskClient) -> None:
        super().__init__(outbox, clock)
        self.client = client

    def send(self, sms: OutgoingSms) -> SendReceipt:
        receipt = super().send(sms)
        assert sms.status_callback is not None
        form = {"MessageSid": receipt.provider_id, "MessageStatus": "delivered"}
        assert post(self.client, sms.status_callback.removeprefix(PUBLIC), form).status_code == 204
        return receipt


def test_a_delivery_report_that_beats_the_dispatchers_own_record_is_not_undone(
    app: Flask, session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    launch(session, clock, example_dir / "witness-reminders.yaml")
    path = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 13)])
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()
    clock.set(FIRST_DUE)
    provider = ReportsBeforeReturning(tmp_path / "out", clock, app.test_client())
    result = dispatch_due(
        app.extensions["nudge"]["engine"],
        clock,
        provider,
        worker="w",
        public_url=PUBLIC,
    )
    assert result.sent > 0
    session.expire_all()
    sent = session.exec(select(Message).where(col(Message.sent_at).is_not(None))).all()
    assert len(sent) == result.sent
    assert {m.status for m in sent} == {"delivered"}
    assert all(m.provider_id and m.lease_owner is None for m in sent)
