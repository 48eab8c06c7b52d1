"""Provider status callbacks: a pure table of statuses, and an update that never goes back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from messages.outbox import EventRow, record_events
from messages.replies import opt_out
from nudge.clock import Clock
from nudge.models import (
    Message,
    MessageEvent,
    MessageStatus,
    Participant,
    ProviderStatus,
    provider_reason,
)

# Twilio's MessageStatus -> ours; None means "nothing new" (the send itself recorded it).
TWILIO_STATUS: dict[str, MessageStatus | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
# How far along each status is: a callback may only move a message forward.
RANK: dict[MessageStatus, int] = {
    MessageStatus.SCHEDULED: 0,
    MessageStatus.HELD: 0,
    MessageStatus.CLAIMED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.UNKNOWN: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.CANCELLED: 3,
    MessageStatus.SKIPPED: 3,
    MessageStatus.SUPERSEDED: 3,
    MessageStatus.RETURNED: 3,
}
UNSUBSCRIBED = "21610"
# A callback that ends a message unsent records the provider's code as its reason (a letter
# cancelled in GOV.UK Notify: `provider_cancelled`).
ENDED_WITH_REASON = (MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.CANCELLED)


@dataclass(frozen=True)
class CallbackOutcome:
    applied: bool
    status: str | None


def apply_status(
    session: Session,
    clock: Clock,
    *,
    message_id: int | None,
    provider_id: str,
    provider_status: str,
    error_code: str | None,
    statuses: Mapping[str, MessageStatus | None] = TWILIO_STATUS,
) -> CallbackOutcome:
    """Record a callback; apply it only if it moves the message forward. Duplicates are no-ops.

    `statuses` is the provider's table of its statuses to ours (Twilio's unless told)."""
    ours = statuses.get(provider_status.lower())
    message = _locked_message(session, message_id, provider_id)
    if message is None:
        return CallbackOutcome(False, None)
    if _already_recorded(session, message, provider_status, error_code):
        return CallbackOutcome(False, message.status)  # a replay: Twilio retries, proxies too
    event = EventRow(
        message_id=message.id or 0,
        status=ours or ProviderStatus(provider_status),
        detail={"source": "callback"},
        occurred_at=clock.now(),
        error_code=error_code,
        provider_status=provider_status,
    )
    record_events(session, [event])
    if ours is None or RANK[ours] <= RANK[MessageStatus(message.status)]:
        return CallbackOutcome(False, message.status)
    message.status, message.updated_at = ours, clock.now()
    message.provider_id = message.provider_id or provider_id
    message.lease_owner = message.lease_until = None
    if ours in ENDED_WITH_REASON and error_code:
        message.reason = provider_reason(error_code)
    session.add(message)
    if error_code == UNSUBSCRIBED:
        participant = session.get(Participant, message.participant_id)
        if participant is not None and participant.phone:
            opt_out(session, clock, participant.phone, "carrier")
    return CallbackOutcome(True, ours)


def _already_recorded(
    session: Session, message: Message, provider_status: str, error_code: str | None
) -> bool:
    """Whether this callback (the same status and error for this message) is on record; the
    message row is locked, so two copies arriving together are recorded once."""
    query = select(MessageEvent.id).where(
        MessageEvent.message_id == message.id,
        MessageEvent.provider_status == provider_status,
        col(MessageEvent.error_code).is_(None)
        if error_code is None
        else MessageEvent.error_code == error_code,
    )
    return session.exec(query.limit(1)).first() is not None


def _locked_message(session: Session, message_id: int | None, provider_id: str) -> Message | None:
    query = select(Message).with_for_update()
    if message_id is not None:
        found = session.exec(query.where(Message.id == message_id)).first()
        if found is not None and found.provider_id in (None, provider_id):
            return found
    return session.exec(query.where(Message.provider_id == provider_id)).first()
