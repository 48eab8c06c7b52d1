"""Sending what is due, exactly once: claim, re-check, mark sending, send, mark sent.

A worker claims due rows under a lease, and commits `sending` before it calls the provider
and `sent` with the provider's id after. A worker killed in between leaves `sending`, which
`recover` reconciles with the provider's own records instead of sending again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, Table, select, update
from sqlmodel import Session

from messages.providers.base import SmsProvider
from messages.render import RenderCache
from messages.throttle import reserve_slots
from nudge.clock import Clock
from nudge.errors import ProviderError
from nudge.models import Message, MessageEvent

log = logging.getLogger(__name__)
MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
Sleeper = Callable[[float], None]
# Twilio codes that mean "never send this again": the reason each records.
PERMANENT = {
    "21211": "invalid_number",
    "21614": "invalid_number",
    "21610": "opted_out",
    "30005": "unknown_destination",
    "30006": "landline_or_unreachable",
}


@dataclass
class DispatchResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    withheld: int = 0
    ambiguous: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def claim_due(session: Session, now: datetime, worker: str, limit: int) -> list[int]:
    """Take up to `limit` due SMS rows for this worker; other workers skip locked rows."""
    query = (
        select(MESSAGES.c.id)
        .where(
            MESSAGES.c.status == "scheduled",
            MESSAGES.c.channel == "sms",
            MESSAGES.c.next_attempt_at <= now,
        )
        .order_by(MESSAGES.c.next_attempt_at, MESSAGES.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.execute(query).scalars())
    if ids:
        session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id.in_(ids))
            .values(status="claimed", lease_owner=worker, lease_until=now + LEASE, updated_at=now)
        )
    return ids


def dispatch_due(
    engine: Engine,
    clock: Clock,
    provider: SmsProvider,
    *,
    worker: str,
    batch: int = 100,
    sleep: Sleeper | None = None,
    public_url: str | None = None,
) -> DispatchResult:
    """Send everything due now, batch by batch, and return what happened."""
    result = DispatchResult()
    renderer = RenderCache(public_url)
    while True:
        with Session(engine, expire_on_commit=False) as session:
            ids = claim_due(session, clock.now(), worker, batch)
            session.commit()
        if not ids:
            return result
        for message_id in ids:
            _send_one(engine, clock, provider, renderer, message_id, result, sleep)


def _send_one(
    engine: Engine,
    clock: Clock,
    provider: SmsProvider,
    renderer: RenderCache,
    message_id: int,
    result: DispatchResult,
    sleep: Sleeper | None,
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        message = session.get(Message, message_id)
        assert message is not None
        prepared = renderer.prepare(session, message, clock.now())
        if isinstance(prepared, str):
            _finish(session, message, clock.now(), "cancelled", prepared)
            result.withheld += 1
            result.reasons[prepared] = result.reasons.get(prepared, 0) + 1
            session.commit()
            return
        sms, segments, cost, rate = prepared
        at = reserve_slots(session, message.trial_id, rate, 1, clock.now())
        _wait_until(clock, at, sleep)
        message = session.get(Message, message_id, populate_existing=True)
        assert message is not None
        message.status, message.attempts = "sending", message.attempts + 1
        message.segments, message.cost, message.updated_at = segments, cost, clock.now()
        message.lease_until = clock.now() + LEASE
        _event(session, message, "sending", clock.now())
        session.commit()  # on record before the provider is asked: a crash leaves "sending"
        try:
            receipt = provider.send(sms)
        except ProviderError as error:
            _after_error(session, message, error, clock.now(), result)
            session.commit()
            return
        # A quick provider's callback may already have moved it on (delivered): never back.
        message = session.get(Message, message_id, populate_existing=True, with_for_update=True)
        assert message is not None
        if message.status == "sending":
            message.status = "sent"
        message.provider_id = message.provider_id or receipt.provider_id
        message.sent_at = message.updated_at = clock.now()
        message.lease_owner = message.lease_until = None
        _event(session, message, "sent", clock.now())
        session.commit()
        result.sent += 1


def _after_error(
    session: Session, message: Message, error: ProviderError, now: datetime, result: DispatchResult
) -> None:
    if error.ambiguous:
        # The provider may have sent it: leave "sending" for recovery to reconcile.
        message.lease_until, message.last_error = now, _short(error)
        result.ambiguous += 1
        return
    reason = PERMANENT.get(error.code or "")
    if error.transient and reason is None:
        retry_at = now + min(timedelta(seconds=30 * 2**message.attempts), timedelta(hours=1))
        if message.attempts < MAX_ATTEMPTS and retry_at < message.expires_at:
            message.status, message.next_attempt_at = "scheduled", retry_at
            message.last_error, message.updated_at = _short(error), now
            message.lease_owner = message.lease_until = None
            _event(session, message, "retry", now, error)
            result.retried += 1
            return
        reason = "expired"
    _finish(session, message, now, "failed", reason or "provider_rejected", error)
    result.failed += 1


def _finish(
    session: Session,
    message: Message,
    now: datetime,
    status: str,
    reason: str,
    error: ProviderError | None = None,
) -> None:
    message.status, message.reason, message.updated_at = status, reason, now
    message.lease_owner = message.lease_until = None
    if error is not None:
        message.last_error = _short(error)
    _event(session, message, status, now, error, reason)


def _event(
    session: Session,
    message: Message,
    status: str,
    now: datetime,
    error: ProviderError | None = None,
    reason: str | None = None,
) -> None:
    detail = {k: v for k, v in (("reason", reason), ("error", error and _short(error))) if v}
    session.add(
        MessageEvent(
            message_id=message.id or 0,
            status=status,
            detail=detail,
            error_code=error.code if error else None,
            occurred_at=now,
        )
    )


def _short(error: ProviderError) -> str:
    return f"{error.code or ''} {error.message}".strip()[:255]


def _wait_until(clock: Clock, at: datetime, sleep: Sleeper | None) -> None:
    delay = (at - clock.now()).total_seconds()
    if delay > 0 and sleep is not None:
        sleep(delay)
