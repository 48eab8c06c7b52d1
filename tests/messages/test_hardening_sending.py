"""Issue 17, sending: a provider that refuses our credentials or asks us to slow down stops or
pauses the run, recorded once, and leaves the texts queued; through the real twilio client
against the fake Twilio server, on the engine under test."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from messages.dispatch import MAX_PAUSES
from nudge.clock import FixedClock
from nudge.models import Message, MessageEvent
from tests.conftest import Cli
from tests.fakes.twilio_server import FakeTwilioServer
from tests.messages.sending import (
    FIRST_DUE,
    accepted_ids,
    dispatch_through,
    send_due,
    twilio_provider,
)


def rows(session: Session, ids: list[int]) -> list[Message]:
    session.expire_all()
    return list(session.exec(select(Message).where(col(Message.id).in_(ids))).all())


def events(session: Session, ids: list[int]) -> list[MessageEvent]:
    query = select(MessageEvent).where(col(MessageEvent.message_id).in_(ids))
    return list(session.exec(query).all())


def creates(fake: FakeTwilioServer) -> int:
    return fake.state.requests["POST Messages"]


def test_refused_credentials_stop_the_run_at_once_with_one_event_and_the_texts_queued(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
) -> None:
    result = send_due(engine, clock, twilio_provider(fake_twilio, clock, token="revoked-token"))
    assert result.stopped == "credentials_refused" and "refused the credentials" in (
        result.stopped_because or ""
    )
    assert (result.sent, result.retried, result.failed) == (0, 0, 0)
    assert creates(fake_twilio) == 1  # one try: every other text would be refused alike
    queued = rows(session, texts)
    assert {(m.status, m.attempts) for m in queued} == {("scheduled", 0)}
    outcomes = [e for e in events(session, texts) if e.status != "sending"]
    assert [(e.status, e.error_code, e.detail.get("reason")) for e in outcomes] == [
        ("scheduled", "20003", "credentials_refused")
    ]
    fixed = send_due(engine, clock, twilio_provider(fake_twilio, clock))  # settings put right
    assert fixed.sent == len(texts) and fixed.stopped is None
    assert accepted_ids(fake_twilio) == Counter({i: 1 for i in texts})


def test_credentials_revoked_mid_run_stop_it_after_what_went(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
) -> None:
    fake_twilio.state.faults.script = ["ok", "ok", "401"]
    result = send_due(engine, clock, twilio_provider(fake_twilio, clock))
    assert (result.sent, result.stopped) == (2, "credentials_refused")
    assert creates(fake_twilio) == 3
    statuses = Counter(m.status for m in rows(session, texts))
    assert statuses == Counter({"sent": 2, "scheduled": len(texts) - 2})


def test_a_rate_limit_pauses_the_run_once_and_every_text_still_goes_once(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
) -> None:
    fake_twilio.state.faults.script = ["ok", "429"]
    result = send_due(engine, clock, twilio_provider(fake_twilio, clock))
    assert (result.sent, result.rate_limited, result.retried, result.stopped) == (
        len(texts),
        1,
        0,
        None,
    )
    assert accepted_ids(fake_twilio) == Counter({i: 1 for i in texts})
    limited = [e for e in events(session, texts) if e.error_code == "20429"]
    assert [(e.status, e.detail.get("reason")) for e in limited] == [("scheduled", "rate_limited")]
    assert {(m.status, m.attempts) for m in rows(session, texts)} == {("sent", 1)}
    assert clock.now() - FIRST_DUE >= timedelta(seconds=1)  # it waited, on the injected clock


def test_a_provider_that_keeps_asking_to_slow_down_ends_the_run_with_the_texts_queued(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    fake_twilio: FakeTwilioServer,
) -> None:
    fake_twilio.state.faults.rates = {"429": 1.0}
    result = send_due(engine, clock, twilio_provider(fake_twilio, clock))
    assert result.stopped == "rate_limited" and result.sent == 0
    assert creates(fake_twilio) == MAX_PAUSES + 1  # one try a pause, never one a text
    assert clock.now() - FIRST_DUE >= timedelta(seconds=2**MAX_PAUSES - 1)  # 1 + 2 + 4 + ...
    assert {(m.status, m.attempts) for m in rows(session, texts)} == {("scheduled", 0)}
    assert not [e for e in events(session, texts) if e.status in ("retry", "failed")]


def test_nudge_dispatch_says_the_credentials_were_refused_and_exits_1(
    cli: Cli, texts: list[int], fake_twilio: FakeTwilioServer
) -> None:
    dispatch_through(cli, fake_twilio)
    cli.env["TWILIO_AUTH_TOKEN"] = "revoked-token"
    result = cli("dispatch")
    assert result.exit_code == 1
    assert "STOPPED: Twilio refused the credentials: check TWILIO_ACCOUNT_SID" in result.output
    assert "the texts not sent stay queued" in result.output
    assert creates(fake_twilio) == 1
