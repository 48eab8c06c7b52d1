"""Replies kept for staff, and the numbers that opted out: what the researcher pages list.

Replies form a work queue per trial (and one for numbers that match no participant): each
shows the person's reference and next hearing; a reply holding one of the trial's triage words
is flagged and, until handled, comes first. Handling one takes a note of what was done, and can
be undone. The audit log records who handled or reopened which reply and when, never the note:
staff may write a name in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, func, true
from sqlmodel import Session, col, select

from experiments import trials
from messages.replies import STOP_WORDS
from messages.triage import triage_words_in
from nudge import audit
from nudge.clock import Clock
from nudge.errors import NotFound
from nudge.models import HEARING_ENDED, Hearing, InboundMessage, OptOut, Participant, Trial
from nudge.models.types import column_length
from nudge.paging import PER_PAGE, page_window

REPLY_STATES = ("open", "handled", "all")
MAX_NOTE = column_length(InboundMessage, "handled_note")
UTC_ZONE = ZoneInfo("UTC")
T = TypeVar("T")


@dataclass(frozen=True)
class NextHearing:
    starts_at: datetime  # in the trial's timezone
    court_name: str
    status: str
    ahead: bool  # False when no hearing is ahead: this is the latest one, already past or ended


@dataclass(frozen=True)
class ReplyRow:
    reply_id: int
    participant_ref: str | None
    received_at: datetime  # in the trial's timezone (UTC when the number is in no trial)
    body: str
    number: str  # masked
    flagged: tuple[str, ...]  # the triage words it holds
    hearing: NextHearing | None
    handled_at: datetime | None
    handled_by: str | None
    note: str | None  # kept when a reply is reopened, to start the next note from


@dataclass(frozen=True)
class ReplyQueue:
    rows: list[ReplyRow]
    page: int
    pages: int
    total: int  # in the view shown (open, handled or all)
    unhandled: int
    flagged: int  # unhandled and flagged


@dataclass(frozen=True)
class ReplyChange:
    """What handling or reopening did, with what a person needs to know which reply it was."""

    changed: bool  # False: it was already so (someone else got there first)
    participant_ref: str | None
    trial_id: str | None
    number: str  # masked
    received_at: datetime  # in the trial's timezone
    handled_by: str | None
    handled_at: datetime | None


def reply_queue(
    session: Session,
    *,
    trial_id: str | None,
    words: Sequence[str],
    now: datetime,
    state: str = "open",
    page: int = 1,
    unmatched_within: ColumnElement[bool] | None = None,
    within: ColumnElement[bool] | None = None,
) -> ReplyQueue:
    """A trial's replies for staff, or with no trial those from numbers in none that
    `unmatched_within` admits (nudge.scope.unmatched_replies_within; none when not given);
    of a trial's, those of the participants `within` admits (nudge.scope.people_within: in a
    multi-site trial, the viewer's own site's): flagged ones not yet handled first, then
    newest first.

    Triage reads every reply in the view, so a changed word list applies at once and the order
    holds across pages; a trial's replies for staff number in the hundreds, not millions.
    """
    query = select(
        InboundMessage.id,
        InboundMessage.body,
        InboundMessage.received_at,
        InboundMessage.handled_at,
    ).where(InboundMessage.kind == "other")
    if trial_id is None:
        query = query.where(col(InboundMessage.participant_id).is_(None))
        query = query.where(false() if unmatched_within is None else unmatched_within)
    else:
        query = query.join(Participant, col(Participant.id) == InboundMessage.participant_id)
        query = query.where(Participant.trial_id == trial_id)
        query = query.where(true() if within is None else within)
    if state == "open":
        query = query.where(col(InboundMessage.handled_at).is_(None))
    light = [
        _Listed(reply_id or 0, triage_words_in(body, words), received_at, handled is not None)
        for reply_id, body, received_at, handled in session.exec(query).all()
    ]
    unhandled = [row for row in light if not row.handled]
    shown = [row for row in light if state != "handled" or row.handled]
    shown.sort(key=lambda row: (row.received_at, row.reply_id), reverse=True)
    shown.sort(key=lambda row: not (row.flagged and not row.handled))
    pages, page, offset = page_window(len(shown), page)
    return ReplyQueue(
        _rows(session, shown[offset : offset + PER_PAGE], now),
        page,
        pages,
        len(shown),
        len(unhandled),
        sum(1 for row in unhandled if row.flagged),
    )


class _Listed(NamedTuple):
    """What ordering the queue needs of a reply, read for every reply in the view."""

    reply_id: int
    flagged: tuple[str, ...]
    received_at: datetime
    handled: bool


def _rows(session: Session, listed: list[_Listed], now: datetime) -> list[ReplyRow]:
    ids = [row.reply_id for row in listed]
    found = session.exec(
        select(InboundMessage, Participant)
        .outerjoin(Participant, col(Participant.id) == InboundMessage.participant_id)
        .where(col(InboundMessage.id).in_(ids))
    ).all()
    by_id = {reply.id: (reply, person) for reply, person in found}
    hearings = _next_hearings(session, [p.case_id for _, p in found if p is not None], now)
    zones = _Zones(session)
    rows = []
    for listing in listed:
        reply, person = by_id[listing.reply_id]
        zone = zones.of(person.trial_id if person else None)
        hearing = hearings.get(person.case_id) if person else None
        rows.append(
            ReplyRow(
                listing.reply_id,
                person.participant_ref if person else None,
                reply.received_at.astimezone(zone),
                reply.body,
                masked(reply.from_number),
                listing.flagged,
                _local(hearing, zone) if hearing else None,
                reply.handled_at.astimezone(zone) if reply.handled_at else None,
                _staff(reply.handled_by),
                reply.handled_note,
            )
        )
    return rows


def _next_hearings(session: Session, case_ids: list[int], now: datetime) -> dict[int, NextHearing]:
    """Each case's next hearing still on (earliest first), else its latest one."""
    found = session.exec(
        select(Hearing)
        .where(col(Hearing.case_id).in_(set(case_ids)))
        .order_by(col(Hearing.starts_at))
    ).all()
    chosen: dict[int, NextHearing] = {}
    for hearing in found:
        earlier = chosen.get(hearing.case_id)
        if earlier is None or not earlier.ahead:
            ahead = hearing.starts_at >= now and hearing.status not in HEARING_ENDED
            chosen[hearing.case_id] = NextHearing(
                hearing.starts_at, hearing.court_name, hearing.status, ahead
            )
    return chosen


