"""Letters through GOV.UK Notify (NUDGE_LETTER_PROVIDER=notify): each sent on its posting day
as our own PDF, exactly once, by reference.

A letter falls due at its posting time (messages/schedule.py). Each run of `nudge dispatch`
or the worker then takes it under its row lock and checks it again with a print run's own last
check (messages/letter_batch.py: the dispatcher's last-moment checks, and no letter to a
person whose letter came back), makes it as a print run does, renders its PDF with the body
clear of the space Notify keeps on the first page, and checks the PDF against Notify's rules
(messages/letter_check.py): a letter that breaks one fails at once with that rule's reason and
is never sent. Otherwise it is committed `sending` before Notify is asked and `sent` with
Notify's id after, carrying its message id as the reference; a run that dies in between
leaves `sending`, which the next run settles by asking Notify for that reference (found:
`sent`; not found: queued again) and never by sending blind.

Notify's refusals are sorted by the one table (providers/notify_errors.py): a refused key or a
rate limit stops the run with the letter queued as it was; a server error is retried with the
dispatcher's backoff (messages/dispatch.py: `retry_or_reason`) until the posting day ends; a
400 fails the letter (`provider_rejected`); a reply that never came leaves it for the next
run's look-up. `sent` is recorded by the dispatcher's own statement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from experiments import trials
from experiments.definition import TrialDefinition
from messages.dispatch import MARK_SENT, retry_or_reason, short_error
from messages.letter_batch import (
    ADDRESS_UNFIT,
    WAITING,
    DueLetter,
    Unmade,
    last_check,
    make_letter,
    waiting_letters,
)
from messages.letter_check import RuleBroken, check_precompiled
from messages.letter_layout import BODY_TOP_NOTIFY, LetterProblem, register_fonts
from messages.letters import render_letter
from messages.outbox import EventRow, record_events
from messages.providers.base import STOPS_RUN, LetterProvider, OutgoingLetter
from messages.providers.notify_errors import PERMANENT
from messages.recovery import mark
from messages.sending import LEASE
from nudge.clock import Clock
from nudge.errors import ProviderError
from nudge.models import Message, MessageStatus, Reason
from nudge.models.statuses import EventStatus

log = logging.getLogger(__name__)
RUN_LIMIT = 1000  # letters a run takes on; the next run goes on with the rest
RATE_PAUSE = timedelta(minutes=1)  # a rate-limited letter waits this long before another try


@dataclass
class LetterRun:
    """What one run did with the letters due; holds no personal data."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    withheld: int = 0
    ambiguous: int = 0  # Notify may have them: the next run asks by reference
    confirmed_sent: int = 0  # found at Notify by reference after an interrupted send
    requeued: int = 0  # not found at Notify after an interrupted send: due again
    unsettled: int = 0  # Notify could not be asked: asked again next run
    reasons: dict[str, int] = field(default_factory=dict)
    stopped: Reason | None = None
    stopped_because: str | None = None

    def count(self, reason: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def send_due_letters(
    engine: Engine, clock: Clock, provider: LetterProvider, *, worker: str
) -> LetterRun:
    """Settle interrupted sends by reference, then send every letter due now, one at a time."""
    run = LetterRun()
    recover_letters(engine, clock, provider, run)
    definitions: dict[str, tuple[str, TrialDefinition]] = {}
    for message_id in _due(engine, clock.now()):
        stop = _send_one(engine, clock, provider, message_id, worker, run, definitions)
        if stop is not None:
            run.stopped = STOPS_RUN[stop.code or ""]
            run.stopped_because = stop.message
            break
    return run


def _due(engine: Engine, now: datetime) -> list[int]:
    query = (
        select(Message.id)
        .where(*WAITING, col(Message.next_attempt_at) <= now)
        .order_by(col(Message.next_attempt_at), col(Message.id))
        .limit(RUN_LIMIT)
    )
    with Session(engine) as session:
        return [i for i in session.exec(query).all() if i is not None]


def recover_letters(engine: Engine, clock: Clock, provider: LetterProvider, run: LetterRun) -> None:
    """Letters left `sending` past their lease: Notify's record of the reference decides."""
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        stuck = session.exec(
            select(Message)
            .where(
                Message.channel == "letter",
                Message.status == MessageStatus.SENDING,
                col(Message.lease_until) < now,
            )
            .order_by(col(Message.id))
            .with_for_update(skip_locked=True)
        ).all()
        events = []
        for message in stuck:
            try:
                found = provider.find_reference(str(message.id))
            except ProviderError as error:
                run.unsettled += 1
                log.warning("Letter %s not settled yet: %s", message.id, error.message)
                continue
            if found is not None:
                message.provider_id = message.provider_id or found.provider_id
                message.sent_at = message.sent_at or found.created_at
                message.last_error = None
                events.append(mark(message, MessageStatus.SENT, now, "found by its reference"))
                run.confirmed_sent += 1
            elif now < message.expires_at:
                message.next_attempt_at = now
                note = "not at Notify after an interrupted send: queued again"
                events.append(mark(message, MessageStatus.SCHEDULED, now, note))
                run.requeued += 1
            else:
                message.reason = Reason.EXPIRED
                note = "not at Notify after an interrupted send, and its posting day is over"
                events.append(mark(message, MessageStatus.FAILED, now, note))
                run.failed += 1
        record_events(session, events)
        session.commit()


def _send_one(
    engine: Engine,
    clock: Clock,
    provider: LetterProvider,
    message_id: int,
    worker: str,
    run: LetterRun,
    definitions: dict[str, tuple[str, TrialDefinition]],
) -> ProviderError | None:
    """One letter checked, made, and sent; the refusal that stops the run, if any."""
    with Session(engine, expire_on_commit=False) as session:
        now = clock.now()
        due = _locked(session, message_id, now)
        if due is None:  # another worker took it, or it changed since the run began
            return None
        message = due.message
        status, definition = _definition(session, message.trial_id, definitions)
        reason = last_check(session, status, due, now)
        if reason is not None:
            _end(session, message, now, MessageStatus.CANCELLED, reason)
            run.withheld += 1
            run.count(reason)
            return None
        made = _pdf(definition, due, now)
        if isinstance(made, RuleBroken):
            _end(session, message, now, MessageStatus.FAILED, made.reason, made.detail)
            run.failed += 1
            run.count(made.reason)
            log.warning("Letter %s not sent: %s", message_id, made.detail)
            return None
        message.status, message.attempts = MessageStatus.SENDING, message.attempts + 1
        message.lease_owner, message.lease_until = worker, now + LEASE
        message.cost, message.updated_at = definition.costs.letter, now
        session.commit()
    try:
        receipt = provider.send(OutgoingLetter(message_id, made))
    except ProviderError as error:
        return _after_error(engine, clock, message_id, error, run)
    _mark_sent(engine, clock.now(), message_id, receipt.provider_id)
    run.sent += 1
    return None


def _locked(session: Session, message_id: int, now: datetime) -> DueLetter | None:
    query = waiting_letters(
        Message.id == message_id, col(Message.next_attempt_at) <= now
    ).with_for_update(of=Message, skip_locked=True)
    row = session.exec(query).first()
    return DueLetter(*row) if row is not None else None


def _definition(
    session: Session, trial_id: str, known: dict[str, tuple[str, TrialDefinition]]
) -> tuple[str, TrialDefinition]:
    """The trial's status and definition, read once a run."""
    if trial_id not in known:
        trial = trials.get_trial(session, trial_id)
        known[trial_id] = (trial.status, trials.current_definition(session, trial))
    return known[trial_id]


def _pdf(definition: TrialDefinition, due: DueLetter, now: datetime) -> bytes | RuleBroken:
    """The letter's own PDF, laid out for Notify, or the rule it breaks."""
    posting_day = now.astimezone(ZoneInfo(definition.timezone)).date()
    register_fonts()  # a missing font stops the run with its own message, not one letter
    letter = make_letter(definition, due, posting_day, now)
    if isinstance(letter, Unmade):
        return letter
    try:
        pdf = render_letter(
            letter.body,
            address=letter.address,
            sender=letter.sender,
            date_line=letter.date_line,
            reference=letter.reference,
            language=letter.language,
            body_top_first=BODY_TOP_NOTIFY,
        )
    except LetterProblem:  # the address was fitted as the letter was made: this one alone fails
        return RuleBroken(Reason.LETTER_ADDRESS_UNUSABLE, ADDRESS_UNFIT)
    return check_precompiled(pdf) or pdf


def _after_error(
    engine: Engine, clock: Clock, message_id: int, error: ProviderError, run: LetterRun
) -> ProviderError | None:
    """What Notify's refusal means for the letter (the one table); a run-stopping refusal is
    handed back."""
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        message = session.exec(
            select(Message).where(Message.id == message_id).with_for_update()
        ).one()
        message.last_error = short_error(error)
        if error.ambiguous:  # Notify may have it: the next run asks for its reference
            message.lease_until, message.updated_at = now, now
            session.commit()
            run.ambiguous += 1
            return None
        stops = STOPS_RUN.get(error.code or "")
        if stops is not None:  # not this letter's fault: queued as it was, its attempt uncounted
            pause = RATE_PAUSE if stops == Reason.RATE_LIMITED else timedelta(0)
            _queue(session, message, now, now + pause, error, stops, counted=False)
            return error
        # `attempts` counts this one: it was counted as the letter was marked `sending`.
        judged = retry_or_reason(error, message.attempts, message.expires_at, now, PERMANENT)
        if isinstance(judged, datetime):
            _queue(session, message, now, judged, error, EventStatus.RETRY, counted=True)
            run.retried += 1
            return None
        reason = judged
        _end(session, message, now, MessageStatus.FAILED, reason, error=error)
        run.failed += 1
        run.count(reason)
    return None


def _queue(
    session: Session,
    message: Message,
    now: datetime,
    due: datetime,
    error: ProviderError,
    why: Reason | EventStatus,
    *,
    counted: bool,
) -> None:
    """Back to `scheduled`, due at `due`; an attempt Notify never judged is not counted."""
    message.status, message.next_attempt_at, message.updated_at = (
        MessageStatus.SCHEDULED,
        due,
        now,
    )
    message.lease_owner = message.lease_until = None
    if not counted:
        message.attempts -= 1
    status = EventStatus.RETRY if why == EventStatus.RETRY else MessageStatus.SCHEDULED
    detail = {"reason": why} if isinstance(why, Reason) else {}
    event = EventRow(message.id or 0, status, detail, now, error_code=error.code)
    record_events(session, [event])
    session.commit()


def _mark_sent(engine: Engine, now: datetime, message_id: int, provider_id: str) -> None:
    """`sent`, unless Notify's callback got there first (then its status stands)."""
    with Session(engine) as session:
        sent: dict[str, list[object]] = {
            "message_id": [message_id],
            "provider_id": [provider_id],
            "at": [now],
        }
        MARK_SENT.execute(session, sent)
        detail = {"provider": "notify", "note": "accepted by Notify as a precompiled letter"}
        record_events(session, [EventRow(message_id, MessageStatus.SENT, detail, now)])
        session.commit()


def _end(
    session: Session,
    message: Message,
    now: datetime,
    status: MessageStatus,
    reason: str,
    rule: str | None = None,
    *,
    error: ProviderError | None = None,
) -> None:
    """The letter's final status with its reason, and the event that says why; committed."""
    message.status, message.reason, message.updated_at = status, reason, now
    message.lease_owner = message.lease_until = None
    detail: dict[str, object] = {"reason": reason}
    if rule is not None:
        detail["rule"] = rule
    code = error.code if error is not None else None
    record_events(session, [EventRow(message.id or 0, status, detail, now, error_code=code)])
    session.commit()
