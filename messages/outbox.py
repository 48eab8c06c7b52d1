"""The outbox: planned message rows, and the ways they stop when no longer safe or useful.

Rows are planned when someone is randomised, one per (participant, hearing, slot, hearing
version), for each timed message whose anchor has a date; event messages are planned by the
import that records the event (messages/changes.py). Nothing is ever deleted: a moved hearing
supersedes its pending rows and plans new ones; an ended case, an opt-out, a withdrawn consent
or a safeguarding flag cancels them, each with its reason, and every change is a message_event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select, update
from sqlmodel import Session

from experiments import trials
from experiments.definition import MessageSpec, TrialDefinition, declared_milestones
from messages.anchors import Anchors, anchors_for
from messages.endings import stop_reason
from messages.pausing import paused_arms
from messages.schedule import PlannedMessage, plan_event, plan_messages
from messages.surveys import survey_texts, with_reminders
from nudge.bulk import Same, columns_of, insert_rows
from nudge.clock import Clock
from nudge.models.statuses import (
    EventStatus,
    MessageStatus,
    ProviderStatus,
    Reason,
    Timing,
)
from nudge.models.tables import ARMS, ASSIGNMENTS, EVENTS, HEARINGS, MESSAGES, OPT_OUTS, PEOPLE

# Waiting to go: a held message (its arm paused) is retired, superseded or cancelled alike.
PENDING = (MessageStatus.SCHEDULED, MessageStatus.HELD)
CHUNK = 2000


class EventRow(NamedTuple):
    """One `message_event` row; its field names are the table's column names."""

    message_id: int
    status: MessageStatus | EventStatus | ProviderStatus
    detail: dict[str, Any]
    occurred_at: datetime
    error_code: str | None = None
    provider_status: str | None = None


def record_events(session: Session, events: Sequence[EventRow]) -> None:
    """The one way events are written: all at once, in the caller's transaction (COPY on
    PostgreSQL)."""
    insert_rows(session, EVENTS, columns_of(events, EventRow._fields))


@dataclass(frozen=True)
class Recipient:
    """What planning needs to know about one randomised participant and their hearing."""

    participant_id: int
    case_id: int
    arm: str
    language: str
    contact_sms: bool
    contact_letter: bool
    safeguarding_flag: bool
    phone: str | None
    has_address: bool
    hearing_id: int
    hearing_version: int
    hearing_start: datetime
    hearing_status: str


@dataclass(frozen=True)
class Planning:
    """What planning an import's messages reads once: the definition, its zone, and `now`."""

    trial_id: str
    definition: TrialDefinition
    zone: ZoneInfo
    now: datetime
    specs: dict[str, list[MessageSpec]]  # each arm's messages, by arm id
    declared: list[str]  # the trial's milestones, in order
    paused: frozenset[str] = frozenset()  # arms whose messages are planned held (pausing.py)

    @classmethod
    def of(cls, session: Session, clock: Clock, trial_id: str) -> Planning:
        definition = trials.current_definition(session, trials.get_trial(session, trial_id))
        questions = [survey.spec for survey in definition.surveys]
        return cls(
            trial_id,
            definition,
            ZoneInfo(definition.timezone),
            clock.now(),
            # A survey's questions after each arm's own messages: every arm asks them alike.
            {arm.id: [*arm.messages, *questions] for arm in definition.arms},
            declared_milestones(definition),
            frozenset(paused_arms(session, trial_id, [arm.id for arm in definition.arms])),
        )

    def on(self, recipient: Recipient, timing: Timing) -> list[tuple[int, MessageSpec]]:
        """The recipient's arm's messages sent on an event of this kind, with their slots."""
        return [(s, m) for s, m in enumerate(self.specs[recipient.arm]) if m.timing == timing]


# Which of a recipient's timed messages to plan: (recipient, slot, spec) -> plan it?
Wanted = Callable[["Recipient", int, MessageSpec], bool]