def _local(hearing: NextHearing, zone: ZoneInfo) -> NextHearing:
    return NextHearing(
        hearing.starts_at.astimezone(zone), hearing.court_name, hearing.status, hearing.ahead
    )


def _staff(actor: str | None) -> str | None:
    """`web:rita@example.org` as the person reads it."""
    return actor.split(":", 1)[-1] if actor else None


def unhandled_count(
    session: Session, trial_id: str, within: ColumnElement[bool] | None = None
) -> int:
    """How many of a trial's replies for staff (of the participants `within` admits) no one
    has handled yet."""
    query = (
        select(InboundMessage.id)
        .join(Participant, col(Participant.id) == InboundMessage.participant_id)
        .where(
            Participant.trial_id == trial_id,
            InboundMessage.kind == "other",
            col(InboundMessage.handled_at).is_(None),
            true() if within is None else within,
        )
    )
    return _count(session, query)


def unhandled_by_trial(
    session: Session,
    words: Mapping[str, Sequence[str]],
    within: ColumnElement[bool] | None = None,
) -> dict[str, tuple[int, int]]:
    """Each trial's replies not yet handled, and how many of them are flagged (by that trial's
    words), for the trials that have any; of the participants `within` admits
    (nudge.site_walls.people_seen) when given."""
    found = session.exec(
        select(Participant.trial_id, InboundMessage.body)
        .join(Participant, col(Participant.id) == InboundMessage.participant_id)
        .where(InboundMessage.kind == "other", col(InboundMessage.handled_at).is_(None))
        .where(true() if within is None else within)
    ).all()
    counts: dict[str, tuple[int, int]] = {}
    for trial_id, body in found:
        waiting, flagged = counts.get(trial_id, (0, 0))
        hit = bool(triage_words_in(body, words.get(trial_id, ())))
        counts[trial_id] = (waiting + 1, flagged + hit)
    return counts


