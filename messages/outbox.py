"""The outbox: planned message rows, re-planned when a hearing moves, cancelled when unsafe.

Rows are planned when someone is randomised, one per (participant, hearing, slot, hearing
version). Nothing is ever deleted: a moved hearing supersedes its pending rows and plans new
ones; a vacated hearing, an opt-out, a withdrawn consent or a safeguarding flag cancels them,
each with its reason, and every change is a message_event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select, update
from sqlmodel import Session

from experiments import trials
from experiments.definition import MessageSpec, TrialDefinition
from messages.schedule import plan_messages
from nudge.bulk import Same, columns_of, insert_rows
from nudge.clock import Clock
from nudge.models.statuses import (
    HEARING_ENDED,
    EventStatus,
    MessageStatus,
    ProviderStatus,
    Reason,
)
from nudge.models.tables import ARMS, ASSIGNMENTS, EVENTS, HEARINGS, MESSAGES, OPT_OUTS, PEOPLE

PENDING = (MessageStatus.SCHEDULED,)
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


def plan_for_participants(
    session: Session, clock: Clock, trial_id: str, participant_ids: Sequence[int]
) -> int:
    """Plan the arm's messages for newly randomised people; returns the rows written."""
    definition = trials.current_definition(session, trials.get_trial(session, trial_id))
    written = 0
    for start in range(0, len(participant_ids), CHUNK):
        recipients = _recipients(session, trial_id, participant_ids[start : start + CHUNK])
        written += _plan(session, clock, trial_id, definition, recipients)
    return written


def replan_moved_hearings(
    session: Session, clock: Clock, trial_id: str, hearing_ids: Sequence[int]
) -> int:
    """Supersede pending rows of moved hearings and plan again from their new dates."""
    if not hearing_ids:
        return 0
    _retire(
        session,
        clock,
        MESSAGES.c.hearing_id.in_(hearing_ids),
        MessageStatus.SUPERSEDED,
        Reason.HEARING_MOVED,
    )
    people = (
        session.execute(
            select(PEOPLE.c.id)
            .join(HEARINGS, HEARINGS.c.case_id == PEOPLE.c.case_id)
            .join(ASSIGNMENTS, ASSIGNMENTS.c.participant_id == PEOPLE.c.id)
            .where(HEARINGS.c.id.in_(hearing_ids))
        )
        .scalars()
        .all()
    )
    return plan_for_participants(session, clock, trial_id, list(people))


def cancel_for_hearings(
    session: Session,
    clock: Clock,
    hearing_ids: Sequence[int],
    reason: Reason = Reason.HEARING_VACATED,
) -> int:
    """A vacated or concluded hearing: nothing more is sent for it."""
    if not hearing_ids:
        return 0
    where = MESSAGES.c.hearing_id.in_(hearing_ids)
    return _retire(session, clock, where, MessageStatus.CANCELLED, reason)


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
                cancelled += _retire(
                    session, clock, theirs, MessageStatus.CANCELLED, Reason.SAFEGUARDING
                )
                continue
            if not sms or not phone:
                cancelled += _retire(
                    session,
                    clock,
                    theirs & (MESSAGES.c.channel == "sms"),
                    MessageStatus.CANCELLED,
                    Reason.NO_CONSENT,
                )
            if not letter:
                cancelled += _retire(
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
    return _retire(session, clock, where, MessageStatus.CANCELLED, reason)


def _retire(
    session: Session,
    clock: Clock,
    where: ColumnElement[bool],
    status: MessageStatus,
    reason: Reason,
) -> int:
    """Move pending rows matching `where` to a final status, recording an event for each."""
    now = clock.now()
    ids = (
        session.execute(select(MESSAGES.c.id).where(where, MESSAGES.c.status.in_(PENDING)))
        .scalars()
        .all()
    )
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


def _recipients(session: Session, trial_id: str, ids: Iterable[int]) -> list[Recipient]:
    query = (
        select(
            PEOPLE.c.id.label("participant_id"),
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
        .where(PEOPLE.c.trial_id == trial_id, PEOPLE.c.id.in_(list(ids)))
    )
    recipients = []
    for row in session.execute(query):
        fields = row._asdict()
        fields["has_address"] = bool(fields.pop("address"))
        recipients.append(Recipient(**fields))
    return recipients


class _PlannedMessage(NamedTuple):
    """One planned `message` row, less what all of a plan's rows share; fields named as columns."""

    participant_id: int
    hearing_id: int
    hearing_version: int
    slot: int
    channel: str
    template: str
    language: str
    due_at: datetime
    expires_at: datetime
    status: str
    reason: str | None


def _plan(
    session: Session,
    clock: Clock,
    trial_id: str,
    definition: TrialDefinition,
    recipients: list[Recipient],
) -> int:
    now = clock.now()
    zone = ZoneInfo(definition.timezone)
    specs = {arm.id: arm.messages for arm in definition.arms}
    opted_out = _opted_out(session, [r.phone for r in recipients if r.phone])
    rows = []
    for recipient in recipients:
        arm_specs = specs[recipient.arm]
        if not arm_specs:
            continue
        planned = plan_messages(
            arm_specs,
            hearing_start=recipient.hearing_start,
            now=now,
            zone=zone,
            sending=definition.sending,
        )
        for spec, plan in zip(arm_specs, planned, strict=True):
            status, reason = plan.status, plan.reason
            blocked = _blocked(recipient, spec, opted_out)
            if blocked is not None:
                status, reason = MessageStatus.SKIPPED, blocked
            due = plan.due_at or now
            rows.append(
                _PlannedMessage(
                    participant_id=recipient.participant_id,
                    hearing_id=recipient.hearing_id,
                    hearing_version=recipient.hearing_version,
                    slot=plan.slot,
                    channel=spec.channel,
                    template=spec.template,
                    language=_language(definition, spec, recipient.language),
                    due_at=due,
                    expires_at=plan.expires_at or due,
                    status=status,
                    reason=reason,
                )
            )
    return _insert_planned(session, trial_id, rows, now)


def _insert_planned(
    session: Session, trial_id: str, rows: list[_PlannedMessage], now: datetime
) -> int:
    """The planned rows as messages, each first tried when it is due."""
    columns = columns_of(rows, _PlannedMessage._fields)
    return insert_rows(
        session,
        MESSAGES,
        {
            "trial_id": Same(trial_id),
            **columns,
            "next_attempt_at": columns["due_at"],
            "updated_at": Same(now),
        },
    )


def _blocked(recipient: Recipient, spec: MessageSpec, opted_out: set[str]) -> Reason | None:
    """Why this person must not get this message at all, or None. Safety comes first."""
    if recipient.safeguarding_flag:
        return Reason.SAFEGUARDING
    if recipient.hearing_status in HEARING_ENDED:
        return Reason.HEARING_VACATED
    if spec.channel == "sms":
        if not recipient.contact_sms or not recipient.phone:
            return Reason.NO_CONSENT
        if recipient.phone in opted_out:
            return Reason.OPTED_OUT
    elif not recipient.contact_letter or not recipient.has_address:
        return Reason.NO_CONSENT
    return None


def _language(definition: TrialDefinition, spec: MessageSpec, wanted: str) -> str:
    texts = definition.templates.get(spec.template, {})
    return wanted if wanted in texts else "en"


def _opted_out(session: Session, phones: list[str]) -> set[str]:
    if not phones:
        return set()
    return set(
        session.execute(select(OPT_OUTS.c.phone).where(OPT_OUTS.c.phone.in_(phones))).scalars()
    )
