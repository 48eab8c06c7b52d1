"""Letters through GOV.UK Notify: each sent once, on its posting day, as its own PDF with its id
as the reference; a PDF breaking Notify's rules failed and never sent; crashes and faults
settled by reference; Notify's receipts and returned-letter reports recorded."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pdfplumber
import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from werkzeug.serving import make_server

from analysis.frame import frame_from_db
from messages.intake import enrol_and_plan
from messages.notify_letters import LetterRun, send_due_letters
from messages.providers.base import OutgoingLetter, SendReceipt, SentRecord
from messages.providers.notify_letters import NotifyLetterProvider
from messages.sending import LEASE
from nudge.clock import FixedClock
from nudge.config import load_settings
from nudge.models import Message, MessageEvent, Participant
from nudge.web import create_app
from tests.conftest import Cli
from tests.factories import launch, person, write_people
from tests.fakes.notify_server import FakeNotifyServer
from tests.fakes.notify_state import (
    FAKE_API_KEY,
    FAKE_CALLBACK_TOKEN,
    FakeNotifyState,
    NotifyFaults,
)

TRIAL = "witness-reminders-2027"
# Hearings on Thursday 4 March 2027, letters to arrive 14 days before: posted Friday 12 February
# (due at the 09:00 print run).
POSTING_DAY = date(2027, 2, 12)
MORNING = datetime(2027, 2, 12, 9, 30, tzinfo=UTC)


def enrolled(session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path) -> list[int]:
    """A live trial with 30 people enrolled (every fifth reads Welsh); the letter ids due."""
    launch(session, clock, example_dir / "witness-reminders.yaml")
    people = [person(i, language="cy" if i % 5 == 0 else "en") for i in range(1, 31)]
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "people.csv", people), "test")
    session.commit()
    ids = session.exec(
        select(Message.id).where(Message.channel == "letter", Message.status == "scheduled")
    ).all()
    assert len(ids) >= 5
    return sorted(i for i in ids if i is not None)


@pytest.fixture
def letters(session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path) -> list[int]:
    return enrolled(session, clock, example_dir, tmp_path)


@pytest.fixture
def long_letters(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> list[int]:
    """As `letters`, the trial's letter (English and Welsh) made far longer than ten pages."""
    paragraph = "This paragraph makes the letter far longer than Notify allows. " * 8
    for name in ("social_norm.md", "social_norm.cy.md"):
        path = example_dir / "letters" / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text + "\n\n".join(["", *[paragraph] * 60]), encoding="utf-8")
    return enrolled(session, clock, example_dir, tmp_path)


@pytest.fixture
def fake(clock: FixedClock) -> Iterator[FakeNotifyServer]:
    with FakeNotifyServer(FakeNotifyState(now=clock.now)) as server:
        yield server


def provider(fake: FakeNotifyServer, timeout: float = 15.0) -> NotifyLetterProvider:
    return NotifyLetterProvider(FAKE_API_KEY, base_url=fake.url, timeout=timeout)


def send(engine: Engine, clock: FixedClock, sender: object) -> LetterRun:
    return send_due_letters(engine, clock, sender, worker="test")  # type: ignore[arg-type]


def stored(session: Session, ids: list[int]) -> dict[int, Message]:
    session.expire_all()
    return {m.id or 0: m for m in session.exec(select(Message).where(col(Message.id).in_(ids)))}


def accepted(fake: FakeNotifyServer) -> Counter[int]:
    return Counter(fake.state.our_message_ids("letter"))


def test_each_letter_goes_once_on_its_posting_day_with_its_id_as_the_reference(
    engine: Engine, session: Session, clock: FixedClock, letters: list[int], fake: FakeNotifyServer
) -> None:
    clock.set(MORNING - timedelta(days=1))
    assert send(engine, clock, provider(fake)).sent == 0  # the day before: nothing
    clock.set(MORNING)
    run = send(engine, clock, provider(fake))
    assert (run.sent, run.failed, run.withheld) == (len(letters), 0, 0)
    again = send(engine, clock, provider(fake))
    clock.advance(timedelta(days=1))
    later = send(engine, clock, provider(fake))
    assert again.sent == later.sent == 0
    assert accepted(fake) == Counter({i: 1 for i in letters})
    ids = {n["reference"]: n["id"] for n in fake.state.notifications}
    for message in stored(session, letters).values():
        assert (message.status, message.provider_id) == ("sent", ids[str(message.id)])
        assert message.sent_at == MORNING and message.cost == 0.85


def test_a_welsh_letter_goes_as_welsh_and_an_english_one_as_english(
    engine: Engine, session: Session, clock: FixedClock, letters: list[int], fake: FakeNotifyServer
) -> None:
    clock.set(MORNING)
    send(engine, clock, provider(fake))
    languages = {m.id: m.language for m in stored(session, letters).values()}
    assert set(languages.values()) == {"en", "cy"}
    for notification in fake.state.notifications:
        pdf = fake.state.letter_pdfs[notification["id"]]
        with pdfplumber.open(BytesIO(pdf)) as document:
            text = "\n".join(page.extract_text() or "" for page in document.pages)
        reference = notification["reference"]
        if languages[int(reference)] == "cy":
            assert f"Cyf {reference}" in text and "12 Chwefror 2027" in text
        else:
            assert f"Ref {reference}" in text and "12 February 2027" in text


