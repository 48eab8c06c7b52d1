"""Pausing an arm, or a whole trial, and resuming it: its messages are held, not cancelled.

A data monitoring committee (or a breached guardrail) may pause one arm while it decides, or
the whole trial. This is an operational change: the design is not amended, the pause and the
resume are audited with their reasons, and nothing anyone was going to be sent is thrown away.

- **Pause.** Every message of the arm's people still waiting to go (`scheduled`) becomes `held`
  with the reason `arm_paused`, each with an event. Messages planned while the pause lasts (a
  new enrolment, a hearing that moves, a milestone) are planned `held` too
  (messages/outbox.py `insert_planned`, where every planned row is written). A text already
  claimed by a worker when the pause commits is in flight and goes: the pause takes effect
  from its commit on.
- **Resume.** A held message whose time has not come goes back to `scheduled` and goes when
  due. One whose time came while paused follows the trial's `late:` rule, as a message planned
  late at enrolment does: `skip` cancels it (`paused_past_due`); `next_window` sends it at the
  next time texts may go (`sent_late_after_pause`), unless that is past its expiry (a reminder
  once the hearing has started), which cancels it (`expired`). Every check made at sending
  (safeguarding, consent, opt-out, the case still on) is made again when it goes.
- A whole-trial pause holds every arm; resuming an arm inside a paused trial releases nothing
  until the trial is resumed, and the reverse.
- **Enrolment.** Under `randomisation.paused_arm_enrolment: allocate` (the default) new people
  are still allocated to a paused arm, their messages held. Under `exclude` a paused arm takes
  no new unit: new units are allocated among the open arms only (experiments/allocation.py).
  That is a change of allocation, a design change: each pause and resume that changes the
  open arms is audited as `trial.allocation_changed` with the arms open after it, and listed
  with the trial's versions (experiments/amendments.py `allocation_changes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlmodel import Session, col

from experiments import trials
from experiments.allocation import excluded_arms
from experiments.definition import TrialDefinition
from messages.schedule import next_allowed
from nudge import audit
from nudge.clock import Clock
from nudge.errors import NudgeError, TrialStateError
from nudge.models import MessageStatus, Pause, Reason, TrialStatus
from nudge.models.tables import ARMS, ASSIGNMENTS, EVENTS, MESSAGES

CHUNK = 1000
WHOLE_TRIAL = None  # a pause's arm_key when the whole trial is paused


@dataclass(frozen=True)
class Paused:
    held: int
    # Under paused_arm_enrolment: exclude, the arms new units are allocated among now (fewer
    # than two: nobody new can be randomised); None when allocation is unchanged.
    open_arms: tuple[str, ...] | None = None
    allocation: str | None = None  # the change of allocation in words, for the person


@dataclass(frozen=True)
class Resumed:
    released: int  # back to scheduled, still in time
    sent_late: int  # due while paused, sent at the next window
    cancelled: int  # due while paused and not sent (late: skip, or expired)
    open_arms: tuple[str, ...] | None = None  # as on Paused: the arms open after the resume
    allocation: str | None = None


def active_pauses(session: Session, trial_id: str) -> list[Pause]:
    query = select(Pause).where(col(Pause.trial_id) == trial_id, col(Pause.resumed_at).is_(None))
    return list(session.execute(query).scalars())


def paused_arms(session: Session, trial_id: str, arms: Sequence[str]) -> set[str]:
    """The arms whose messages are held now: every arm when the trial is paused."""
    keys = {pause.arm_key for pause in active_pauses(session, trial_id)}
    return set(arms) if WHOLE_TRIAL in keys else {k for k in keys if k is not None}


def pause(
    session: Session, clock: Clock, trial_id: str, arm: str | None, reason: str, actor: str
) -> Paused:
    """Pause ARM (or the whole trial) of a live trial and hold its waiting messages."""
    trial = trials.lock_trial(session, trial_id)
    if trial.status != TrialStatus.LIVE:
        raise TrialStateError(f"trial '{trial_id}' is {trial.status}: only a live trial pauses")
    definition = trials.current_definition(session, trial)
    known = [a.id for a in definition.arms]
    if arm is not None and arm not in known:
        raise NudgeError(f"trial '{trial_id}' has no arm '{arm}'; its arms are {', '.join(known)}")
    if not reason.strip():
        raise NudgeError("give the reason for the pause (--reason): it goes in the audit log")
    for current in active_pauses(session, trial_id):
        if current.arm_key == arm:
            what = f"arm '{arm}'" if arm else "the trial"
            raise NudgeError(
                f"{what} is already paused (since {current.paused_at:%Y-%m-%d %H:%M} UTC); "
                "resume it first to pause it again"
            )
    now = clock.now()
    closed_before = excluded_arms(session, trial_id, definition)
    session.add(
        Pause(trial_id=trial_id, arm_key=arm, reason=reason.strip(), paused_at=now, paused_by=actor)
    )
    session.flush()
    opened = _allocation_change(
        session, clock, trial_id, definition, closed_before, actor, reason.strip()
    )
    ids = _messages(session, trial_id, arm, MessageStatus.SCHEDULED)
    _move(session, now, ids, MessageStatus.HELD, Reason.ARM_PAUSED)
    audit.record(
        session,
        clock,
        actor=actor,
        action="trial.paused",
        trial_id=trial_id,
        subject=arm or "whole trial",
        details={"reason": reason.strip(), "held": len(ids)},
    )
    return Paused(len(ids), opened, allocation_words(opened, definition))


def resume(session: Session, clock: Clock, trial_id: str, arm: str | None, actor: str) -> Resumed:
    """End ARM's (or the trial's) pause; release, send late or cancel what it held."""
    trial = trials.lock_trial(session, trial_id)
    definition = trials.current_definition(session, trial)
    found = [p for p in active_pauses(session, trial_id) if p.arm_key == arm]
    if not found:
        what = f"arm '{arm}'" if arm else "the whole trial"
        raise NudgeError(f"{what} of '{trial_id}' is not paused: nothing to resume")
    now = clock.now()
    closed_before = excluded_arms(session, trial_id, definition)
    for current in found:
        current.resumed_at, current.resumed_by = now, actor
        session.add(current)
    session.flush()
    opened = _allocation_change(session, clock, trial_id, definition, closed_before, actor, None)
    still = paused_arms(session, trial_id, [a.id for a in definition.arms])
    releasing = [a.id for a in definition.arms if a.id not in still]
    if arm is not None:
        releasing = [arm] if arm in releasing else []
    held = [i for key in releasing for i in _messages(session, trial_id, key, MessageStatus.HELD)]
    result = _release(session, now, held, definition.sending.late, definition)
    audit.record(
        session,
        clock,
        actor=actor,
        action="trial.resumed",
        trial_id=trial_id,
        subject=arm or "whole trial",
        details={
            "released": result.released,
            "sent_late": result.sent_late,
            "cancelled": result.cancelled,
        },
    )
    words = allocation_words(opened, definition)
    return Resumed(result.released, result.sent_late, result.cancelled, opened, words)


def allocation_words(opened: tuple[str, ...] | None, definition: TrialDefinition) -> str | None:
    """What a change of the arms open to new units means, in a sentence; None for no change."""
    if opened is None:
        return None
    titles = {arm.id: arm.title for arm in definition.arms}
    if len(opened) == len(titles):
        return "new participants are allocated among every arm again (a design change, recorded)"
    if len(opened) < 2:
        return (
            "fewer than two arms are open, so nobody new can be randomised until an arm is "
            "resumed: an import with anyone new is refused (a design change, recorded)"
        )
    shown = ", ".join(titles[a] for a in opened)
    return (
        f"new participants are allocated among {shown} only, while the others are paused "
        "(a design change, recorded)"
    )


def _allocation_change(
    session: Session,
    clock: Clock,
    trial_id: str,
    definition: TrialDefinition,
    closed_before: set[str],
    actor: str,
    reason: str | None,
) -> tuple[str, ...] | None:
    """Audit a change of the arms open to new units (a design change); the arms open now,
    or None when the pause or resume left allocation as it was."""
    closed = excluded_arms(session, trial_id, definition)
    if closed == closed_before:
        return None
    arms = [arm.id for arm in definition.arms]
    opened = tuple(a for a in arms if a not in closed)
    details: dict[str, object] = {
        "open_arms": list(opened),
        "closed": [a for a in arms if a in closed],
        "was_closed": [a for a in arms if a in closed_before],
    }
    if reason:
        details["reason"] = reason
    audit.record(
        session,
        clock,
        actor=actor,
        action="trial.allocation_changed",
        trial_id=trial_id,
        subject="design change: arms open to new participants",
        details=details,
    )
    return opened


def _messages(session: Session, trial_id: str, arm: str | None, status: MessageStatus) -> list[int]:
    query = select(MESSAGES.c.id).where(
        MESSAGES.c.trial_id == trial_id, MESSAGES.c.status == status
    )
    if arm is not None:
        members = (
            select(ASSIGNMENTS.c.participant_id)
            .join(ARMS, ARMS.c.id == ASSIGNMENTS.c.arm_id)
            .where(ASSIGNMENTS.c.trial_id == trial_id, ARMS.c.key == arm)
        )
        query = query.where(MESSAGES.c.participant_id.in_(members))
    return list(session.execute(query.order_by(MESSAGES.c.id)).scalars())


def _move(
    session: Session,
    now: datetime,
    ids: Sequence[int],
    status: MessageStatus,
    reason: Reason | None,
    due: datetime | None = None,
) -> None:
    values: dict[str, object] = {"status": status, "reason": reason, "updated_at": now}
    if due is not None:
        values |= {"due_at": due, "next_attempt_at": due}
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        session.execute(update(MESSAGES).where(MESSAGES.c.id.in_(chunk)).values(**values))
        detail = {"reason": reason} if reason else {"note": "released on resume"}
        session.execute(
            insert(EVENTS),
            [
                {"message_id": i, "status": status, "detail": detail, "occurred_at": now}
                for i in chunk
            ],
        )


def _release(
    session: Session, now: datetime, ids: list[int], late: str, definition: TrialDefinition
) -> Resumed:
    zone = ZoneInfo(definition.timezone)
    rows = session.execute(
        select(MESSAGES.c.id, MESSAGES.c.channel, MESSAGES.c.due_at, MESSAGES.c.expires_at).where(
            MESSAGES.c.id.in_(ids)
        )
    ).all()
    in_time = [r.id for r in rows if r.due_at > now]
    _move(session, now, in_time, MessageStatus.SCHEDULED, None)
    late_rows = [r for r in rows if r.due_at <= now]
    cancelled = sent_late = 0
    if late == "skip":
        _move(
            session, now, [r.id for r in late_rows], MessageStatus.CANCELLED, Reason.PAUSED_PAST_DUE
        )
        return Resumed(len(in_time), 0, len(late_rows))
    for row in late_rows:
        due = (
            next_allowed(now, zone, definition.sending.quiet_hours) if row.channel == "sms" else now
        )
        if due >= row.expires_at:
            _move(session, now, [row.id], MessageStatus.CANCELLED, Reason.EXPIRED)
            cancelled += 1
        else:
            _move(
                session, now, [row.id], MessageStatus.SCHEDULED, Reason.SENT_LATE_AFTER_PAUSE, due
            )
            sent_late += 1
    return Resumed(len(in_time), sent_late, cancelled)
