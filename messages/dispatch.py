"""Sending what is due, exactly once: claim, re-check, mark sending, send, mark sent.

A worker claims due rows under a lease, and commits `sending` before it calls the provider
and `sent` with the provider's id after. A worker killed in between leaves `sending`, which
`recover` reconciles with the provider's own records instead of sending again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Engine,
    Float,
    Integer,
    String,
    Table,
    Update,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from messages.providers.base import (
    CREDENTIALS_REFUSED,
    STOPS_RUN,
    BatchSender,
    MissedSlot,
    SendReceipt,
    SmsProvider,
)
from messages.render import Prepared, RenderCache
from messages.replies import opt_out
from messages.throttle import LATE_S, reserve_slots, spacing
from nudge.bulk import UpdateEach, insert_rows
from nudge.clock import Clock
from nudge.errors import ProviderError
from nudge.models import Hearing, Message, MessageEvent, OptOut, Participant
from nudge.models.types import UTCDateTime

log = logging.getLogger(__name__)
MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
EVENTS: Table = MessageEvent.__table__  # type: ignore[attr-defined]
PENDING_EVENTS = "nudge.dispatch.events"
EVENT_COLUMNS = ("message_id", "status", "detail", "error_code", "occurred_at")
LEASE = timedelta(minutes=2)
LATE = timedelta(seconds=LATE_S)
MAX_ATTEMPTS = 8
GROUP = 50  # messages committed as `sending` together; all reconciled if the worker dies
MAX_PAUSES = 5  # rate limits in a row (pauses of 1, 2, 4, 8, 16 s) before the run gives up
Sleeper = Callable[[float], None]


def _sent(mid: ColumnElement[int], pid: ColumnElement[str], at: ColumnElement[datetime]) -> Update:
    """`sent`, unless a status callback got there first (it may arrive before this commit):
    then only the provider id and the time are filled in, and the callback's status stands."""
    return (
        update(MESSAGES)
        .where(MESSAGES.c.id == mid)
        .values(
            status=case((MESSAGES.c.status == "sending", "sent"), else_=MESSAGES.c.status),
            provider_id=func.coalesce(MESSAGES.c.provider_id, pid),
            sent_at=func.coalesce(MESSAGES.c.sent_at, at),
            last_error=None,  # it went: an earlier attempt's error is history (in the events)
            updated_at=at,
            lease_owner=None,
            lease_until=None,
        )
    )


def _sending(
    mid: ColumnElement[int], segments: ColumnElement[int], cost: ColumnElement[float]
) -> Update:
    """`sending`, with the text's segments and cost: on record before the provider is asked."""
    return (
        update(MESSAGES)
        .where(MESSAGES.c.id == mid)
        .values(
            status="sending",
            attempts=MESSAGES.c.attempts + 1,
            segments=segments,
            cost=cost,
            updated_at=bindparam("now", type_=UTCDateTime()),
            lease_until=bindparam("until", type_=UTCDateTime()),
        )
    )


MARK_SENT = UpdateEach.of(_sent, (("mid", Integer()), ("pid", String()), ("at", UTCDateTime())))
MARK_SENDING = UpdateEach.of(
    _sending, (("mid", Integer()), ("segments", Integer()), ("cost", Float()))
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
    rate_limited: int = 0  # pauses the provider asked for
    stopped: str | None = None  # why the run ended early: credentials_refused or rate_limited
    stopped_because: str | None = None  # the provider's words, for the operator


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
    """Send everything due now, batch by batch, and return what happened.

    The provider calls run on one sender thread, a group at a time and in order, while this
    thread checks and commits the next group as `sending` and records the last group's
    outcomes: the database work hides behind the provider's replies instead of adding to
    them. At most two groups are ever in `sending` without their outcomes on record.

    A refusal that every later text would get too (the provider refuses our credentials, or
    asks us to slow down) stops the sending there: that text is the one event, and every
    other goes back to the queue as it was. Refused credentials end the run; a rate limit
    pauses it (1 s, doubling, on the injected `sleep`), and ends it after MAX_PAUSES in a row.
    """
    result = DispatchResult()
    renderer = RenderCache(public_url)
    pauses, sent_before_pause = 0, 0
    with ThreadPoolExecutor(1, thread_name_prefix="nudge-send") as sender:
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
                    stop = _send_claimed(
                        engine, clock, renderer, ids, result, sender, provider, sleep, pipe
                    )
                if stop is None:
                    continue
                if result.sent > sent_before_pause:
                    pauses, sent_before_pause = 0, result.sent  # texts went since the last one
                pauses += 1
                if stop.code == CREDENTIALS_REFUSED or sleep is None or pauses > MAX_PAUSES:
                    return _stopped(result, stop)
                sleep(_pause(pauses).total_seconds())
        finally:
            if pipe.in_flight is not None:  # stopped by an error: keep what was sent on record
                pipe.in_flight.stop.set()
                _settle(pipe.in_flight, clock, result)


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
    sender: ThreadPoolExecutor,
    provider: SmsProvider,
    sleep: Sleeper | None,
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
            pipe.in_flight.start(sender, engine, clock, provider, sleep)
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
    result.stopped = STOPS_RUN.get(stop.code or "", "rate_limited")
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
            .where(MESSAGES.c.id.in_(ids), MESSAGES.c.status == "claimed")
            .values(status="scheduled", lease_owner=None, lease_until=None, updated_at=clock.now())
        )
        session.commit()


