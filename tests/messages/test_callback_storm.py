"""A storm of status callbacks, duplicated and shuffled, ends where the same callbacks in order do.

Six hundred sent texts get the callbacks Twilio sends for them (queued, sent, then delivered,
undelivered or failed with an error code), posted signed through the real webhook: once in
order into one database, once as 10,000 requests with duplicates in random order into a fresh
one. Every message must end in the same state, with the same reason, as the order-free model
says, and every distinct callback must be kept, once.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from experiments.enrol import enrol_file
from nudge.bulk import Same, insert_rows
from nudge.clock import FixedClock
from nudge.config import DEVELOPMENT_SECRET, load_settings
from nudge.db import make_engine
from nudge.models import Hearing, Message, MessageEvent, OptOut, Participant
from nudge.models.tables import MESSAGES as MESSAGE_TABLE
from nudge.web import create_app
from tests.conftest import _under_test_url, migrated_postgres_database
from tests.factories import launch, person, write_people

PUBLIC = "https://nudge.example"
TRIAL = "witness-reminders-2027"
SENT_AT = datetime(2027, 2, 25, 18, tzinfo=UTC)
MESSAGES = 600
PEOPLE = 40
# The 10,000 requests: about 7 ms of CPU each through Flask and the database here.
STORM = 10_000
SEED = 20270225
UNSUBSCRIBED_AT = (41, 221, 531)  # texts of people who also have texts still to go


@dataclass(frozen=True)
class Planned:
    """One text as stored before the storm, and the callbacks Twilio will send for it."""

    slot: int
    participant: int  # index into the enrolled people
    status: str  # scheduled (no callbacks), sending (our record overtaken) or sent
    sid: str
    callbacks: tuple[tuple[str, str | None], ...]  # (MessageStatus, ErrorCode)
    by_id: bool  # the callback URL carries ?m=<message id> (the dispatcher's own URL)


def plan(rng: random.Random) -> list[Planned]:
    """Deterministic texts with Twilio's callback sequences; a few scheduled ones get none."""
    planned = []
    for n in range(MESSAGES):
        sid = f"SM{n:032x}"
        roll = rng.random()
        if roll < 0.7:
            callbacks: tuple[tuple[str, str | None], ...] = (
                ("queued", None),
                ("sent", None),
                ("delivered", None),
            )
        elif roll < 0.85:
            code = rng.choice(["30003", "30005", "30006", "30007"])
            callbacks = (("queued", None), ("sent", None), ("undelivered", code))
        else:
            callbacks = (("queued", None), ("failed", rng.choice(["30008", "30410"])))
        if n in UNSUBSCRIBED_AT:
            callbacks = (("queued", None), ("failed", "21610"))  # the carrier says unsubscribed
        status = "sending" if n % 40 == 3 else "sent"
        if n % 50 == 11:
            status, callbacks = "scheduled", ()
        planned.append(
            Planned(
                n // PEOPLE, n % PEOPLE, status, sid, callbacks, n % 10 != 0 or status != "sent"
            )
        )
    return planned


def expected_finals(planned: list[Planned]) -> dict[tuple[int, int], tuple[str, str | None]]:
    """The order-free model: a text ends at its last callback's state; STOP cancels the rest."""
    unsubscribed = {p.participant for p in planned if ("failed", "21610") in p.callbacks}
    finals = {}
    for p in planned:
        status, code = p.callbacks[-1] if p.callbacks else (p.status, None)
        reason = f"provider_{code}" if code else None
        if p.status == "scheduled" and p.participant in unsubscribed:
            status, reason = "cancelled", "opted_out"
        finals[(p.participant, p.slot)] = (status, reason)
    return finals


@pytest.fixture
def fresh_db_url(_migrated_template: str, tmp_path: Path) -> Iterator[str]:
    """A second migrated, empty database on the engine under test."""
    if _under_test_url() is None:
        path = tmp_path / "storm.db"
        shutil.copy(_migrated_template, path)
        yield f"sqlite:///{path}"
        return
    with migrated_postgres_database(_migrated_template.rsplit("/", 1)[0]) as url:
        yield url


def build(db_url: str, example_dir: Path, tmp_path: Path, planned: list[Planned]) -> None:
    """The same trial, people and texts in a database, ready for their callbacks."""
    clock = FixedClock(SENT_AT - timedelta(days=30))
    engine = make_engine(db_url)
    with Session(engine) as session:
        launch(session, clock, example_dir / "witness-reminders.yaml")
        people = write_people(tmp_path / "people.csv", [person(i) for i in range(1, PEOPLE + 1)])
        enrol_file(session, clock, TRIAL, people, "test")
        owners = session.exec(
            select(Participant.id, Hearing.id)
            .join(Hearing, col(Hearing.case_id) == Participant.case_id)
            .order_by(col(Participant.participant_ref))
        ).all()
        sent = [p.status == "sent" for p in planned]
        insert_rows(
            session,
            MESSAGE_TABLE,
            {
                "trial_id": Same(TRIAL),
                "participant_id": [owners[p.participant][0] for p in planned],
                "hearing_id": [owners[p.participant][1] for p in planned],
                "hearing_version": Same(1),
                "slot": [p.slot for p in planned],
                "channel": Same("sms"),
                "template": Same("practical_7d"),
                "language": Same("en"),
                "due_at": Same(SENT_AT),
                "expires_at": Same(SENT_AT + timedelta(days=7)),
                "next_attempt_at": Same(SENT_AT),
                "status": [p.status for p in planned],
                "updated_at": Same(SENT_AT),
                "provider_id": [p.sid if s else None for p, s in zip(planned, sent, strict=True)],
                "sent_at": [SENT_AT if s else None for s in sent],
            },
        )
        session.commit()
    engine.dispose()


