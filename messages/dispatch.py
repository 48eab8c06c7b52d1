"""Sending what is due, exactly once: claim, re-check, mark sending, send, mark sent.

A worker claims due rows under a lease, and commits `sending` before it calls the provider
and `sent` with the provider's id after. A worker killed in between leaves `sending`, which
`recover` reconciles with the provider's own records instead of sending again.

There is one way to send: each text waits for its slot under the trial's rate on the injected
clock (`clock.sleep_until`), then goes to `provider.send`. The clock decides whether waiting
takes real time (the system clock) or none (a pinned clock, moved to the slot), so the time a
text is stamped with is always the time it was sent by that clock.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Float,
    Integer,
    String,
    Update,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlmodel import Session, col

from messages.outbox import EventRow, record_events
from messages.providers.base import STOPS_RUN, SmsProvider
from messages.providers.notify_errors import PERMANENT as NOTIFY_PERMANENT
from messages.render import Prepared, RenderCache, Withheld
from messages.replies import opt_out
from messages.sending import (
    LEASE,
    Lane,
    Outbound,
    Outcome,
    Sender,
    Sent,
    ThreadSender,
    died,
)
from messages.throttle import reserve_lanes
from nudge.bulk import UpdateEach
from nudge.clock import Clock
from nudge.errors import ProviderError
from nudge.models import EventStatus, Hearing, Message, MessageStatus, OptOut, Participant, Reason
from nudge.models.tables import MESSAGES
from nudge.models.types import UTCDateTime

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8  # tries of a text, or of a letter through Notify, before it fails `expired`
FIRST_RETRY, LAST_RETRY = timedelta(seconds=30), timedelta(hours=1)  # doubling between them
GROUP = 50  # messages committed as `sending` together; all reconciled if the worker dies
MAX_PAUSES = 5  # rate limits in a row (pauses of 1, 2, 4, 8, 16 s) before the run gives up
OFF_LEASE: dict[str, Any] = {"lease_owner": None, "lease_until": None}


def _sent(
    message_id: ColumnElement[int], provider_id: ColumnElement[str], at: ColumnElement[datetime]
) -> Update:
    """`sent`, unless a status callback got there first (it may arrive before this commit):
    then only the provider id and the time are filled in, and the callback's status stands.
    For texts and for letters through Notify (messages/notify_letters.py), as MARK_SENT."""
    return (
        update(MESSAGES)
        .where(MESSAGES.c.id == message_id)
        .values(
            status=case(
                (MESSAGES.c.status == MessageStatus.SENDING, MessageStatus.SENT),
                else_=MESSAGES.c.status,
            ),
            provider_id=func.coalesce(MESSAGES.c.provider_id, provider_id),
            sent_at=func.coalesce(MESSAGES.c.sent_at, at),
            last_error=None,  # it went: an earlier attempt's error is history (in the events)
            updated_at=at,
            **OFF_LEASE,
        )
    )


def _sending(
    message_id: ColumnElement[int], segments: ColumnElement[int], cost: ColumnElement[float]
) -> Update:
    """`sending`, with the text's segments and cost: on record before the provider is asked."""
    return (
        update(MESSAGES)
        .where(MESSAGES.c.id == message_id)
        .values(
            status=MessageStatus.SENDING,
            attempts=MESSAGES.c.attempts + 1,
            segments=segments,
            cost=cost,
            updated_at=bindparam("now", type_=UTCDateTime()),
            lease_until=bindparam("until", type_=UTCDateTime()),
        )
    )


MARK_SENT = UpdateEach.of(
    _sent, (("message_id", Integer()), ("provider_id", String()), ("at", UTCDateTime()))
)
MARK_SENDING = UpdateEach.of(
    _sending, (("message_id", Integer()), ("segments", Integer()), ("cost", Float()))
)


# Codes that mean "never send this again": the reason each records (Twilio's, then Notify's
# from its one table in messages/providers/notify_errors.py).
PERMANENT = {
    **NOTIFY_PERMANENT,
    "21211": Reason.INVALID_NUMBER,
    "21614": Reason.INVALID_NUMBER,
    "21610": Reason.OPTED_OUT,
    "30005": Reason.UNKNOWN_DESTINATION,
    "30006": Reason.LANDLINE_OR_UNREACHABLE,
}


