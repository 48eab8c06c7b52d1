"""Replies kept for staff, and the numbers that opted out: what the researcher pages list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from experiments import trials
from messages.replies import STOP_WORDS
from nudge import audit
from nudge.clock import Clock
from nudge.errors import NotFound
from nudge.models import InboundMessage, OptOut, Participant, Trial
from nudge.paging import PER_PAGE, page_window

REPLY_STATES = ("open", "handled", "all")
UTC_ZONE = ZoneInfo("UTC")
T = TypeVar("T")


@dataclass(frozen=True)
class ReplyRow:
    reply_id: int
    participant_ref: str | None
    trial_id: str | None
    received_at: datetime  # in the trial's timezone (UTC when the number is not known)
    body: str
    number: str  # masked
    handled_at: datetime | None
    handled_by: str | None


@dataclass(frozen=True)
class OptOutRow:
    number: str  # masked
    affects: list[tuple[str, str]]  # (trial id, participant ref)
    opted_out_at: datetime  # in the first affected trial's timezone, else UTC
    via: str


@dataclass(frozen=True)
class Paged(Generic[T]):
    rows: list[T]
    page: int
    pages: int
    total: int


def masked(phone: str) -> str:
    """Only the last three digits: enough to tell numbers apart on a call, not to text them."""
    digits = "".join(c for c in phone if c.isdigit())
    return f"ending {digits[-3:]}" if len(digits) >= 3 else "hidden"


def replies_for_staff(
    session: Session, *, state: str = "open", trial_id: str | None = None, page: int = 1
) -> Paged[ReplyRow]:
    """Replies that were not STOP, START, HELP or CONFIRM, newest first."""
    query = (
        select(InboundMessage, Participant.participant_ref, Participant.trial_id)
        .outerjoin(Participant, col(Participant.id) == InboundMessage.participant_id)
        .where(InboundMessage.kind == "other")
    )
    if state == "open":
        query = query.where(col(InboundMessage.handled_at).is_(None))
    elif state == "handled":
        query = query.where(col(InboundMessage.handled_at).is_not(None))
    if trial_id:
        query = query.where(Participant.trial_id == trial_id)
    total = _count(session, query)
    pages, page, offset = page_window(total, page)
    query = query.order_by(col(InboundMessage.received_at).desc(), col(InboundMessage.id).desc())
    found = session.exec(query.offset(offset).limit(PER_PAGE)).all()
    zones = _Zones(session)
    rows = [
        ReplyRow(
            reply.id or 0,
            ref,
            trial,
            reply.received_at.astimezone(zones.of(trial)),
            reply.body,
            masked(reply.from_number),
            reply.handled_at.astimezone(zones.of(trial)) if reply.handled_at else None,
            reply.handled_by,
        )
        for reply, ref, trial in found
    ]
    return Paged(rows, page, pages, total)


def mark_handled(session: Session, clock: Clock, reply_id: int, actor: str) -> InboundMessage:
    """Record who dealt with a reply, and when; marking it twice keeps the first record."""
    reply = session.get(InboundMessage, reply_id, with_for_update=True)
    if reply is None or reply.kind != "other":
        raise NotFound(f"no reply {reply_id} for staff")
    if reply.handled_at is None:
        reply.handled_at, reply.handled_by = clock.now(), actor
        audit.record(
            session, clock, actor=actor, action="reply.handled", subject=f"inbound:{reply_id}"
        )
    return reply


def opt_outs(session: Session, *, page: int = 1) -> Paged[OptOutRow]:
    """Current opt-outs, newest first, with the participants each number belongs to."""
    total = _count(session, select(OptOut.id))
    pages, page, offset = page_window(total, page)
    query = select(OptOut).order_by(col(OptOut.opted_out_at).desc(), col(OptOut.id).desc())
    found = session.exec(query.offset(offset).limit(PER_PAGE)).all()
    phones = [o.phone for o in found]
    people: dict[str, list[tuple[str, str]]] = {}
    for phone, trial, ref in session.exec(
        select(Participant.phone, Participant.trial_id, Participant.participant_ref)
        .where(col(Participant.phone).in_(phones))
        .order_by(col(Participant.trial_id), col(Participant.participant_ref))
    ).all():
        people.setdefault(phone or "", []).append((trial, ref))
    zones = _Zones(session)
    rows = []
    for opt_out in found:
        affects = people.get(opt_out.phone, [])
        zone = zones.of(affects[0][0] if affects else None)
        rows.append(
            OptOutRow(
                masked(opt_out.phone),
                affects,
                opt_out.opted_out_at.astimezone(zone),
                _via(session, opt_out),
            )
        )
    return Paged(rows, page, pages, total)


def _via(session: Session, opt_out: OptOut) -> str:
    """The keyword that opted the number out, or the carrier's report."""
    if opt_out.source != "reply":
        return "the carrier reported the number unsubscribed (Twilio 21610)"
    query = (
        select(InboundMessage.body)
        .where(
            InboundMessage.from_number == opt_out.phone,
            InboundMessage.kind == "stop",
            col(InboundMessage.received_at) <= opt_out.opted_out_at,
        )
        .order_by(col(InboundMessage.received_at).desc())
        .limit(1)
    )
    body = session.exec(query).first()
    words = (body or "").strip().upper().split()
    first = words[0].strip(".!,") if words else ""
    return f"replied {first}" if first in STOP_WORDS else "replied STOP"


class _Zones:
    """Each trial's timezone, read once per page."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._known: dict[str | None, ZoneInfo] = {None: UTC_ZONE}

    def of(self, trial_id: str | None) -> ZoneInfo:
        if trial_id not in self._known:
            self._known[trial_id] = self._read(trial_id)
        return self._known[trial_id]

    def _read(self, trial_id: str | None) -> ZoneInfo:
        trial = self._session.get(Trial, trial_id)
        if trial is None:
            return UTC_ZONE
        return ZoneInfo(trials.current_definition(self._session, trial).timezone)


def _count(session: Session, query: Any) -> int:
    return int(session.exec(select(func.count()).select_from(query.subquery())).one())