def plan_for_participants(
    session: Session, clock: Clock, trial_id: str, participant_ids: Sequence[int]
) -> int:
    """Plan the timed messages (`send:`) of newly randomised people; returns the rows written.
    A message whose anchor has no date yet waits for it; event texts wait for their events."""
    planning = Planning.of(session, clock, trial_id)
    written = 0
    for start in range(0, len(participant_ids), CHUNK):
        people = recipients(
            session, trial_id, PEOPLE.c.id.in_(participant_ids[start : start + CHUNK])
        )
        written += insert_planned(session, planning, plan_timed(session, planning, people))
    return written


def plan_timed(
    session: Session,
    planning: Planning,
    people: Sequence[Recipient],
    wanted: Wanted | None = None,
    anchors: Mapping[int, Anchors] | None = None,
) -> list[PlannedRow]:
    """The rows of people's timed messages (all, or the `wanted` ones) from their cases'
    anchors (read unless given): one query for the anchors and one for opt-outs, whatever the
    number of people."""
    if anchors is None:
        anchors = anchors_for(
            session, [r.case_id for r in people], milestones=bool(planning.declared)
        )
    opted_out = _opted_out(session, [r.phone for r in people if r.phone])
    rows = []
    for recipient in people:
        arm_specs = planning.specs[recipient.arm]
        if not arm_specs:
            continue
        known = anchors.get(recipient.case_id, {})
        for plan in plan_messages(
            arm_specs,
            anchors=known,
            now=planning.now,
            zone=planning.zone,
            sending=planning.definition.sending,
        ):
            spec = arm_specs[plan.slot]
            if wanted is None or wanted(recipient, plan.slot, spec):
                blocked = blocked_reason(planning, recipient, spec, opted_out, known)
                rows.append(planned_row(planning, recipient, spec, plan, blocked))
    return rows


class EventText(NamedTuple):
    """An event's text to plan: for whom, its slot, what it tells of, until when it is useful
    (None: for a day)."""

    recipient: Recipient
    slot: int
    anchor_at: datetime
    expires_at: datetime | None


def plan_event_rows(
    session: Session,
    planning: Planning,
    events: Sequence[EventText],
    anchors: Mapping[int, Anchors] | None = None,
) -> list[PlannedRow]:
    """The rows of event texts, checked like any message against their cases' anchors (read
    unless given), safeguarding, consent and opt-outs: two queries, whatever the number."""
    if anchors is None:
        cases = [event.recipient.case_id for event in events]
        anchors = anchors_for(session, cases, milestones=bool(planning.declared))
    phones = [event.recipient.phone for event in events if event.recipient.phone]
    opted_out = _opted_out(session, phones)
    rows = []
    for event in events:
        recipient, slot = event.recipient, event.slot
        spec = planning.specs[recipient.arm][slot]
        plan = plan_event(
            slot,
            spec,
            anchor_at=event.anchor_at,
            expires_at=event.expires_at,
            now=planning.now,
            zone=planning.zone,
            sending=planning.definition.sending,
        )
        known = anchors.get(recipient.case_id, {})
        blocked = blocked_reason(planning, recipient, spec, opted_out, known)
        rows.append(planned_row(planning, recipient, spec, plan, blocked))
    return rows


def planned_row(
    planning: Planning,
    recipient: Recipient,
    spec: MessageSpec,
    plan: PlannedMessage,
    blocked: Reason | None,
) -> PlannedRow:
    """One `message` row from a plan; `blocked` (why it must never go) overrides its status."""
    status, reason = plan.status, plan.reason
    if blocked is not None:
        status, reason = MessageStatus.SKIPPED, blocked
    return PlannedRow(
        participant_id=recipient.participant_id,
        hearing_id=recipient.hearing_id,
        hearing_version=recipient.hearing_version,
        slot=plan.slot,
        channel=spec.channel,
        template=spec.template,
        language=_language(planning.definition, spec, recipient.language),
        anchor=plan.anchor,
        timing=plan.timing,
        anchor_at=plan.anchor_at,
        due_at=plan.due_at,
        expires_at=plan.expires_at,
        status=status,
        reason=reason,
    )