def retry_or_reason(
    error: ProviderError,
    attempt: int,
    expires_at: datetime,
    now: datetime,
    permanent: Mapping[str, Reason] = PERMANENT,
) -> datetime | Reason:
    """After a refusal that does not stop the run (a text's, or a letter's through Notify):
    when to try again, or the reason the message fails. `attempt` counts the one refused.

    A transient error with no permanent reason (`permanent`, by code) is tried again after 30
    seconds, doubling each attempt up to an hour, while attempts are left (MAX_ATTEMPTS) and
    the retry comes before the message expires; otherwise it fails `expired`. Any other
    refusal fails with its code's permanent reason, or `provider_rejected`. Pure: no query.
    """
    reason = permanent.get(error.code or "")
    if error.transient and reason is None:
        retry_at = now + min(FIRST_RETRY * 2**attempt, LAST_RETRY)
        if attempt < MAX_ATTEMPTS and retry_at < expires_at:
            return retry_at
        return Reason.EXPIRED
    return reason or Reason.PROVIDER_REJECTED


@dataclass
class DispatchResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    withheld: int = 0
    ambiguous: int = 0
    reasons: dict[Reason, int] = field(default_factory=dict)
    rate_limited: int = 0  # pauses the provider asked for
    stopped: Reason | None = None  # why the run ended early: credentials_refused or rate_limited
    stopped_because: str | None = None  # the provider's words, for the operator


def claim_due(session: Session, now: datetime, worker: str, limit: int) -> list[int]:
    """Take up to `limit` due SMS rows for this worker; other workers skip locked rows."""
    query = (
        select(MESSAGES.c.id)
        .where(
            MESSAGES.c.status == MessageStatus.SCHEDULED,
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
            .values(
                status=MessageStatus.CLAIMED,
                lease_owner=worker,
                lease_until=now + LEASE,
                updated_at=now,
            )
        )
    return ids


def dispatch_due(
    engine: Engine,
    clock: Clock,
    sending: SmsProvider | Sender,
    *,
    worker: str,
    batch: int = 100,
    public_url: str | None = None,
) -> DispatchResult:
    """Send everything due now, batch by batch, and return what happened.

    `sending` is where the provider calls run (`messages/sending.py`): a provider is given a
    thread of its own for this run; a `Sender` (the provider in a child process, say) is used
    as it is. They run a group at a time and in order, while this thread checks and commits
    the next group as `sending` and records the last group's outcomes: the database work
    hides behind the provider's replies instead of adding to them. At most two groups are ever
    in `sending` without their outcomes on record.

    A refusal that every later text would get too (the provider refuses our credentials, or
    asks us to slow down) stops the sending there: that text is the one event, and every
    other goes back to the queue as it was. Refused credentials end the run; a rate limit
    pauses it (1 s, doubling, on the clock), and ends it after MAX_PAUSES in a row.
    """
    result = DispatchResult()
    renderer = RenderCache(public_url)
    pauses, sent_before_pause = 0, 0
    sender = sending if isinstance(sending, Sender) else ThreadSender(engine, clock, sending)
    sender.begin()
    pipe = _Pipe()
    try:
        while True:
            with Session(engine, expire_on_commit=False) as session:
                ids = claim_due(session, clock.now(), worker, batch)
                session.commit()
            done = pipe.in_flight
            if not ids and done is None:
                return result
            if not ids and done is not None:
                pipe.in_flight = None
                stop = _settle(done, clock, result)  # handed back texts are due: claim
            else:
                stop = _send_claimed(engine, clock, renderer, ids, result, sender, pipe)
            if stop is None:
                continue
            if result.sent > sent_before_pause:
                pauses, sent_before_pause = 0, result.sent  # texts went since the last one
            pauses += 1
            if STOPS_RUN.get(stop.code or "") == Reason.CREDENTIALS_REFUSED or pauses > MAX_PAUSES:
                return _stopped(result, stop)
            clock.sleep_until(clock.now() + _pause(pauses))
    finally:
        if pipe.in_flight is not None:  # stopped by an error: keep what was sent on record
            sender.stop()
            _settle(pipe.in_flight, clock, result)
        if sender is not sending:
            sender.close()


@dataclass
class _Pipe:
    """The group at the provider, if any: always the latest, so an error can settle it."""

    in_flight: _InFlight | None = None


def _send_claimed(
    engine: Engine,
    clock: Clock,
    renderer: RenderCache,
    ids: list[int],
    result: DispatchResult,
    sender: Sender,
    pipe: _Pipe,
) -> ProviderError | None:
    """Stage and send the claimed texts a group at a time; after a refusal that stops the run,
    nothing more goes to the provider and the rest go back to the queue."""
    for start in range(0, len(ids), GROUP):
        staged = _stage(engine, clock, renderer, ids[start : start + GROUP], result)
        previous, pipe.in_flight = pipe.in_flight, _InFlight(staged)
        if previous is not None:
            previous.wait()  # one group at the provider at a time, in order
        if previous is None or previous.refusal() is None:
            pipe.in_flight.start(sender)
        stop = _settle(previous, clock, result) if previous is not None else None
        if stop is not None:
            unsent, pipe.in_flight = pipe.in_flight, None
            _settle(unsent, clock, result, quietly=True)  # never started
            _release(engine, clock, ids[start + GROUP :])
            return stop
    return None


def _pause(pauses: int) -> timedelta:
    return timedelta(seconds=2 ** (pauses - 1))


def _stopped(result: DispatchResult, stop: ProviderError) -> DispatchResult:
    result.stopped = STOPS_RUN.get(stop.code or "", Reason.RATE_LIMITED)
    result.stopped_because = stop.message
    log.error("Dispatch stopped: %s; the texts not sent stay queued", stop.message)
    return result


def _release(engine: Engine, clock: Clock, ids: list[int]) -> None:
    """Claimed texts never staged go back to the queue as they were."""
    if not ids:
        return
    with Session(engine) as session:
        session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id.in_(ids), MESSAGES.c.status == MessageStatus.CLAIMED)
            .values(status=MessageStatus.SCHEDULED, updated_at=clock.now(), **OFF_LEASE)
        )
        session.commit()