@dataclass
class _Staged:
    """A group on record as `sending`, each text ready with its send slot."""

    session: Session
    now: datetime
    ready: list[tuple[Message, Prepared]]
    slots: list[datetime]


# One provider call's outcome and when: a receipt, a refusal, or None when not attempted.
Outcome = tuple[SendReceipt | ProviderError | None, datetime]
Sent = tuple[list[Outcome], BaseException | None]


@dataclass
class _InFlight:
    """A staged group and its sending on the sender thread, once started."""

    staged: _Staged
    future: Future[Sent] | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def start(
        self,
        sender: ThreadPoolExecutor,
        engine: Engine,
        clock: Clock,
        provider: SmsProvider,
        sleep: Sleeper | None,
    ) -> None:
        self.future = sender.submit(_send_staged, self, engine, clock, provider, sleep)

    def wait(self) -> Sent:
        if self.future is None:  # never started: nothing of it went to the provider
            return [(None, self.staged.now)] * len(self.staged.ready), None
        return self.future.result()

    def refusal(self) -> ProviderError | None:
        """The refusal that stopped this group's sending, if one did (once it has finished)."""
        return _stopping(self.wait()[0])


def _stopping(outcomes: list[Outcome]) -> ProviderError | None:
    return next(
        (o for o, _ in outcomes if isinstance(o, ProviderError) and o.code in STOPS_RUN), None
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
    session = Session(engine, expire_on_commit=False)
    try:
        now = clock.now()
        group = _load_group(session, ids)
        ready = []
        for message, loaded in group.messages:
            prepared = renderer.prepare(session, message, now, group.opted_out, loaded)
            if isinstance(prepared, str):
                _finish(session, message, now, "cancelled", prepared)
                result.withheld += 1
                result.reasons[prepared] = result.reasons.get(prepared, 0) + 1
            else:
                ready.append((message, prepared))
        slots = _reserve(session, ready, now)
        _mark_sending(session, ready, now)
        _commit(session)  # on record before the provider is asked: a crash leaves "sending"
    except BaseException:
        session.close()
        raise
    return _Staged(session, now, ready, slots)


def _mark_sending(session: Session, ready: list[tuple[Message, Prepared]], now: datetime) -> None:
    """The whole group as `sending`, with each text's segments and cost (one statement on
    PostgreSQL)."""
    if not ready:
        return
    rows = [(message.id, prepared[1], prepared[2]) for message, prepared in ready]
    MARK_SENDING.execute(session, rows, now=now, until=now + LEASE)
    for message, (_sms, segment_count, cost, _rate) in ready:
        # What the statement wrote, as if just read back: nothing left for the ORM to flush.
        for name, value in (
            ("status", "sending"),
            ("attempts", message.attempts + 1),
            ("segments", segment_count),
            ("cost", cost),
            ("updated_at", now),
            ("lease_until", now + LEASE),
        ):
            set_committed_value(message, name, value)
        _event(session, message, "sending", now)


def _send_staged(
    in_flight: _InFlight,
    engine: Engine,
    clock: Clock,
    provider: SmsProvider,
    sleep: Sleeper | None,
) -> Sent:
    """On the sender thread: each text in turn at its slot, and within LATE of it.

    A text that cannot go within LATE of its slot (the provider was slow, the machine busy)
    is given a new slot, with the rest of its group: that, and nothing else here, touches the
    database (the trial's send window). An unexpected error ends the group: the text being
    sent is left `sending` for recovery to reconcile, as after a crash, and the rest are
    handed back unsent.
    """
    if isinstance(provider, BatchSender):
        return _send_batch(in_flight.staged, engine, clock, provider, sleep)
    staged, outcomes = in_flight.staged, list[Outcome]()
    slots = list(staged.slots)
    try:
        for index, (_message, (sms, *_)) in enumerate(staged.ready):
            if in_flight.stop.is_set() or clock.now() - staged.now > LEASE / 2:
                outcomes.append((None, clock.now()))  # stopping, or a slow provider
                continue
            _at_slot(engine, clock, sleep, staged.ready, slots, index)
            try:
                outcomes.append((provider.send(sms), clock.now()))
            except ProviderError as error:
                outcomes.append((error, clock.now()))
                if error.code in STOPS_RUN:
                    in_flight.stop.set()  # the rest would be refused alike
    except BaseException as error:  # noqa: BLE001 - re-raised by the dispatching thread
        unsure = ProviderError("sending stopped by an unexpected error", ambiguous=True)
        outcomes.append((unsure, clock.now()))
        outcomes.extend((None, clock.now()) for _ in staged.ready[len(outcomes) :])
        return outcomes, error
    return outcomes, None


def _at_slot(
    engine: Engine,
    clock: Clock,
    sleep: Sleeper | None,
    ready: list[tuple[Message, Prepared]],
    slots: list[datetime],
    index: int,
) -> None:
    """Wait for text `index`'s slot; one missed by more than LATE is given a new slot, and so
    are the texts after it in the group (`slots` is updated in place)."""
    _wait_until(clock, slots[index], sleep)
    if clock.now() - slots[index] > LATE:
        slots[index:] = _reslot(engine, ready[index:], clock.now())
        _wait_until(clock, slots[index], sleep)


def _reslot(engine: Engine, ready: list[tuple[Message, Prepared]], now: datetime) -> list[datetime]:
    """New send slots for texts that missed theirs; the missed ones are simply never used."""
    with Session(engine) as session:
        slots = _reserve(session, ready, now)
        session.commit()
    return slots


def _send_batch(
    staged: _Staged, engine: Engine, clock: Clock, provider: BatchSender, sleep: Sleeper | None
) -> Sent:
    """The group handed over whole, with the same slots and the same limits as above.

    In real time the sender waits for each slot itself, says when each text went, and hands
    back those it could not send within LATE of their slot; they get new slots and go to it
    again. On a simulated clock sending takes no time: the clock is moved through the slots
    here, exactly as the one-at-a-time loop moves it, and the texts go with no waiting.
    """
    try:
        if sleep is time.sleep:
            return _in_real_time(staged, engine, clock, provider)
        return _in_simulated_time(staged, engine, clock, provider, sleep)
    except BaseException as error:  # noqa: BLE001 - re-raised by the dispatching thread
        unsure = ProviderError("sending stopped by an unexpected error", ambiguous=True)
        return [(unsure, clock.now())] * len(staged.ready), error


def _in_real_time(staged: _Staged, engine: Engine, clock: Clock, provider: BatchSender) -> Sent:
    texts, slots = [sms for _message, (sms, *_) in staged.ready], list(staged.slots)
    outcomes: list[Outcome | None] = [None] * len(texts)
    waiting = list(range(len(texts)))
    while waiting:
        start = clock.now()
        budget = (LEASE / 2 - (start - staged.now)).total_seconds()
        if budget <= 0:
            break  # a slow provider: what is left goes back to the queue
        # A slot already gone by is passed as a negative wait, so its lateness counts too.
        waits = [(slots[i] - start).total_seconds() for i in waiting]
        timed = provider.send_many([texts[i] for i in waiting], waits, budget, LATE_S)
        missed = []
        for i, (outcome, after) in zip(waiting, timed, strict=True):
            if isinstance(outcome, MissedSlot):
                missed.append(i)
            else:
                outcomes[i] = (outcome, start + timedelta(seconds=after))
        if missed:
            fresh = _reslot(engine, [staged.ready[i] for i in missed], clock.now())
            for i, at in zip(missed, fresh, strict=True):
                slots[i] = at
        waiting = missed
    return [o if o is not None else (None, clock.now()) for o in outcomes], None


def _in_simulated_time(
    staged: _Staged, engine: Engine, clock: Clock, provider: BatchSender, sleep: Sleeper | None
) -> Sent:
    texts, slots = [sms for _message, (sms, *_) in staged.ready], list(staged.slots)
    stamps, going = [], []
    for index in range(len(slots)):
        going.append(clock.now() - staged.now <= LEASE / 2)
        if going[-1]:
            _at_slot(engine, clock, sleep, staged.ready, slots, index)
        stamps.append(clock.now())
    going_texts = [t for t, g in zip(texts, going, strict=True) if g]
    sent = iter(provider.send_many(going_texts, None, None, None))
    outcomes: list[Outcome] = [
        (_sent_or_refused(next(sent)[0]) if g else None, at)
        for g, at in zip(going, stamps, strict=True)
    ]
    return outcomes, None


def _sent_or_refused(
    outcome: SendReceipt | ProviderError | MissedSlot | None,
) -> SendReceipt | ProviderError | None:
    """Asked with no lateness limit a sender misses no slot; were one missed, the text would
    go back to the queue unsent, like any other not attempted."""
    return None if isinstance(outcome, MissedSlot) else outcome


def _settle(
    in_flight: _InFlight, clock: Clock, result: DispatchResult, *, quietly: bool = False
) -> ProviderError | None:
    """Record a group's outcomes in one commit; then re-raise whatever stopped its sending.

    Returns the refusal that stopped the run, if one did: it is recorded on its text, once,
    and the texts not sent after it go back to the queue without an event of their own."""
    session = in_flight.staged.session
    try:
        outcomes, failure = in_flight.wait()
        stop = _stopping(outcomes)
        sent: list[tuple[object, ...]] = []
        for (message, _prepared), (outcome, at) in zip(
            in_flight.staged.ready, outcomes, strict=True
        ):
            if outcome is None:
                _not_attempted(session, message, at, quietly=quietly or stop is not None)
            elif outcome is stop:
                _held_back(session, message, outcome, at, result)
            elif isinstance(outcome, ProviderError):
                _after_error(session, clock, message, outcome, at, result)
            else:
                sent.append((message.id, outcome.provider_id, at))
                _event(session, message, "sent", at)
                result.sent += 1
        MARK_SENT.execute(session, sent)
        _commit(session)
    finally:
        session.close()
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


def _reserve(
    session: Session, ready: list[tuple[Message, Prepared]], now: datetime
) -> list[datetime]:
    """Each message's send slot under its trial's shared rate: one reservation per trial."""
    counts: dict[str, tuple[float, int]] = {}
    for message, (_sms, _segments, _cost, rate) in ready:
        counts[message.trial_id] = (rate, counts.get(message.trial_id, (rate, 0))[1] + 1)
    starts = {
        trial: reserve_slots(session, trial, rate, count, now)
        for trial, (rate, count) in sorted(counts.items())  # one lock order for every worker
    }
    slots, used = [], dict.fromkeys(counts, 0)
    for message, (*_, rate) in ready:
        slots.append(starts[message.trial_id] + used[message.trial_id] * spacing(rate))
        used[message.trial_id] += 1
    return slots


def _not_attempted(
    session: Session, message: Message, now: datetime, *, quietly: bool = False
) -> None:
    """A group that ran long (a slow provider) hands back what it never sent, in its lease;
    so does one stopped by a refusal, quietly (that refusal is the one event)."""
    message.status, message.next_attempt_at = "scheduled", now
    message.attempts -= 1
    message.updated_at, message.lease_owner, message.lease_until = now, None, None
    if quietly:
        return
    session.add(
        MessageEvent(
            message_id=message.id or 0,
            status="scheduled",
            detail={"note": "not attempted before the group's time ran out"},
            occurred_at=now,
        )
    )


def _held_back(
    session: Session, message: Message, error: ProviderError, now: datetime, result: DispatchResult
) -> None:
    """The text whose refusal stopped the run: back to the queue, its attempt not counted (the
    provider refused us, not it), due again after any pause; the run's one event is on it."""
    reason = STOPS_RUN[error.code or ""]
    pause = _pause(1) if reason == "rate_limited" else timedelta(0)
    message.status, message.next_attempt_at = "scheduled", now + pause
    message.attempts -= 1
    message.updated_at, message.lease_owner, message.lease_until = now, None, None
    message.last_error = _short(error)
    _event(session, message, "scheduled", now, error, reason)
    if reason == "rate_limited":
        result.rate_limited += 1
    log.warning("Message %s held back: %s", message.id, error.message)


def _after_error(
    session: Session,
    clock: Clock,
    message: Message,
    error: ProviderError,
    now: datetime,
    result: DispatchResult,
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
    """Record what happened; written with the group's next commit, all at once (COPY on
    PostgreSQL)."""
    detail = {k: v for k, v in (("reason", reason), ("error", error and _short(error))) if v}
    session.info.setdefault(PENDING_EVENTS, []).append(
        (message.id or 0, status, detail, error.code if error else None, now)
    )


def _commit(session: Session) -> None:
    insert_rows(session, EVENTS, EVENT_COLUMNS, session.info.pop(PENDING_EVENTS, []))
    session.commit()


def _short(error: ProviderError) -> str:
    return f"{error.code or ''} {error.message}".strip()[:255]


def _wait_until(clock: Clock, at: datetime, sleep: Sleeper | None) -> None:
    delay = (at - clock.now()).total_seconds()
    if delay > 0 and sleep is not None:
        sleep(delay)
