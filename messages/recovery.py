"""Housekeeping after a crash: expired claims go back; interrupted sends are reconciled.

A message left in `sending` may or may not have reached the provider. It is never sent again
blindly: the provider's own records decide. Found: `sent`. Nothing there: back to `scheduled`
(or `failed`, expired). The provider cannot be asked: `unknown`, for staff to look at.

A provider that keeps our message id as each text's reference (GOV.UK Notify) is asked for
that reference, one message at a time; any other is asked for its list for the number since
the attempt, matched by words and time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from messages.outbox import EventRow, record_events
from messages.providers.base import FindsByReference, SmsProvider
from messages.render import Prepared, RenderCache
from nudge.clock import Clock
from nudge.errors import ProviderError
from nudge.models import Message, MessageStatus, Reason
from nudge.models.tables import MESSAGES

LOOKBACK = timedelta(minutes=5)  # clocks differ a little between us and the provider


@dataclass
class RecoveryResult:
    released: int = 0
    confirmed_sent: int = 0
    requeued: int = 0
    unknown: int = 0


def recover(
    engine: Engine, clock: Clock, provider: SmsProvider, public_url: str | None = None
) -> RecoveryResult:
    result = RecoveryResult()
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        released = session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.status == MessageStatus.CLAIMED, MESSAGES.c.lease_until < now)
            .values(
                status=MessageStatus.SCHEDULED, lease_owner=None, lease_until=None, updated_at=now
            )
        )
        result.released = released.rowcount  # type: ignore[attr-defined]
        stuck = session.exec(
            select(Message)
            .where(
                Message.channel == "sms",  # letters through Notify: messages/notify_letters.py
                Message.status == MessageStatus.SENDING,
                col(Message.lease_until) < now,
            )
            .order_by(col(Message.id))
        ).all()
        if isinstance(provider, FindsByReference):
            found = [_by_reference(provider, message, now, result) for message in stuck]
            record_events(session, found)
            session.commit()
            return result
        renderer = RenderCache(public_url)
        by_number: dict[str | None, list[tuple[Message, str | None]]] = {}
        for message in stuck:
            prepared = renderer.prepare(session, message, message.updated_at)
            sms = prepared.sms if isinstance(prepared, Prepared) else None
            waiting = by_number.setdefault(sms.to if sms else None, [])
            waiting.append((message, sms.body if sms else None))
        events: list[EventRow] = []
        for phone, waiting in by_number.items():
            events += _reconcile(session, provider, phone, waiting, now, result)
        record_events(session, events)
        session.commit()
    return result


def _reconcile(
    session: Session,
    provider: SmsProvider,
    phone: str | None,
    waiting: list[tuple[Message, str | None]],
    now: datetime,
    result: RecoveryResult,
) -> list[EventRow]:
    """The interrupted sends to one number against the provider's records for it; returns
    the events that say what became of each.

    Each record accounts for one message at most, and a record that already belongs to a
    message of ours (sent before, or another case's text with the same words) accounts for
    none: two identical texts to one number, one of them sent, leave one queued again.
    """
    if phone is None:
        result.unknown += len(waiting)
        unsure = "cannot tell what was sent"
        return [mark(m, MessageStatus.UNKNOWN, now, unsure) for m, _body in waiting]
    since = min(message.updated_at for message, _body in waiting) - LOOKBACK
    try:
        records = provider.find_sent(phone, since)
    except ProviderError as error:
        result.unknown += len(waiting)
        note = f"reconcile failed: {error.message}"
        return [mark(m, MessageStatus.UNKNOWN, now, note) for m, _body in waiting]
    owned = _owned(session, [r.provider_id for r in records], [m for m, _ in waiting])
    free = [r for r in records if r.provider_id not in owned]
    events = []
    for message, body in waiting:
        match = next(
            (r for r in free if r.body == body and r.created_at >= message.updated_at - LOOKBACK),
            None,
        )
        if match is not None:
            free.remove(match)
            message.provider_id, message.sent_at = match.provider_id, match.created_at
            message.last_error = None  # it went: an earlier attempt's error is history now
            note = "reconciled with the provider's records"
            events.append(mark(message, MessageStatus.SENT, now, note))
            result.confirmed_sent += 1
        else:
            events.append(_not_found(message, now, result))
    return events


def _by_reference(
    provider: FindsByReference, message: Message, now: datetime, result: RecoveryResult
) -> EventRow:
    """One interrupted send against the provider's record of its reference (our id)."""
    try:
        found = provider.find_reference(str(message.id))
    except ProviderError as error:
        result.unknown += 1
        return mark(message, MessageStatus.UNKNOWN, now, f"reconcile failed: {error.message}")
    if found is not None:
        message.provider_id, message.sent_at = found.provider_id, found.created_at
        message.last_error = None
        result.confirmed_sent += 1
        return mark(message, MessageStatus.SENT, now, "found by its reference at the provider")
    return _not_found(message, now, result)


def _not_found(message: Message, now: datetime, result: RecoveryResult) -> EventRow:
    """Never reached the provider: queued again while there is time, else failed (expired)."""
    if now < message.expires_at:
        message.next_attempt_at = now
        result.requeued += 1
        return mark(
            message, MessageStatus.SCHEDULED, now, "not sent before the crash: queued again"
        )
    message.reason = Reason.EXPIRED
    return mark(message, MessageStatus.FAILED, now, "not sent before the crash, and now too late")


def _owned(session: Session, sids: list[str], waiting: list[Message]) -> set[str]:
    """Which of the provider's message ids a message of ours, other than these, already has."""
    if not sids:
        return set()
    ids = [m.id for m in waiting]
    query = select(col(Message.provider_id)).where(
        col(Message.provider_id).in_(sids), col(Message.id).not_in(ids)
    )
    return {sid for sid in session.exec(query).all() if sid}


def mark(message: Message, status: MessageStatus, now: datetime, note: str) -> EventRow:
    """The message's new status (an ORM change, flushed with the session); its event."""
    message.status, message.updated_at = status, now
    message.lease_owner = message.lease_until = None
    return EventRow(message.id or 0, status, {"note": note}, now)