def test_a_letter_breaking_notifys_rules_fails_with_its_reason_and_is_never_sent(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    long_letters: list[int],
    fake: FakeNotifyServer,
) -> None:
    letters = long_letters
    clock.set(MORNING)
    run = send(engine, clock, provider(fake))
    assert (run.sent, run.failed) == (0, len(letters))
    assert run.reasons == {"letter_too_long": len(letters)}
    assert fake.state.requests["POST letter"] == 0
    for message in stored(session, letters).values():
        assert (message.status, message.reason) == ("failed", "letter_too_long")
    events = session.exec(
        select(MessageEvent).where(col(MessageEvent.message_id).in_(letters))
    ).all()
    assert all("pages; Notify posts letters of at most 10" in e.detail["rule"] for e in events)


class Crash(BaseException):
    """The worker's process dying mid-send."""


class CrashingNotify:
    """The real provider, but the process dies just before (or just after) Notify is asked."""

    name = "notify"

    def __init__(self, real: NotifyLetterProvider, *, after: bool) -> None:
        self.real, self.after = real, after

    def send(self, letter: OutgoingLetter) -> SendReceipt:
        if self.after:
            self.real.send(letter)
        raise Crash

    def find_reference(self, reference: str) -> SentRecord | None:
        return self.real.find_reference(reference)


@pytest.mark.parametrize("after", [True, False], ids=["after-notify-took-it", "before"])
def test_a_crash_mid_send_is_settled_by_reference_and_nothing_goes_twice(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    letters: list[int],
    fake: FakeNotifyServer,
    after: bool,
) -> None:
    clock.set(MORNING)
    with pytest.raises(Crash):
        send(engine, clock, CrashingNotify(provider(fake), after=after))
    interrupted = [m for m in stored(session, letters).values() if m.status == "sending"]
    assert len(interrupted) == 1
    clock.advance(LEASE + timedelta(minutes=1))
    run = send(engine, clock, provider(fake))
    assert (run.confirmed_sent, run.requeued) == ((1, 0) if after else (0, 1))
    assert run.sent == len(letters) - (1 if after else 0)
    assert accepted(fake) == Counter({i: 1 for i in letters})
    assert {m.status for m in stored(session, letters).values()} == {"sent"}


def test_notify_faults_are_retried_and_settled_without_a_letter_sent_twice(
    engine: Engine, session: Session, clock: FixedClock, letters: list[int], fake: FakeNotifyServer
) -> None:
    fake.state.faults = NotifyFaults(
        script=["429", "500", "lost_reply", "drop", "malformed"], hang_seconds=1.0
    )
    clock.set(MORNING)
    first = send(engine, clock, provider(fake, timeout=0.5))
    assert first.stopped == "rate_limited" and first.sent == 0  # the 429 stops the run
    runs = [first]
    for _ in range(4):
        clock.advance(timedelta(minutes=5))
        runs.append(send(engine, clock, provider(fake, timeout=0.5)))
    assert sum(r.retried for r in runs) == 1  # the 500, later
    assert sum(r.ambiguous for r in runs) == 3  # no reply, a dropped line, a garbled reply
    assert sum(r.confirmed_sent for r in runs) == 2  # Notify had two of those three
    assert sum(r.requeued for r in runs) == 1  # and not the dropped one
    assert accepted(fake) == Counter({i: 1 for i in letters})
    ids = {n["reference"]: n["id"] for n in fake.state.notifications}
    for message in stored(session, letters).values():
        assert (message.status, message.provider_id) == ("sent", ids[str(message.id)])


def test_a_refused_key_stops_the_run_and_leaves_every_letter_queued(
    engine: Engine, session: Session, clock: FixedClock, letters: list[int], fake: FakeNotifyServer
) -> None:
    fake.state.faults = NotifyFaults(script=["403"])
    clock.set(MORNING)
    run = send(engine, clock, provider(fake))
    assert run.stopped == "credentials_refused" and run.sent == 0
    assert {(m.status, m.attempts) for m in stored(session, letters).values()} == {("scheduled", 0)}


