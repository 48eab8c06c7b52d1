"""Status callbacks: the rank table, checked as a table, and a replay within one transaction."""

from __future__ import annotations

from sqlmodel import Session, col, select

from messages.callbacks import RANK, apply_status
from nudge.clock import FixedClock
from nudge.models import Message, MessageEvent, MessageStatus
from tests.messages.test_webhooks import app, sent

__all__ = ["app", "sent"]  # fixtures


def test_every_status_a_message_can_have_has_a_rank() -> None:
    assert set(RANK) == set(MessageStatus)


def test_a_callback_replayed_before_the_first_commits_is_recorded_once(
    session: Session, clock: FixedClock, sent: Message
) -> None:
    applied = [
        apply_status(
            session,
            clock,
            message_id=sent.id,
            provider_id=sent.provider_id or "",
            provider_status="undelivered",
            error_code="30003",
        ).applied
        for _ in range(2)
    ]
    session.commit()
    assert applied == [True, False]
    events = session.exec(
        select(MessageEvent.status, MessageEvent.error_code).where(
            MessageEvent.message_id == sent.id, col(MessageEvent.provider_status).is_not(None)
        )
    ).all()
    assert [tuple(e) for e in events] == [("undelivered", "30003")]
    session.expire_all()
    message = session.get(Message, sent.id)
    assert message is not None
    assert (message.status, message.reason) == ("undelivered", "provider_30003")