def requests_for(db_url: str, planned: list[Planned]) -> list[tuple[str, dict[str, str]]]:
    """Every callback, in order, as (path, form) the way Twilio posts it."""
    engine = make_engine(db_url)
    with Session(engine) as session:
        ids = {
            (ref, slot): message_id
            for message_id, ref, slot in session.exec(
                select(Message.id, Participant.participant_ref, Message.slot).join(
                    Participant, col(Participant.id) == Message.participant_id
                )
            )
        }
    engine.dispose()
    requests = []
    for p in planned:
        message_id = ids[(f"P{p.participant + 1:05d}", p.slot)]
        path = f"/webhooks/twilio/status?m={message_id}" if p.by_id else "/webhooks/twilio/status"
        for status, code in p.callbacks:
            form = {
                "MessageSid": p.sid,
                "SmsSid": p.sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "AccountSid": "AC" + "0" * 32,
                "From": "+447700900000",
                "To": f"+447700900{(p.participant + 1) % 1000:03d}",
                "ApiVersion": "2010-04-01",
            }
            if code:
                form["ErrorCode"] = code
            requests.append((path, form))
    return requests


def post_all(db_url: str, requests: list[tuple[str, dict[str, str]]]) -> None:
    app: Flask = create_app(
        load_settings(
            {
                "NUDGE_DATABASE_URL": db_url,
                "NUDGE_PUBLIC_URL": PUBLIC,
                "NUDGE_NOW": "2027-02-26T09:00:00Z",
            }
        )
    )
    validator = RequestValidator(DEVELOPMENT_SECRET)
    client = app.test_client()
    answers: Counter[int] = Counter()
    for path, form in requests:
        signature = validator.compute_signature(PUBLIC + path, form)
        answers[
            client.post(path, data=form, headers={"X-Twilio-Signature": signature}).status_code
        ] += 1
    app.extensions["nudge"]["engine"].dispose()
    assert answers == {204: len(requests)}


@dataclass(frozen=True)
class Outcome:
    finals: dict[tuple[int, int], tuple[str, str | None]]
    provider_ids: dict[tuple[int, int], str | None]
    callbacks_seen: dict[tuple[int, int], set[tuple[str | None, str | None]]]
    callback_events: int
    opted_out: set[str]


def outcome(db_url: str) -> Outcome:
    engine: Engine = make_engine(db_url)
    with Session(engine) as session:
        refs = {
            pid: int(ref[1:]) - 1
            for pid, ref in session.exec(select(Participant.id, Participant.participant_ref))
        }
        messages = session.exec(select(Message)).all()
        keys = {m.id: (refs[m.participant_id], m.slot) for m in messages}
        seen: dict[tuple[int, int], set[tuple[str | None, str | None]]] = {
            k: set() for k in keys.values()
        }
        events = session.exec(select(MessageEvent)).all()
        for event in events:
            if event.detail.get("source") == "callback":
                seen[keys[event.message_id]].add((event.provider_status, event.error_code))
        found = Outcome(
            {keys[m.id]: (m.status, m.reason) for m in messages},
            {keys[m.id]: m.provider_id for m in messages},
            seen,
            sum(1 for e in events if e.detail.get("source") == "callback"),
            set(session.exec(select(OptOut.phone)).all()),
        )
    engine.dispose()
    return found


def test_a_shuffled_storm_of_duplicated_callbacks_ends_where_the_callbacks_in_order_do(
    db_url: str, fresh_db_url: str, example_dir: Path, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    planned = plan(rng)
    build(db_url, example_dir, tmp_path, planned)
    build(fresh_db_url, example_dir, tmp_path, planned)
    in_order = requests_for(db_url, planned)
    storm = requests_for(fresh_db_url, planned)
    storm += rng.choices(storm, k=STORM - len(storm))  # Twilio retries: the same callback again
    rng.shuffle(storm)
    assert len(storm) == STORM and len(in_order) < STORM

    post_all(db_url, in_order)
    post_all(fresh_db_url, storm)
    ordered, stormed = outcome(db_url), outcome(fresh_db_url)

    model = expected_finals(planned)
    assert ordered.finals == model
    assert stormed.finals == model
    assert Counter(status for status, _ in model.values()).keys() >= {
        "delivered",
        "undelivered",
        "failed",
        "cancelled",
        "scheduled",
    }
    assert stormed.provider_ids == ordered.provider_ids
    unsent = ("scheduled", "cancelled")
    assert all(sid for key, sid in ordered.provider_ids.items() if model[key][0] not in unsent)
    assert stormed.callbacks_seen == ordered.callbacks_seen
    # Each distinct callback is kept once: a replay adds nothing (issue 17).
    assert (ordered.callback_events, stormed.callback_events) == (len(in_order), len(in_order))
    assert stormed.opted_out == ordered.opted_out and len(ordered.opted_out) == 3
