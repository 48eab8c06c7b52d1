"""Sending exactly once: due texts go, unsafe ones are withheld, failures retried or recorded."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from messages.callbacks import apply_status
from messages.dispatch import DispatchResult, dispatch_due
from messages.intake import enrol_and_plan
from messages.providers.base import OutgoingSms, SendReceipt, SentRecord
from messages.providers.console import ConsoleProvider
from messages.recovery import recover
from messages.render import RenderCache
from nudge.clock import FixedClock
from nudge.errors import ProviderError
from nudge.models import Message, MessageEvent, OptOut, Participant
from tests.factories import launch, person, write_people
from tests.messages.sending import addressee

TRIAL = "witness-reminders-2027"
FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)  # 18:00 a week before 4 March


class ScriptedProvider(ConsoleProvider):
    """The console provider, but the calls named in `failures` raise instead (or as well)."""

    def __init__(
        self,
        outbox: Path,
        clock: FixedClock,
        failures: dict[int, ProviderError],
        send_then_fail: bool = False,
    ) -> None:
        super().__init__(outbox, clock)
        self.failures, self.send_then_fail, self.calls = failures, send_then_fail, 0

    def send(self, sms: OutgoingSms) -> SendReceipt:
        self.calls += 1
        error = self.failures.get(self.calls)
        if error is None:
            return super().send(sms)
        if self.send_then_fail:
            super().send(sms)
        raise error


@pytest.fixture
def texts(session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path) -> list[int]:
    """A live trial with 12 people enrolled; returns the ids of the SMS due first."""
    launch(session, clock, example_dir / "witness-reminders.yaml")
    path = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 13)])
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()
    return list(
        session.exec(
            select(Message.id).where(Message.channel == "sms", Message.due_at == FIRST_DUE)
        ).all()
    )  # type: ignore[arg-type]


def send_console(engine: Engine, clock: FixedClock, outbox: Path) -> DispatchResult:
    """One dispatch run through the console provider, writing the texts into `outbox`."""
    return dispatch_due(engine, clock, ConsoleProvider(outbox, clock), worker="w")


def statuses(session: Session, ids: list[int]) -> list[tuple[str, str | None]]:
    session.expire_all()
    rows = session.exec(select(Message).where(col(Message.id).in_(ids)).order_by(Message.id))
    return [(m.status, m.reason) for m in rows]


def test_nothing_is_sent_before_it_is_due(
    engine: Engine, clock: FixedClock, texts: list[int], tmp_path: Path
) -> None:
    result = send_console(engine, clock, tmp_path / "out")
    assert result.sent == 0 and not (tmp_path / "out").exists()


def test_due_texts_are_sent_once_with_provider_ids_and_costs(
    engine: Engine, session: Session, clock: FixedClock, texts: list[int], tmp_path: Path
) -> None:
    clock.set(FIRST_DUE)
    outbox = tmp_path / "out"
    result = send_console(engine, clock, outbox)
    assert result.sent == len(texts) > 0
    assert statuses(session, texts) == [("sent", None)] * len(texts)
    lines = [json.loads(x) for x in (outbox / "sms-2027-02-25.jsonl").read_text().splitlines()]
    assert sorted(x["message_id"] for x in lines) == sorted(texts)
    sent = session.get(Message, texts[0])
    assert sent is not None and sent.provider_id and sent.segments >= 1 and sent.cost > 0
    assert "Thursday 4 March at 10am" in lines[0]["body"]
    again = send_console(engine, clock, outbox)
    assert again.sent == 0  # nothing twice


def test_the_trials_rate_limit_spaces_the_sends(
    engine: Engine, session: Session, clock: FixedClock, texts: list[int], tmp_path: Path
) -> None:
    clock.set(FIRST_DUE)
    send_console(engine, clock, tmp_path / "out")
    times = sorted(
        m.sent_at
        for m in session.exec(select(Message).where(col(Message.id).in_(texts)))
        if m.sent_at
    )
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert gaps and min(gaps) >= 0.1 - 1e-9  # 10 a second, the example's max_per_second


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("safeguarding", "safeguarding"),
        ("opt_out", "opted_out"),
        ("late", "expired"),
    ],
)
def test_a_text_that_became_unsafe_is_withheld_at_the_last_moment(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    texts: list[int],
    tmp_path: Path,
    change: str,
    reason: str,
) -> None:
    _message, participant = addressee(session, texts[0])
    assert participant.phone is not None
    if change == "safeguarding":
        participant.safeguarding_flag = True
    elif change == "opt_out":
        session.add(OptOut(phone=participant.phone, source="STOP", opted_out_at=clock.now()))
    session.commit()
    clock.set(FIRST_DUE if change != "late" else datetime(2027, 3, 4, 10, 30, tzinfo=UTC))
    result = send_console(engine, clock, tmp_path / "out")
    assert statuses(session, [texts[0]]) == [("cancelled", reason)]
    assert result.withheld >= 1


def test_a_transient_error_is_retried_later_and_a_permanent_one_recorded(
    engine: Engine, session: Session, clock: FixedClock, texts: list[int], tmp_path: Path
) -> None:
    clock.set(FIRST_DUE)
    provider = ScriptedProvider(
        tmp_path / "out",
        clock,
        {
            1: ProviderError("Service Unavailable", code="20503", transient=True),
            2: ProviderError("The 'To' number is not a valid phone number", code="21211"),
        },
    )
    result = dispatch_due(engine, clock, provider, worker="w")
    assert (result.retried, result.failed) == (1, 1)
    first, second = statuses(session, texts[:2])
    assert first == ("scheduled", None) and second == ("failed", "invalid_number")
    retry = session.get(Message, texts[0])
    assert retry is not None and retry.next_attempt_at > clock.now() - timedelta(seconds=5)
    assert retry.attempts == 1 and retry.last_error == "20503 Service Unavailable"


def test_an_ambiguous_failure_is_reconciled_not_sent_again(
    engine: Engine, session: Session, clock: FixedClock, texts: list[int], tmp_path: Path
) -> None:
    clock.set(FIRST_DUE)
    outbox = tmp_path / "out"
    went_out = ScriptedProvider(
        outbox,
        clock,
        {1: ProviderError("read timed out", transient=True, ambiguous=True)},
        send_then_fail=True,
    )
    dispatch_due(engine, clock, went_out, worker="w")
    assert statuses(session, [texts[0]]) == [("sending", None)]
    clock.advance(timedelta(minutes=3))
    result = recover(engine, clock, ConsoleProvider(outbox, clock))
    assert (result.confirmed_sent, result.requeued) == (1, 0)
    assert statuses(session, [texts[0]]) == [("sent", None)]
    lines = (outbox / "sms-2027-02-25.jsonl").read_text().splitlines()
    assert sum(json.loads(x)["message_id"] == texts[0] for x in lines) == 1


def test_an_interrupted_send_that_never_reached_the_provider_is_queued_again(
    engine: Engine, session: Session, clock: FixedClock, texts: list[int], tmp_path: Path
) -> None:
    clock.set(FIRST_DUE)
    lost = ScriptedProvider(
        tmp_path / "out",
        clock,
        {1: ProviderError("connection reset", transient=True, ambiguous=True)},
    )
    dispatch_due(engine, clock, lost, worker="w")
    clock.advance(timedelta(minutes=3))
    result = recover(engine, clock, ConsoleProvider(tmp_path / "out", clock))
    assert result.requeued == 1 and statuses(session, [texts[0]]) == [("scheduled", None)]
    events = session.exec(
        select(MessageEvent.status)
        .where(MessageEvent.message_id == texts[0])
        .order_by(MessageEvent.id)
    ).all()
    assert events == ["sending", "scheduled"]


def test_dispatch_logs_no_names_numbers_or_texts(
    engine: Engine,
    clock: FixedClock,
    texts: list[int],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock.set(FIRST_DUE)
    with caplog.at_level(logging.DEBUG):
        send_console(engine, clock, tmp_path / "out")
    logged = caplog.text
    assert "console SMS for message" in logged
    assert "7700" not in logged and "Testy" not in logged and "McTestface" not in logged


class Records(ConsoleProvider):
    """A provider whose records for every number are the ones given."""

    def __init__(self, outbox: Path, clock: FixedClock, records: list[SentRecord]) -> None:
        super().__init__(outbox, clock)
        self.records = records

    def find_sent(self, to: str, since: datetime) -> list[SentRecord]:
        return [r for r in self.records if r.to == to and r.created_at >= since]


def test_one_record_at_the_provider_accounts_for_one_interrupted_text_only(
    engine: Engine, session: Session, clock: FixedClock, texts: list[int], tmp_path: Path
) -> None:
    """One person in three cases gets the same words three times. The first was sent and
    recorded; the worker died with the other two in `sending`, and Twilio holds one of them.
    Its record (and not the first text's) marks one sent; the other goes out again."""
    clock.set(FIRST_DUE)
    by_template: dict[str, list[Message]] = {}
    for message in session.exec(select(Message).where(col(Message.id).in_(texts))).all():
        by_template.setdefault(message.template, []).append(message)
    earlier, first, second = next(group for group in by_template.values() if len(group) >= 3)[:3]
    phone = "+447700900123"
    for message in (earlier, first, second):
        participant = session.get(Participant, message.participant_id)
        assert participant is not None
        participant.phone = phone
        session.add(participant)
    session.commit()
    renderer = RenderCache(None)
    bodies = {
        renderer.prepare(session, m, clock.now()).sms.body  # type: ignore[union-attr]
        for m in (earlier, first, second)
    }
    assert len(bodies) == 1  # the same words: only the records' ownership tells them apart
    body = bodies.pop()
    earlier.status, earlier.provider_id, earlier.sent_at = "sent", "SMearlier", clock.now()
    for message in (first, second):
        message.status, message.updated_at = "sending", clock.now()
        message.lease_until = clock.now() + timedelta(minutes=2)
    session.add_all([earlier, first, second])
    session.commit()
    held = [
        SentRecord("SMearlier", phone, body, "delivered", clock.now() - timedelta(minutes=1)),
        SentRecord("SMinterrupted", phone, body, "queued", clock.now()),
    ]
    clock.advance(timedelta(minutes=3))
    result = recover(engine, clock, Records(tmp_path / "out", clock, held))
    assert (result.confirmed_sent, result.requeued) == (1, 1)
    session.expire_all()
    assert [(m.status, m.provider_id) for m in (first, second)] == [
        ("sent", "SMinterrupted"),
        ("scheduled", None),
    ]


class CallbackFirst(ConsoleProvider):
    """The console provider, whose delivery report for every text reaches the app (in its own
    transaction) before the worker has recorded the send, as a fast network can make happen."""

    def __init__(self, outbox: Path, clock: FixedClock, engine: Engine) -> None:
        super().__init__(outbox, clock)
        self.engine = engine

    def send(self, sms: OutgoingSms) -> SendReceipt:
        receipt = super().send(sms)
        with Session(self.engine) as session:
            apply_status(
                session,
                self.clock,
                message_id=sms.message_id,
                provider_id=receipt.provider_id,
                provider_status="delivered",
                error_code=None,
            )
            session.commit()
        return receipt


def test_a_delivery_report_that_arrives_before_the_send_is_recorded_stands(
    engine: Engine, session: Session, clock: FixedClock, texts: list[int], tmp_path: Path
) -> None:
    clock.set(FIRST_DUE)
    provider = CallbackFirst(tmp_path / "out", clock, engine)
    result = dispatch_due(engine, clock, provider, worker="w")
    assert result.sent == len(texts)
    session.expire_all()
    rows = session.exec(select(Message).where(col(Message.id).in_(texts))).all()
    assert {m.status for m in rows} == {"delivered"}  # not moved back to "sent"
    assert all(m.provider_id and m.sent_at and m.lease_owner is None for m in rows)