@dataclass(frozen=True)
class _Text:
    """A claimed text that passed its last check; `attempt` counts this one."""

    message: Message
    prepared: Prepared
    attempt: int

    @property
    def message_id(self) -> int:
        return self.message.id or 0

    @property
    def lane(self) -> Lane:
        return Lane(self.message.trial_id, self.prepared.max_per_second)


@dataclass
class _Writes:
    """A session whose changes are statements on the message table, and the events that go
    with them: the events are written with the session's next commit, all at once."""

    session: Session
    events: list[EventRow] = field(default_factory=list)

    def update(self, message_id: int, **values: Any) -> None:
        """One message's columns, by id: the loaded rows are only read, never flushed."""
        self.session.execute(update(MESSAGES).where(MESSAGES.c.id == message_id).values(**values))

    def event(
        self,
        message_id: int,
        status: MessageStatus | EventStatus,
        now: datetime,
        error: ProviderError | None = None,
        reason: Reason | None = None,
        note: str | None = None,
    ) -> None:
        pairs = (("reason", reason), ("error", error and short_error(error)), ("note", note))
        detail = {k: v for k, v in pairs if v}
        code = error.code if error is not None else None
        self.events.append(EventRow(message_id, status, detail, now, code))

    def commit(self) -> None:
        record_events(self.session, self.events)
        self.events.clear()
        self.session.commit()


@dataclass
class _Staged:
    """A group on record as `sending`: each text ready, and what goes to the sender."""

    writes: _Writes
    ready: list[_Text]
    outbound: Outbound

    @property
    def now(self) -> datetime:
        return self.outbound.now


@dataclass
class _InFlight:
    """A staged group and its sending, once started."""

    staged: _Staged
    future: Future[Sent] | None = None

    def start(self, sender: Sender) -> None:
        self.future = sender.submit(self.staged.outbound)

    def wait(self) -> Sent:
        if self.future is None:  # never started: nothing of it went to the provider
            return [Outcome(None, self.staged.now)] * len(self.staged.ready), None
        try:
            return self.future.result()
        except BrokenProcessPool as error:  # the sending process died mid-group
            return died(self.staged.outbound, error)

    def refusal(self) -> ProviderError | None:
        """The refusal that stopped this group's sending, if one did (once it has finished)."""
        return _stopping(self.wait()[0])


