"""What a reply means, and what Nudge does about it: pure classification plus the service."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlmodel import Session, col, select

from experiments import trials
from messages.outbox import cancel_for_phone
from messages.survey_replies import record_answer, route_reply
from nudge import audit
from nudge.clock import Clock
from nudge.models import InboundMessage, Message, OptOut, Participant, Trial

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP"})
GENERIC_HELP = "Court date reminders. Reply STOP to opt out."


def classify(body: str) -> str:
    """stop, start, help, confirm, or other: by the first word, in any case. (A reply to a
    survey question is stored as `survey`: messages/survey_replies.py.)

    CONFIRM, not YES: carriers treat YES as opting back in to a sender.
    """
    words = body.strip().upper().split()
    first = words[0].strip(".!,") if words else ""
    if first in STOP_WORDS:
        return "stop"
    if first in START_WORDS:
        return "start"
    if first == "HELP":
        return "help"
    if first == "CONFIRM":
        return "confirm"
    return "other"


@dataclass(frozen=True)
class ReplyOutcome:
    kind: str
    reply: str | None
    cancelled: int = 0
    duplicate: bool = False


def handle_reply(
    session: Session, clock: Clock, *, provider_id: str, from_number: str, to_number: str, body: str
) -> ReplyOutcome:
    """Record a reply once and act on it at once; an opt-out is never a withdrawal from a case."""
    kind = classify(body)
    if (
        session.exec(
            select(InboundMessage).where(InboundMessage.provider_id == provider_id)
        ).first()
        is not None
    ):
        return ReplyOutcome(kind, None, duplicate=True)
    now = clock.now()
    route = route_reply(session, from_number, body, now) if kind == "other" else None
    if route is not None:
        participant_id: int | None = route.participant_id
        # An answer is for the survey, not staff; one that tells of distress is for both.
        kind = "other" if route.flagged else "survey"
    else:
        participant_id = _latest_participant(session, from_number)
    inbound = InboundMessage(
        provider_id=provider_id,
        from_number=from_number,
        to_number=to_number,
        body=body[:1600],
        kind=kind,
        participant_id=participant_id,
        received_at=now,
        handled_at=now if kind != "other" else None,
    )
    session.add(inbound)
    if route is not None:
        session.flush()
        clarify = record_answer(session, clock, route, inbound)
        return ReplyOutcome("survey", clarify)
    cancelled = 0
    if kind == "stop":
        cancelled = opt_out(session, clock, from_number, "reply")
    elif kind == "start":
        session.execute(delete(OptOut).where(col(OptOut.phone) == from_number))
        audit.record(
            session,
            clock,
            actor="sms",
            action="sms.opted_in",
            details={"participant_id": participant_id},
        )
    reply = _help_text(session, participant_id) if kind == "help" else None
    return ReplyOutcome(kind, reply, cancelled)


def opt_out(session: Session, clock: Clock, phone: str, source: str) -> int:
    """Record an opt-out (once) and cancel every pending text to that number."""
    if session.exec(select(OptOut).where(OptOut.phone == phone)).first() is None:
        session.add(OptOut(phone=phone, source=source, opted_out_at=clock.now()))
        session.flush()
    cancelled = cancel_for_phone(session, clock, phone)
    audit.record(
        session,
        clock,
        actor="sms",
        action="sms.opted_out",
        details={"source": source, "cancelled": cancelled},
    )
    return cancelled


def _latest_participant(session: Session, phone: str) -> int | None:
    """The participant this number was last texted as, for staff and for HELP's wording."""
    query = (
        select(Message.participant_id)
        .join(Participant, col(Participant.id) == Message.participant_id)
        .where(Participant.phone == phone, col(Message.sent_at).is_not(None))
        .order_by(col(Message.sent_at).desc())
        .limit(1)
    )
    found = session.exec(query).first()
    if found is not None:
        return found
    return session.exec(
        select(Participant.id)
        .where(Participant.phone == phone)
        .order_by(col(Participant.id).desc())
        .limit(1)
    ).first()


def _help_text(session: Session, participant_id: int | None) -> str:
    if participant_id is None:
        return GENERIC_HELP
    participant = session.get(Participant, participant_id)
    trial = session.get(Trial, participant.trial_id) if participant else None
    if trial is None:
        return GENERIC_HELP
    return trials.current_definition(session, trial).sending.help_text