def mark_handled(
    session: Session, clock: Clock, reply_id: int, actor: str, note: str
) -> ReplyChange:
    """Record who dealt with a reply, when and what they did; marking it twice keeps the first."""
    reply, trial_id = _locked(session, reply_id)
    changed = reply.handled_at is None
    if changed:
        reply.handled_at, reply.handled_by, reply.handled_note = clock.now(), actor, note
        audit.record(
            session,
            clock,
            actor=actor,
            action="reply.handled",
            trial_id=trial_id,
            subject=f"inbound:{reply_id}",
            details={"note_characters": len(note)},
        )
    return _change(session, reply, trial_id, changed)


def reopen(session: Session, clock: Clock, reply_id: int, actor: str) -> ReplyChange:
    """Put a handled reply back in the queue (a click on the wrong reply is undone this way);
    its note stays, for the next person to start from."""
    reply, trial_id = _locked(session, reply_id)
    changed = reply.handled_at is not None
    if changed:
        reply.handled_at, reply.handled_by = None, None
        audit.record(
            session,
            clock,
            actor=actor,
            action="reply.reopened",
            trial_id=trial_id,
            subject=f"inbound:{reply_id}",
        )
    return _change(session, reply, trial_id, changed)


def _locked(session: Session, reply_id: int) -> tuple[InboundMessage, str | None]:
    reply = session.get(InboundMessage, reply_id, with_for_update=True)
    if reply is None or reply.kind != "other":
        raise NotFound(f"no reply {reply_id} for staff")
    person = session.get(Participant, reply.participant_id) if reply.participant_id else None
    return reply, person.trial_id if person else None


def _change(
    session: Session, reply: InboundMessage, trial_id: str | None, changed: bool
) -> ReplyChange:
    zone = _Zones(session).of(trial_id)
    person = session.get(Participant, reply.participant_id) if reply.participant_id else None
    return ReplyChange(
        changed,
        person.participant_ref if person else None,
        trial_id,
        masked(reply.from_number),
        reply.received_at.astimezone(zone),
        _staff(reply.handled_by),
        reply.handled_at.astimezone(zone) if reply.handled_at else None,
    )


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


def opt_outs(
    session: Session,
    *,
    page: int = 1,
    trial_ids: Any = None,
    within: ColumnElement[bool] | None = None,
) -> Paged[OptOutRow]:
    """Current opt-outs, newest first, with the participants each number belongs to; with
    `trial_ids` (a subquery, nudge.scope), only numbers of those trials' participants, and only
    those participants; with `within` (a condition on the participant, such as
    nudge.site_walls.people_seen: a multi-site trial's people of the viewer's own sites), only
    those participants' numbers and those participants. Every opt-out still stops every
    trial's texts (messages/checks.py)."""
    scoped = trial_ids is not None or within is not None
    people_shown = and_(
        col(Participant.trial_id).in_(trial_ids) if trial_ids is not None else true(),
        true() if within is None else within,
    )
    mine = select(Participant.phone).where(people_shown)
    shown = select(OptOut).where(col(OptOut.phone).in_(mine)) if scoped else select(OptOut)
    total = _count(session, shown)
    pages, page, offset = page_window(total, page)
    query = shown.order_by(col(OptOut.opted_out_at).desc(), col(OptOut.id).desc())
    found = session.exec(query.offset(offset).limit(PER_PAGE)).all()
    phones = [o.phone for o in found]
    people: dict[str, list[tuple[str, str]]] = {}
    for phone, trial, ref in session.exec(
        select(Participant.phone, Participant.trial_id, Participant.participant_ref)
        .where(col(Participant.phone).in_(phones))
        .where(people_shown)
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