def _stopping(outcomes: list[Outcome]) -> ProviderError | None:
    return next(
        (
            o.result
            for o in outcomes
            if isinstance(o.result, ProviderError) and o.result.code in STOPS_RUN
        ),
        None,
    )


def _stage(
    engine: Engine,
    clock: Clock,
    renderer: RenderCache,
    ids: list[int],
    result: DispatchResult,
) -> _Staged:
    """Check a small group again, then commit it as `sending`, with its send slots, at once.

    One commit before the provider calls and one after, instead of three a message: the rule
    that matters holds for every message (on record as `sending` before the provider is
    asked). A crash mid-group leaves more rows in `sending`, each reconciled by recovery.
    """
    writes = _Writes(Session(engine, expire_on_commit=False))
    try:
        now = clock.now()
        group = _load_group(writes.session, ids)
        ready = []
        for message, loaded in group.messages:
            prepared = renderer.prepare(writes.session, message, now, group.opted_out, loaded)
            if isinstance(prepared, Withheld):
                _finish(writes, message.id or 0, now, MessageStatus.CANCELLED, prepared.reason)
                result.withheld += 1
                result.reasons[prepared.reason] = result.reasons.get(prepared.reason, 0) + 1
            else:
                ready.append(_Text(message, prepared, message.attempts + 1))
        slots = reserve_lanes(writes.session, [t.lane for t in ready], now)
        _mark_sending(writes, ready, now)
        writes.commit()  # on record before the provider is asked: a crash leaves "sending"
    except BaseException:
        writes.session.close()
        raise
    return _Staged(
        writes,
        ready,
        Outbound(now, [t.prepared.sms for t in ready], [t.lane for t in ready], slots),
    )


def _mark_sending(writes: _Writes, ready: list[_Text], now: datetime) -> None:
    """The whole group as `sending`, with each text's segments and cost (one statement on
    PostgreSQL)."""
    group: dict[str, list[Any]] = {
        "message_id": [t.message_id for t in ready],
        "segments": [t.prepared.segments for t in ready],
        "cost": [t.prepared.cost for t in ready],
    }
    MARK_SENDING.execute(writes.session, group, now=now, until=now + LEASE)
    for text in ready:
        writes.event(text.message_id, MessageStatus.SENDING, now)


def _settle(
    in_flight: _InFlight, clock: Clock, result: DispatchResult, *, quietly: bool = False
) -> ProviderError | None:
    """Record a group's outcomes in one commit; then re-raise whatever stopped its sending.

    Returns the refusal that stopped the run, if one did: it is recorded on its text, once,
    and the texts not sent after it go back to the queue without an event of their own."""
    writes = in_flight.staged.writes
    try:
        outcomes, failure = in_flight.wait()
        if outcomes:  # a pinned clock moved in the sending process: this one follows it
            clock.sleep_until(max(at for _, at in outcomes))
        stop = _stopping(outcomes)
        sent: dict[str, list[object]] = {"message_id": [], "provider_id": [], "at": []}
        for text, (outcome, at) in zip(in_flight.staged.ready, outcomes, strict=True):
            if outcome is None:
                _not_attempted(writes, text, at, quietly=quietly or stop is not None)
            elif outcome is stop:
                _held_back(writes, text, outcome, at, result)
            elif isinstance(outcome, ProviderError):
                _after_error(writes, clock, text, outcome, at, result)
            else:
                sent["message_id"].append(text.message_id)
                sent["provider_id"].append(outcome.provider_id)
                sent["at"].append(at)
                writes.event(text.message_id, MessageStatus.SENT, at)
                result.sent += 1
        MARK_SENT.execute(writes.session, sent)
        writes.commit()
    finally:
        writes.session.close()
    if failure is not None:
        raise failure
    return stop


@dataclass
class _Group:
    messages: list[tuple[Message, tuple[Participant, Hearing]]]
    opted_out: set[str]


