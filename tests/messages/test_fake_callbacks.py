"""The console provider's research mode: signed callbacks over HTTP reach the real app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, select

from messages.dispatch import DispatchResult, dispatch_due
from messages.intake import enrol_and_plan
from messages.providers.console import ConsoleProvider
from messages.providers.fake_callbacks import CallbackPoster, fake_statuses
from nudge.clock import FixedClock
from nudge.config import load_settings
from nudge.demo.server import BackgroundServer
from nudge.models import Message, MessageEvent, Participant
from nudge.web import create_app
from tests.factories import launch, person, write_people

TRIAL = "witness-reminders-2027"
FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("to", "final", "code"),
    [
        ("+447700900123", "delivered", None),
        ("+447700900002", "undelivered", "30005"),
        ("+447700900003", "failed", "30008"),
    ],
)
def test_drama_numbers_decide_the_fake_statuses(to: str, final: str, code: str | None) -> None:
    statuses = fake_statuses(to)
    assert [s.status for s in statuses] == ["sent", final]
    assert statuses[-1].error_code == code


@pytest.fixture
def served(db_url: str) -> Iterator[tuple[Flask, BackgroundServer]]:
    server = BackgroundServer(0)
    server.bind()
    app = create_app(
        load_settings(
            {
                "NUDGE_DATABASE_URL": db_url,
                "NUDGE_PUBLIC_URL": server.url,
                "NUDGE_NOW": FIRST_DUE.isoformat(),
            }
        )
    )
    server.start(app)
    yield app, server
    server.stop()
    app.extensions["nudge"]["engine"].dispose()


def send_posting_callbacks(
    served: tuple[Flask, BackgroundServer], clock: FixedClock, outbox: Path, token: str
) -> tuple[DispatchResult, CallbackPoster]:
    """At FIRST_DUE, send what is due through the console provider, which posts the fake
    status callbacks, signed with `token`, to the live app."""
    app, server = served
    clock.set(FIRST_DUE)
    poster = CallbackPoster(token)
    provider = ConsoleProvider(outbox, clock, poster)
    try:
        engine = app.extensions["nudge"]["engine"]
        result = dispatch_due(engine, clock, provider, worker="w", public_url=server.url)
    finally:
        provider.close()
    return result, poster


def test_fake_callbacks_reach_a_live_app_and_move_texts_to_their_final_state(
    served: tuple[Flask, BackgroundServer],
    session: Session,
    clock: FixedClock,
    example_dir: Path,
    tmp_path: Path,
) -> None:
    launch(session, clock, example_dir / "witness-reminders.yaml")
    phones = ("07700 900002", "07700 900003", "07700 900123")
    people = [person(i, phone=phones[i % 3]) for i in range(1, 19)]
    path = write_people(tmp_path / "people.csv", people)
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()
    token = served[0].extensions["nudge"]["settings"].webhook_token
    result, poster = send_posting_callbacks(served, clock, tmp_path / "out", token)
    assert result.sent > 2 and poster.failed == 0 and poster.posted == 2 * result.sent
    session.expire_all()
    texts = session.exec(
        select(Message, Participant)
        .join(Participant, Participant.id == Message.participant_id)  # type: ignore[arg-type]
        .where(Message.channel == "sms", Message.sent_at != None)  # noqa: E711
    ).all()
    finals: dict[str, set[str]] = {}
    for message, participant in texts:
        finals.setdefault(participant.phone or "", set()).add(message.status)
    assert finals == {
        "+447700900002": {"undelivered"},
        "+447700900003": {"failed"},
        "+447700900123": {"delivered"},
    }
    failed = next(m for m, p in texts if p.phone == "+447700900002")
    assert failed.reason == "provider_30005"
    events = session.exec(select(MessageEvent).where(MessageEvent.message_id == failed.id)).all()
    assert [e.provider_status for e in events if e.provider_status] == ["sent", "undelivered"]


def test_a_wrong_token_is_refused_and_records_nothing(
    served: tuple[Flask, BackgroundServer],
    session: Session,
    clock: FixedClock,
    example_dir: Path,
    tmp_path: Path,
) -> None:
    launch(session, clock, example_dir / "witness-reminders.yaml")
    path = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 4)])
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()
    _result, poster = send_posting_callbacks(served, clock, tmp_path / "out", "not-the-token")
    assert poster.posted == 0 and poster.failed > 0
    session.expire_all()
    statuses = set(session.exec(select(Message.status).where(Message.sent_at != None)).all())  # noqa: E711
    assert statuses == {"sent"}
    callbacks = session.exec(select(MessageEvent).where(MessageEvent.provider_status != None))  # noqa: E711
    assert callbacks.all() == []


def test_fake_callbacks_without_a_public_url_is_a_clear_mistake(
    cli: object, tmp_path: Path
) -> None:
    cli.env["NUDGE_FAKE_CALLBACKS"] = "1"  # type: ignore[attr-defined]
    result = cli("dispatch")  # type: ignore[operator]
    assert result.exit_code == 1
    assert "NUDGE_FAKE_CALLBACKS=1" in result.output and "NUDGE_PUBLIC_URL" in result.output