@contextmanager
def live_app(db_url: str) -> Iterator[str]:
    """The real app on a loopback port, checking Notify's bearer token."""
    holder: dict[str, Flask] = {}
    server = make_server(
        "127.0.0.1", 0, lambda env, reply: holder["app"](env, reply), threaded=True
    )
    settings = {
        "NUDGE_DATABASE_URL": db_url,
        "NUDGE_NOW": MORNING.isoformat(),
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


@contextmanager
def notify_calling_back(db_url: str, clock: FixedClock, outcome: str) -> Iterator[FakeNotifyServer]:
    with live_app(db_url) as url:
        state = FakeNotifyState(now=clock.now)
        state.letter_outcome = outcome
        with FakeNotifyServer(
            state,
            callback_url=f"{url}/webhooks/notify/status",
            returned_letter_url=f"{url}/webhooks/notify/returned-letter",
        ) as server:
            yield server
            assert server.callbacks is not None
            server.callbacks.wait_idle()
            assert server.callbacks.failed == 0


@pytest.mark.parametrize(
    ("outcome", "status", "reason", "delivered"),
    [
        ("received", "sent", None, 1.0),  # posted
        ("validation-failed", "failed", "provider_validation-failed", 0.0),
        ("cancelled", "cancelled", "provider_cancelled", 0.0),
    ],
)
def test_notifys_receipts_reach_each_letter_and_only_a_posted_one_counts_as_delivered(
    db_url: str,
    engine: Engine,
    session: Session,
    clock: FixedClock,
    letters: list[int],
    outcome: str,
    status: str,
    reason: str | None,
    delivered: float,
) -> None:
    clock.set(MORNING)
    with notify_calling_back(db_url, clock, outcome) as server:
        send(engine, clock, provider(server))
    messages = stored(session, letters).values()
    assert {(m.status, m.reason) for m in messages} == {(status, reason)}
    people = {m.participant_id for m in messages}
    refs = set(
        session.exec(select(Participant.participant_ref).where(col(Participant.id).in_(people)))
    )
    frame = frame_from_db(session, TRIAL).set_index("participant_ref")
    assert set(frame.loc[sorted(refs), "delivered"]) == {delivered}
    events = session.exec(
        select(MessageEvent).where(col(MessageEvent.message_id).in_(letters))
    ).all()
    assert Counter(e.provider_status for e in events)[outcome] == len(letters)


def test_a_returned_letter_report_marks_it_returned_and_withholds_the_persons_later_letters(
    db_url: str, engine: Engine, session: Session, clock: FixedClock, letters: list[int]
) -> None:
    clock.set(MORNING)
    with notify_calling_back(db_url, clock, "received") as server:
        send(engine, clock, provider(server))
        first = stored(session, letters)[letters[0]]
        waiting = _later_letter(session, first, timedelta(days=7))
        server.return_letter(str(first.id))
        server.callbacks.wait_idle()  # type: ignore[union-attr]
        server.return_letter(str(first.id))  # reported twice: changes nothing more
    returned = stored(session, [first.id or 0, waiting])
    assert (returned[first.id or 0].status, returned[waiting].status) == ("returned", "cancelled")
    assert returned[waiting].reason == "letter_returned"
    # A letter planned for them after the report is withheld at its own last check.
    planned_later = _later_letter(session, first, timedelta(days=8), slot=98)
    clock.advance(timedelta(days=8))
    run = send(engine, clock, provider(server))
    assert run.withheld == 1 and run.reasons == {"letter_returned": 1}
    assert stored(session, [planned_later])[planned_later].status == "cancelled"
    assert accepted(server)[planned_later] == 0
    frame = frame_from_db(session, TRIAL).set_index("participant_ref")
    person = session.get(Participant, first.participant_id)
    assert person is not None and frame.loc[person.participant_ref, "delivered"] == 0.0
    events = session.exec(
        select(MessageEvent).where(
            MessageEvent.message_id == first.id, MessageEvent.status == "returned"
        )
    ).all()
    assert len(events) == 1


def _later_letter(session: Session, letter: Message, later: timedelta, slot: int = 99) -> int:
    """Another letter for the same person and hearing, due `later` than this one."""
    copy = Message(
        **letter.model_dump(
            exclude={"id", "status", "reason", "provider_id", "sent_at", "slot", "attempts"}
        )
    )
    copy.slot, copy.status = slot, "scheduled"
    copy.due_at = copy.next_attempt_at = letter.due_at + later
    copy.expires_at = letter.expires_at + later
    copy.anchor_at = None
    session.add(copy)
    session.commit()
    assert copy.id is not None
    return copy.id


def test_nudge_dispatch_sends_the_letters_through_notify_and_a_print_run_is_refused(
    cli: Cli, letters: list[int], fake: FakeNotifyServer, tmp_path: Path
) -> None:
    fake.state.now = lambda: MORNING
    cli.env.update(
        {
            "NUDGE_LETTER_PROVIDER": "notify",
            "NOTIFY_API_KEY": FAKE_API_KEY,
            "NUDGE_NOTIFY_BASE_URL": fake.url,
            "NUDGE_NOW": MORNING.isoformat(),
        }
    )
    result = cli("dispatch")
    assert result.exit_code == 0, result.output
    assert f"letters through Notify: sent {len(letters)}, retrying later 0, failed 0" in (
        result.output
    )
    assert "letters through Notify: sent 0," in cli("dispatch").output
    assert accepted(fake) == Counter({i: 1 for i in letters})
    printed = cli("letters", "batch", TRIAL, "--date", "2027-02-12", "--out", str(tmp_path / "p"))
    assert printed.exit_code == 1 and "NUDGE_LETTER_PROVIDER=notify" in printed.output
    assert "Traceback" not in printed.output and not (tmp_path / "p").exists()