# A group's rows with their people and hearings, and whether each number opted out: one
# statement, built once (its IN list is filled at each execution).
LOAD_GROUP = (
    select(Message, Participant, Hearing, col(OptOut.phone))
    .join(Participant, col(Participant.id) == col(Message.participant_id))
    .join(Hearing, col(Hearing.id) == col(Message.hearing_id))
    .outerjoin(OptOut, col(OptOut.phone) == col(Participant.phone))
    .where(col(Message.id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Message.id))
)


def _load_group(session: Session, ids: list[int]) -> _Group:
    """The group's rows, each with its person and hearing, and its opted-out numbers."""
    rows = session.execute(LOAD_GROUP, {"ids": ids}).all()
    return _Group(
        [(row[0], (row[1], row[2])) for row in rows],
        {row[3] for row in rows if row[3] is not None},
    )


def _requeue(
    writes: _Writes,
    text: _Text,
    now: datetime,
    due: datetime,
    *,
    counted: bool,
    error: ProviderError | None = None,
) -> None:
    """Back to `scheduled`, due at `due`; an attempt the provider never judged is not counted."""
    values: dict[str, Any] = {
        "status": MessageStatus.SCHEDULED,
        "next_attempt_at": due,
        "updated_at": now,
    }
    if not counted:
        values["attempts"] = text.attempt - 1
    if error is not None:
        values["last_error"] = short_error(error)
    writes.update(text.message_id, **values, **OFF_LEASE)


def _not_attempted(writes: _Writes, text: _Text, now: datetime, *, quietly: bool) -> None:
    """A group that ran long (a slow provider) hands back what it never sent, in its lease;
    so does one stopped by a refusal, quietly (that refusal is the one event)."""
    _requeue(writes, text, now, now, counted=False)
    if not quietly:
        note = "not attempted before the group's time ran out"
        writes.event(text.message_id, MessageStatus.SCHEDULED, now, note=note)


def _held_back(
    writes: _Writes, text: _Text, error: ProviderError, now: datetime, result: DispatchResult
) -> None:
    """The text whose refusal stopped the run: back to the queue, its attempt not counted (the
    provider refused us, not it), due again after any pause; the run's one event is on it."""
    reason = STOPS_RUN[error.code or ""]
    pause = _pause(1) if reason == Reason.RATE_LIMITED else timedelta(0)
    _requeue(writes, text, now, now + pause, counted=False, error=error)
    writes.event(text.message_id, MessageStatus.SCHEDULED, now, error, reason)
    if reason == Reason.RATE_LIMITED:
        result.rate_limited += 1
    log.warning("Message %s held back: %s", text.message_id, error.message)


def _after_error(
    writes: _Writes,
    clock: Clock,
    text: _Text,
    error: ProviderError,
    now: datetime,
    result: DispatchResult,
) -> None:
    if error.ambiguous:
        # The provider may have sent it: leave "sending" for recovery to reconcile.
        writes.update(text.message_id, lease_until=now, last_error=short_error(error))
        result.ambiguous += 1
        return
    judged = retry_or_reason(error, text.attempt, text.message.expires_at, now)
    if isinstance(judged, datetime):
        _requeue(writes, text, now, judged, counted=True, error=error)
        writes.event(text.message_id, EventStatus.RETRY, now, error)
        result.retried += 1
        return
    _finish(writes, text.message_id, now, MessageStatus.FAILED, judged, error)
    result.failed += 1
    if judged == Reason.OPTED_OUT:  # the carrier says this number unsubscribed: honour it
        participant = writes.session.get(Participant, text.message.participant_id)
        if participant is not None and participant.phone:
            opt_out(writes.session, clock, participant.phone, "carrier")


def _finish(
    writes: _Writes,
    message_id: int,
    now: datetime,
    status: MessageStatus,
    reason: Reason,
    error: ProviderError | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "reason": reason, "updated_at": now}
    if error is not None:
        values["last_error"] = short_error(error)
    writes.update(message_id, **values, **OFF_LEASE)
    writes.event(message_id, status, now, error, reason)


def short_error(error: ProviderError) -> str:
    """A refusal as `last_error` keeps it: its code and words, cut to the column's 255."""
    return f"{error.code or ''} {error.message}".strip()[:255]
