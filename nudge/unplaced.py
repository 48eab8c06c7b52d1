"""Replies no organisation can be told, and the platform operator placing them.

A text from a number that matches no participant belongs to the organisations whose trials
send from the number it was sent to (nudge.scope.unmatched_replies_within). One sent to a
number no trial sends from is no organisation's, so no member of staff sees it; yet it may be a
distressed witness. The operator lists these (the sender's number masked, the text's length,
not the text), reads one when they must to route it (a look that goes on the audit log), and
places it with an organisation, whose researchers then see it in their *Replies from numbers
in no trial* queue. Nothing here is logged: phone numbers and reply texts stay in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, false
from sqlmodel import Session, col, select

from nudge import audit
from nudge.clock import Clock
from nudge.errors import NudgeError
from nudge.models import InboundMessage, Organisation
from nudge.organisations import organisation_by_slug
from nudge.scope import sender_organisations

SHOWN_DIGITS = 3


class PlacementError(NudgeError):
    """A reply that is not there, or not unplaced, for reading or placing."""


@dataclass(frozen=True)
class Unplaced:
    """One unplaced reply as the list shows it: nothing that says who sent it, or what."""

    id: int
    received_at: datetime
    to_number: str
    from_masked: str
    length: int

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "received_at": self.received_at.astimezone(UTC).isoformat(),
            "to_number": self.to_number,
            "from_masked": self.from_masked,
            "length": self.length,
        }


def masked(number: str) -> str:
    """The number with all but its last 3 digits hidden (+447700900777 -> ***********777)."""
    shown = number[-SHOWN_DIGITS:] if len(number) > SHOWN_DIGITS else ""
    return "*" * (len(number) - len(shown)) + shown


def unplaced_within(session: Session) -> ColumnElement[bool]:
    """Which replies no organisation's staff can see: from a number that matches no participant,
    not placed, and sent to a number no trial sends from, while there is not just one
    organisation (with one, every such reply is its: unmatched_replies_within)."""
    organisations = session.exec(select(Organisation.id)).all()
    if len(organisations) == 1:
        return false()
    senders = list(sender_organisations(session))
    unmatched = and_(
        col(InboundMessage.participant_id).is_(None),
        col(InboundMessage.organisation_id).is_(None),
    )
    if not senders:
        return unmatched
    return and_(unmatched, col(InboundMessage.to_number).not_in(senders))


def unplaced_replies(session: Session) -> list[Unplaced]:
    """Every unplaced reply, oldest first."""
    query = (
        select(InboundMessage)
        .where(unplaced_within(session))
        .order_by(col(InboundMessage.received_at), col(InboundMessage.id))
    )
    return [
        Unplaced(
            id=reply.id or 0,
            received_at=reply.received_at,
            to_number=reply.to_number,
            from_masked=masked(reply.from_number),
            length=len(reply.body),
        )
        for reply in session.exec(query).all()
    ]


def read_unplaced(session: Session, clock: Clock, reply_id: int, actor: str) -> InboundMessage:
    """One unplaced reply, text and all, for the operator to route; the look is audited (which
    reply and who, never its text or number)."""
    reply = _unplaced(session, reply_id)
    details = {"reply_id": reply_id}
    audit.record(session, clock, actor=actor, action="reply.read_unplaced", details=details)
    return reply


def place(
    session: Session, clock: Clock, reply_id: int, slug: str, actor: str
) -> tuple[InboundMessage, Organisation]:
    """Give an unplaced reply to an organisation: its researchers see it from now on (and no
    other organisation's staff do). Audited, with the organisation as the subject."""
    reply = _unplaced(session, reply_id)
    organisation = organisation_by_slug(session, slug)
    reply.organisation_id = organisation.id
    details = {"reply_id": reply_id}
    audit.record(
        session,
        clock,
        actor=actor,
        action="reply.placed",
        subject=organisation.slug,
        details=details,
    )
    session.flush()
    return reply, organisation


def _unplaced(session: Session, reply_id: int) -> InboundMessage:
    reply = session.get(InboundMessage, reply_id)
    if reply is None:
        raise PlacementError(f"no reply {reply_id}: `nudge replies unplaced` lists them")
    unplaced = session.exec(
        select(InboundMessage.id).where(InboundMessage.id == reply_id, unplaced_within(session))
    ).first()
    if unplaced is None:
        raise PlacementError(f"reply {reply_id} is not unplaced: {_why_placed(session, reply)}")
    return reply


def _why_placed(session: Session, reply: InboundMessage) -> str:
    if reply.participant_id is not None:
        return "it came from a participant, and is in their trial's queue"
    if reply.organisation_id is not None:
        given = session.get(Organisation, reply.organisation_id)
        return f"it was placed with {given.slug if given else reply.organisation_id} already"
    return (
        "an organisation's researchers see it already (a trial sends from the number it was "
        "sent to, or there is only one organisation)"
    )