def cancel_unsafe(session: Session, clock: Clock, participant_ids: Sequence[int]) -> int:
    """After contact details change: cancel what may no longer be sent, by channel."""
    cancelled = 0
    for start in range(0, len(participant_ids), CHUNK):
        rows = session.execute(
            select(
                PEOPLE.c.id,
                PEOPLE.c.safeguarding_flag,
                PEOPLE.c.contact_sms,
                PEOPLE.c.contact_letter,
                PEOPLE.c.phone,
            ).where(PEOPLE.c.id.in_(participant_ids[start : start + CHUNK]))
        ).all()
        for participant_id, flagged, sms, letter, phone in rows:
            theirs = MESSAGES.c.participant_id == participant_id
            if flagged:
                cancelled += retire(
                    session, clock, theirs, MessageStatus.CANCELLED, Reason.SAFEGUARDING
                )
                continue
            if not sms or not phone:
                cancelled += retire(
                    session,
                    clock,
                    theirs & (MESSAGES.c.channel == "sms"),
                    MessageStatus.CANCELLED,
                    Reason.NO_CONSENT,
                )
            if not letter:
                cancelled += retire(
                    session,
                    clock,
                    theirs & (MESSAGES.c.channel == "letter"),
                    MessageStatus.CANCELLED,
                    Reason.NO_CONSENT,
                )
    return cancelled


def cancel_for_phone(
    session: Session, clock: Clock, phone: str, reason: Reason = Reason.OPTED_OUT
) -> int:
    """An opt-out: every pending SMS to that number, in every trial, is cancelled."""
    people = select(PEOPLE.c.id).where(PEOPLE.c.phone == phone)
    where = MESSAGES.c.participant_id.in_(people) & (MESSAGES.c.channel == "sms")
    return retire(session, clock, where, MessageStatus.CANCELLED, reason)


def retire(
    session: Session,
    clock: Clock,
    where: ColumnElement[bool],
    status: MessageStatus,
    reason: Reason,
) -> int:
    """Move pending rows matching `where` to a final status, recording an event for each."""
    ids = (
        session.execute(select(MESSAGES.c.id).where(where, MESSAGES.c.status.in_(PENDING)))
        .scalars()
        .all()
    )
    return retire_ids(session, clock.now(), ids, status, reason)


def retire_ids(
    session: Session, now: datetime, ids: Sequence[int], status: MessageStatus, reason: Reason
) -> int:
    """Move these pending rows to a final status, recording an event for each."""
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id.in_(chunk))
            .values(status=status, reason=reason, updated_at=now)
        )
        record_events(
            session, [EventRow(message_id, status, {"reason": reason}, now) for message_id in chunk]
        )
    return len(ids)


def recipients(session: Session, trial_id: str, which: ColumnElement[bool]) -> list[Recipient]:
    """The randomised participants `which` picks (by people's, cases' or hearings' columns),
    with their arm and hearing: one query."""
    query = (
        select(
            PEOPLE.c.id.label("participant_id"),
            PEOPLE.c.case_id,
            ARMS.c.key.label("arm"),
            PEOPLE.c.language,
            PEOPLE.c.contact_sms,
            PEOPLE.c.contact_letter,
            PEOPLE.c.safeguarding_flag,
            PEOPLE.c.phone,
            PEOPLE.c.address,
            HEARINGS.c.id.label("hearing_id"),
            HEARINGS.c.version.label("hearing_version"),
            HEARINGS.c.starts_at.label("hearing_start"),
            HEARINGS.c.status.label("hearing_status"),
        )
        .join(ASSIGNMENTS, ASSIGNMENTS.c.participant_id == PEOPLE.c.id)
        .join(ARMS, ARMS.c.id == ASSIGNMENTS.c.arm_id)
        .join(HEARINGS, HEARINGS.c.case_id == PEOPLE.c.case_id)
        .where(PEOPLE.c.trial_id == trial_id, which)
        .order_by(PEOPLE.c.id)
    )
    people = []
    for row in session.execute(query):
        fields = row._asdict()
        fields["has_address"] = bool(fields.pop("address"))
        people.append(Recipient(**fields))
    return people


