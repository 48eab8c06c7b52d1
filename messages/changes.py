"""What a change to a case does to its messages: a hearing moved or called off, a milestone
reached or corrected, a case ended.

Each function works in the caller's transaction (the import that recorded the change) and
reads what it needs in a few set-based queries, whatever the number of messages:

- a **moved** hearing supersedes its pending hearing-timed rows (`hearing_moved`), plans them
  again from the new date at the hearing's new version, and plans each `on: hearing_moved`
  text once for the change, telling of the start the person last knew and the new one;
- a hearing **called off** (vacated, withdrawn, discontinued) plans `on: hearing_vacated`;
- a change of status or a milestone that **ends** the case stops what no longer makes sense
  (messages/endings.py);
- a **milestone** plans what its date makes due, re-times pending messages when its date is
  corrected, and plans `on: milestone NAME` once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, func, select, update
from sqlmodel import Session

from experiments.definition import HEARING, MessageSpec
from messages.anchors import Anchors, anchors_for
from messages.endings import stop_reason
from messages.outbox import (
    CHUNK,
    PENDING,
    EventRow,
    EventText,
    PlannedRow,
    Planning,
    Recipient,
    insert_planned,
    plan_event_rows,
    plan_timed,
    planned_row,
    recipients,
    record_events,
    retire,
    retire_ids,
)
from messages.schedule import plan_messages
from messages.surveys import with_reminders
from nudge.clock import Clock
from nudge.models.statuses import HEARING_CALLED_OFF, MessageStatus, Reason, Timing
from nudge.models.tables import CHANGES, HEARINGS, MESSAGES, PEOPLE

# A text about a move not yet sent (or picked up and about to be refused as stale) means the
# person has not been told of the move: the next message tells of the start they still expect.
UNTOLD = (MessageStatus.SCHEDULED, MessageStatus.CLAIMED)


@dataclass(frozen=True)
class OutboxChanges:
    """How many message rows an import planned, superseded and re-planned, or cancelled, and
    how many texts it planned on events (a moved or vacated hearing, a milestone)."""

    planned: int = 0
    superseded_and_replanned: int = 0
    cancelled: int = 0
    event_messages: int = 0


@dataclass(frozen=True)
class LastKnown:
    """The start each person was last told of, for the texts that tell of a change to it."""

    untold: dict[int, datetime]  # by participant: a moved-text of theirs not yet sent
    before: dict[int, datetime]  # by hearing: its start before the latest change

    def of(self, recipient: Recipient) -> datetime | None:
        return self.untold.get(recipient.participant_id) or self.before.get(recipient.hearing_id)


def apply_hearing_changes(
    session: Session,
    clock: Clock,
    trial_id: str,
    moved: Sequence[int],
    ended: Sequence[int] = (),
) -> OutboxChanges:
    """Bring the outbox in line with hearings an import moved (a new version) or ended.

    A hearing both moved and ended is treated as ended: its messages stop, and its people are
    told it is off (if their arm says so) for the start they knew, not re-planned.
    """
    changed = sorted(set(moved) | set(ended))
    if not changed:
        return OutboxChanges()
    planning = Planning.of(session, clock, trial_id)
    last_known = _last_known(session, changed)
    cancelled = stop_ended_cases(session, planning, HEARINGS.c.id.in_(list(ended))) if ended else 0
    still_on = sorted(set(moved) - set(ended))
    replanned = told = 0
    if still_on:
        retire(
            session,
            clock,
            MESSAGES.c.hearing_id.in_(still_on) & (MESSAGES.c.anchor == HEARING),
            MessageStatus.SUPERSEDED,
            Reason.HEARING_MOVED,
        )
        people = recipients(session, trial_id, HEARINGS.c.id.in_(still_on))
        rows = plan_timed(session, planning, people, _timed_from_the_hearing)
        replanned = insert_planned(session, planning, rows)
        told += _tell(session, planning, people, Timing.HEARING_MOVED, last_known)
    if ended:
        called_off = recipients(
            session,
            trial_id,
            HEARINGS.c.id.in_(list(ended)) & HEARINGS.c.status.in_(HEARING_CALLED_OFF),
        )
        told += _tell(session, planning, called_off, Timing.HEARING_VACATED, last_known)
    return OutboxChanges(0, replanned, cancelled, told)


def replan_for_milestones(
    session: Session, clock: Clock, trial_id: str, anchors: Mapping[int, Anchors]
) -> OutboxChanges:
    """After milestones were recorded for some cases (an import, a correction), given those
    cases' anchors by case id (`anchors_for(session, case_ids)`): plan the timed messages their
    dates make due, re-time pending ones whose milestone's date was corrected, plan each newly
    reached milestone's `on: milestone NAME` text once, and stop what an ending (a verdict)
    makes pointless. A handful of queries, whatever the number of cases.

    A milestone dated before the person's enrolment is not news to them: its `on:` text is not
    sent (its timed messages are planned, under the trial's `late:` rule).
    """
    if not anchors:
        return OutboxChanges()
    planning = Planning.of(session, clock, trial_id)
    people = recipients(session, trial_id, PEOPLE.c.case_id.in_(list(anchors)))
    existing = _milestone_rows(session, [r.participant_id for r in people])
    enrolled = _enrolled_at(session, [r.participant_id for r in people])

    def missing(recipient: Recipient, slot: int, spec: MessageSpec) -> bool:
        return spec.anchor != HEARING and (recipient.participant_id, slot) not in existing

    planned = insert_planned(
        session, planning, plan_timed(session, planning, people, missing, anchors)
    )
    events: list[EventText] = []
    retimed = 0
    for recipient in people:
        known = anchors.get(recipient.case_id, {})
        for slot, spec in enumerate(planning.specs[recipient.arm]):
            date, row = known.get(spec.anchor), existing.get((recipient.participant_id, slot))
            if spec.anchor == HEARING or date is None:
                continue
            if spec.timing == Timing.MILESTONE:
                if row is None and _is_news(planning, enrolled[recipient.participant_id], date):
                    events.append(EventText(recipient, slot, date, None))
            elif row is not None and row.status in PENDING and row.anchor_at != date:
                retimed += _retime(session, planning, recipient, slot, row.id, date)
    rows = plan_event_rows(session, planning, events, anchors)
    told = insert_planned(session, planning, rows)
    cancelled = stop_ended_cases(session, planning, PEOPLE.c.case_id.in_(list(anchors)), anchors)
    return OutboxChanges(planned, retimed, cancelled, told)


def stop_ended_cases(
    session: Session,
    planning: Planning,
    which: ColumnElement[bool],
    anchors: Mapping[int, Anchors] | None = None,
) -> int:
    """Cancel the pending messages (of the hearings or cases `which` picks) that their
    hearing's status or their case's milestones (`anchors`, read unless given) say no longer
    make sense, each with its reason: two queries and an update per reason, whatever the
    number of messages."""
    rows = session.execute(
        select(
            MESSAGES.c.id,
            MESSAGES.c.anchor,
            MESSAGES.c.timing,
            HEARINGS.c.status,
            HEARINGS.c.case_id,
        )
        .join(HEARINGS, HEARINGS.c.id == MESSAGES.c.hearing_id)
        .join(PEOPLE, PEOPLE.c.id == MESSAGES.c.participant_id)
        .where(which, MESSAGES.c.status.in_(PENDING))
    ).all()
    if not rows:
        return 0
    if anchors is None:
        anchors = anchors_for(
            session, [row.case_id for row in rows], milestones=bool(planning.declared)
        )
    stopping: dict[Reason, list[int]] = {}
    for message_id, anchor, timing, status, case_id in rows:
        reached = anchors.get(case_id, {}).keys()
        reason = stop_reason(anchor, timing, status, reached=reached, declared=planning.declared)
        if reason is not None:
            stopping.setdefault(reason, []).append(message_id)
    return sum(
        retire_ids(session, planning.now, ids, MessageStatus.CANCELLED, reason)
        for reason, ids in sorted(stopping.items())
    )


def _timed_from_the_hearing(_recipient: Recipient, _slot: int, spec: MessageSpec) -> bool:
    return spec.anchor == HEARING


def _tell(
    session: Session,
    planning: Planning,
    people: Sequence[Recipient],
    timing: Timing,
    last_known: LastKnown,
) -> int:
    """Plan the texts sent on a hearing's move or calling off, once for this change.

    Each tells of the start the person last knew; a move back to it is no news to them. A
    moved hearing's text is useful until the new start, a called-off one's until the old.
    """
    events: list[EventText] = []
    for recipient in people:
        known = last_known.of(recipient)
        if known is None or (timing == Timing.HEARING_MOVED and known == recipient.hearing_start):
            continue
        until = recipient.hearing_start if timing == Timing.HEARING_MOVED else known
        events += [
            EventText(recipient, slot, known, until) for slot, _ in planning.on(recipient, timing)
        ]
    return insert_planned(session, planning, plan_event_rows(session, planning, events))


def _last_known(session: Session, hearing_ids: Sequence[int]) -> LastKnown:
    """Moved-texts not yet sent, and each hearing's start before its latest change."""
    untold = session.execute(
        select(MESSAGES.c.participant_id, MESSAGES.c.anchor_at).where(
            MESSAGES.c.hearing_id.in_(list(hearing_ids)),
            MESSAGES.c.timing == Timing.HEARING_MOVED,
            MESSAGES.c.status.in_(UNTOLD),
        )
    ).all()
    latest = (
        select(func.max(CHANGES.c.id))
        .where(CHANGES.c.hearing_id.in_(list(hearing_ids)))
        .group_by(CHANGES.c.hearing_id)
    )
    before = session.execute(
        select(CHANGES.c.hearing_id, CHANGES.c.previous_starts_at).where(CHANGES.c.id.in_(latest))
    ).all()
    return LastKnown(
        {participant_id: start for participant_id, start in untold if start is not None},
        {hearing_id: start for hearing_id, start in before},
    )


class _Row(NamedTuple):
    id: int
    status: str
    anchor_at: datetime | None


def _milestone_rows(
    session: Session, participant_ids: Sequence[int]
) -> dict[tuple[int, int], _Row]:
    """Each (participant, slot) already planned from a milestone: its live row (the latest
    one not superseded), so a slot is planned once and re-timed, never planned twice."""
    rows: dict[tuple[int, int], _Row] = {}
    for start in range(0, len(participant_ids), CHUNK):
        query = (
            select(
                MESSAGES.c.participant_id,
                MESSAGES.c.slot,
                MESSAGES.c.id,
                MESSAGES.c.status,
                MESSAGES.c.anchor_at,
            )
            .where(
                MESSAGES.c.participant_id.in_(participant_ids[start : start + CHUNK]),
                MESSAGES.c.anchor != HEARING,
                MESSAGES.c.status != MessageStatus.SUPERSEDED,
            )
            .order_by(MESSAGES.c.id)
        )
        for participant_id, slot, *row in session.execute(query):
            rows[(participant_id, slot)] = _Row(*row)
    return rows


def _enrolled_at(session: Session, participant_ids: Sequence[int]) -> dict[int, datetime]:
    """When each person was enrolled (read here, not with every planning's recipients)."""
    enrolled: dict[int, datetime] = {}
    for start in range(0, len(participant_ids), CHUNK):
        query = select(PEOPLE.c.id, PEOPLE.c.enrolled_at).where(
            PEOPLE.c.id.in_(participant_ids[start : start + CHUNK])
        )
        enrolled.update({person: at for person, at in session.execute(query)})
    return enrolled


def _is_news(planning: Planning, enrolled_at: datetime, date: datetime) -> bool:
    """A milestone reached on or after the day the person was enrolled."""
    day = date.astimezone(planning.zone).date()
    return day >= enrolled_at.astimezone(planning.zone).date()


def _retime(
    session: Session,
    planning: Planning,
    recipient: Recipient,
    slot: int,
    message_id: int,
    date: datetime,
) -> int:
    """A pending message whose milestone's date was corrected, timed again in place from the
    new date (under the same rules, `late:` included), with an event saying what it was."""
    arm_specs = planning.specs[recipient.arm]
    plans = plan_messages(
        arm_specs,
        anchors={arm_specs[slot].anchor: date},
        now=planning.now,
        zone=planning.zone,
        sending=planning.definition.sending,
    )
    plan = next(p for p in plans if p.slot == slot)
    row = planned_row(planning, recipient, arm_specs[slot], plan, None)
    _move(session, planning, message_id, row)
    note = {"note": "re-timed: its milestone's date was corrected", "anchor_at": date.isoformat()}
    record_events(session, [EventRow(message_id, plan.status, note, planning.now)])
    for reminder in with_reminders(session, planning, [row])[1:]:  # a survey's, re-timed too
        _retime_reminder(session, planning, reminder, note)
    return 1


def _retime_reminder(
    session: Session, planning: Planning, reminder: PlannedRow, note: dict[str, str]
) -> None:
    pending = session.execute(
        select(MESSAGES.c.id).where(
            MESSAGES.c.participant_id == reminder.participant_id,
            MESSAGES.c.template == reminder.template,
            MESSAGES.c.status.in_(PENDING),
        )
    ).scalars()
    for reminder_id in pending:
        _move(session, planning, reminder_id, reminder)
        status = MessageStatus(reminder.status)
        record_events(session, [EventRow(reminder_id, status, note, planning.now)])


def _move(session: Session, planning: Planning, message_id: int, row: PlannedRow) -> None:
    """A pending message timed again in place as `row` plans it, first tried when it is due."""
    session.execute(
        update(MESSAGES)
        .where(MESSAGES.c.id == message_id)
        .values(
            anchor_at=row.anchor_at,
            due_at=row.due_at,
            next_attempt_at=row.due_at,
            expires_at=row.expires_at,
            status=row.status,
            reason=row.reason,
            updated_at=planning.now,
        )
    )
