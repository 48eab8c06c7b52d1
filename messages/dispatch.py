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

from sqlalchemy import Engine, Table, bindparam, case, func, insert, select, update
from sqlmodel import Session, col

from messages.providers.base import OutgoingSms, SmsProvider
from messages.render import Prepared, RenderCache
from messages.replies import opt_out
from messages.throttle import reserve_slots
from nudge.clock import Clock
from nudge.errors import ProviderError
from nudge.models import Hearing, Message, MessageEvent, OptOut, Participant

log = logging.getLogger(__name__)
MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
EVENTS: Table = MessageEvent.__table__  # type: ignore[attr-defined]
PENDING_EVENTS = "nudge.dispatch.events"
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
GROUP = 20  # messages committed as `sending` together; all reconciled if the worker dies
Sleeper = Callable[[float], None]
# `sent`, unless a status callback got there first (it may arrive before this commit): then
# only the provider id and the time are filled in, and the callback's status stands.
MARK_SENT = (
    update(MESSAGES)
    .where(MESSAGES.c.id == bindparam("mid"))
    .values(
        status=case((MESSAGES.c.status == "sending", "sent"), else_=MESSAGES.c.status),
        provider_id=func.coalesce(MESSAGES.c.provider_id, bindparam("pid")),
        sent_at=func.coalesce(MESSAGES.c.sent_at, bindparam("at")),
        updated_at=bindparam("at"),
        lease_owner=None,
        lease_until=None,
    )
)
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
        for start in range(0, len(ids), GROUP):
            group = ids[start : start + GROUP]
            _send_group(engine, clock, provider, renderer, group, result, sleep)


def _send_group(
    engine: Engine,
    clock: Clock,
    provider: SmsProvider,
    renderer: RenderCache,
    ids: list[int],
    result: DispatchResult,
    sleep: Sleeper | None,
) -> None:
    """Check, then commit a small group as `sending`; send each; commit the outcomes.

    One commit before the provider calls and one after, instead of three a message: the
    rule that matters holds for every message (on record as `sending` before the provider is
    asked). A crash mid-group leaves more rows in `sending`, each reconciled by recovery.
    """
    with Session(engine, expire_on_commit=False) as session:
        now = clock.now()
        group = _load_group(session, ids)
        ready = []
        for message in group.messages:
            prepared = renderer.prepare(session, message, now, opted_out=group.opted_out)
            if isinstance(prepared, str):
                _finish(session, message, now, "cancelled", prepared)
                result.withheld += 1
                result.reasons[prepared] = result.reasons.get(prepared, 0) + 1
            else:
                ready.append((message, prepared))
        slots = _reserve(session, ready, now)
        for message, (_sms, segments, cost, _rate) in ready:
            message.status, message.attempts = "sending", message.attempts + 1
            message.segments, message.cost, message.updated_at = segments, cost, now
            message.lease_until = now + LEASE
            _event(session, message, "sending", now)
        _commit(session)  # on record before the provider is asked: a crash leaves "sending"
        sent: list[dict[str, object]] = []
        try:
            for (message, (sms, *_)), at in zip(ready, slots, strict=True):
                if clock.now() - now > LEASE / 2:
                    _not_attempted(session, message, clock.now())
                    continue
                _wait_until(clock, at, sleep)
                _send_one(session, clock, provider, message, sms, result, sent)
        finally:
            if sent:
                session.execute(MARK_SENT, sent)
            _commit(session)


def _send_one(
    session: Session,
    clock: Clock,
    provider: SmsProvider,
    message: Message,
    sms: OutgoingSms,
    result: DispatchResult,
    sent: list[dict[str, object]],
) -> None:
    try:
        receipt = provider.send(sms)
    except ProviderError as error:
        _after_error(session, clock, message, error, result)
        return
    sent.append({"mid": message.id, "pid": receipt.provider_id, "at": clock.now()})
    _event(session, message, "sent", clock.now())
    result.sent += 1


@dataclass
class _Group:
    messages: list[Message]
    people: list[Participant]
    hearings: list[Hearing]
    opted_out: set[str]


def _load_group(session: Session, ids: list[int]) -> _Group:
    """The group's rows, people, hearings and opt-outs in four queries, held for `session.get`."""
    messages = list(
        session.execute(select(Message).where(col(Message.id).in_(ids)).order_by(col(Message.id)))
        .scalars()
        .all()
    )
    people_ids = {m.participant_id for m in messages}
    people = list(
        session.execute(select(Participant).where(col(Participant.id).in_(people_ids))).scalars()
    )
    hearing_ids = {m.hearing_id for m in messages}
    hearings = list(
        session.execute(select(Hearing).where(col(Hearing.id).in_(hearing_ids))).scalars()
    )
    phones = [p.phone for p in people if p.phone]
    opted_out = set(
        session.execute(select(col(OptOut.phone)).where(col(OptOut.phone).in_(phones))).scalars()
    )
    return _Group(messages, people, hearings, opted_out)


def _reserve(
    session: Session, ready: list[tuple[Message, Prepared]], now: datetime
) -> list[datetime]:
    """Each message's send slot under its trial's shared rate: one reservation per trial."""
    counts: dict[str, tuple[float, int]] = {}
    for message, (_sms, _segments, _cost, rate) in ready:
        counts[message.trial_id] = (rate, counts.get(message.trial_id, (rate, 0))[1] + 1)
    starts = {
        trial: reserve_slots(session, trial, rate, count, now)
        for trial, (rate, count) in counts.items()
    }
    slots, used = [], dict.fromkeys(counts, 0)
    for message, (*_, rate) in ready:
        slots.append(starts[message.trial_id] + timedelta(seconds=used[message.trial_id] / rate))
        used[message.trial_id] += 1
    return slots


def _not_attempted(session: Session, message: Message, now: datetime) -> None:
    """A group that ran long (a slow provider) hands back what it never sent, in its lease."""
    message.status, message.next_attempt_at = "scheduled", now
    message.attempts -= 1
    message.updated_at, message.lease_owner, message.lease_until = now, None, None
    session.add(
        MessageEvent(
            message_id=message.id or 0,
            status="scheduled",
            detail={"note": "not attempted before the group's time ran out"},
            occurred_at=now,
        )
    )


def _after_error(
    session: Session, clock: Clock, message: Message, error: ProviderError, result: DispatchResult
) -> None:
    now = clock.now()
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
    if reason == "opted_out":  # the carrier says this number unsubscribed: honour it everywhere
        participant = session.get(Participant, message.participant_id)
        if participant is not None and participant.phone:
            opt_out(session, clock, participant.phone, "carrier")


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
    """Record what happened; written with the group's next commit, in one statement."""
    detail = {k: v for k, v in (("reason", reason), ("error", error and _short(error))) if v}
    session.info.setdefault(PENDING_EVENTS, []).append(
        {
            "message_id": message.id or 0,
            "status": status,
            "provider_status": None,
            "detail": detail,
            "error_code": error.code if error else None,
            "occurred_at": now,
        }
    )


def _commit(session: Session) -> None:
    events = session.info.pop(PENDING_EVENTS, [])
    if events:
        session.execute(insert(EVENTS), events)
    session.commit()


def _short(error: ProviderError) -> str:
    return f"{error.code or ''} {error.message}".strip()[:255]


def _wait_until(clock: Clock, at: datetime, sleep: Sleeper | None) -> None:
    delay = (at - clock.now()).total_seconds()
    if delay > 0 and sleep is not None:
        sleep(delay)