class PlannedRow(NamedTuple):
    """One planned `message` row, less what all of a plan's rows share; fields named as columns."""

    participant_id: int
    hearing_id: int
    hearing_version: int
    slot: int
    channel: str
    template: str
    language: str
    anchor: str
    timing: str
    anchor_at: datetime
    due_at: datetime
    expires_at: datetime
    status: str
    reason: str | None


def insert_planned(session: Session, planning: Planning, rows: Sequence[PlannedRow]) -> int:
    """The planned rows as messages, each first tried when it is due; a survey question's
    reminder is planned beside it (messages/surveys.py)."""
    rows = with_reminders(session, planning, rows)
    if planning.paused:
        rows = _held_if_paused(session, planning, rows)
    columns = columns_of(rows, PlannedRow._fields)
    return insert_rows(
        session,
        MESSAGES,
        {
            "trial_id": Same(planning.trial_id),
            **columns,
            "next_attempt_at": columns["due_at"],
            "updated_at": Same(planning.now),
        },
    )


def _held_if_paused(
    session: Session, planning: Planning, rows: Sequence[PlannedRow]
) -> list[PlannedRow]:
    """Rows for paused arms' people planned `held`, not `scheduled` (messages/pausing.py)."""
    people = sorted({row.participant_id for row in rows})
    arm_of: dict[int, str] = {}
    for start in range(0, len(people), 1000):
        query = (
            select(ASSIGNMENTS.c.participant_id, ARMS.c.key)
            .join(ARMS, ARMS.c.id == ASSIGNMENTS.c.arm_id)
            .where(ASSIGNMENTS.c.participant_id.in_(people[start : start + 1000]))
        )
        arm_of.update({pid: key for pid, key in session.execute(query)})
    return [
        row._replace(status=MessageStatus.HELD, reason=Reason.ARM_PAUSED)
        if row.status == MessageStatus.SCHEDULED
        and arm_of.get(row.participant_id) in planning.paused
        else row
        for row in rows
    ]


def blocked_reason(
    planning: Planning,
    recipient: Recipient,
    spec: MessageSpec,
    opted_out: set[str],
    anchors: Mapping[str, datetime],
) -> Reason | None:
    """Why this person must not get this message at all, or None. Safety comes first."""
    if recipient.safeguarding_flag:
        return Reason.SAFEGUARDING
    ended = stop_reason(
        spec.anchor,
        spec.timing,
        recipient.hearing_status,
        reached=anchors.keys(),
        declared=planning.declared,
    )
    if ended is not None:
        return ended
    if spec.channel == "sms":
        if not recipient.contact_sms or not recipient.phone:
            return Reason.NO_CONSENT
        if recipient.phone in opted_out:
            return Reason.OPTED_OUT
    elif not recipient.contact_letter or not recipient.has_address:
        return Reason.NO_CONSENT
    return None


def _language(definition: TrialDefinition, spec: MessageSpec, wanted: str) -> str:
    texts = survey_texts(definition, spec.template) or definition.templates.get(spec.template, {})
    return wanted if wanted in texts else "en"


def _opted_out(session: Session, phones: list[str]) -> set[str]:
    if not phones:
        return set()
    return set(
        session.execute(select(OPT_OUTS.c.phone).where(OPT_OUTS.c.phone.in_(phones))).scalars()
    )
