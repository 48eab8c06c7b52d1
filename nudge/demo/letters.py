"""The demo's print room: each posting day's due letters into one PDF, then marked posted.

Stands in for `nudge letters batch` (which does the same for staff, with a manifest) so the
demo needs nothing else: the letters are rendered with the real templates and layout, and
each is marked `sent` (posted) with an event naming the print file.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from experiments import trials
from messages.letters import Letter, render_batch
from messages.render import context
from messages.templates import choose_language, render
from nudge.clock import Clock
from nudge.models import Hearing, Message, MessageEvent, Participant

log = logging.getLogger(__name__)


def post_due_letters(engine: Engine, clock: Clock, trial_id: str, folder: Path) -> int:
    """Print and post every letter due now; cancel those whose hearing moved or ended."""
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        definition = trials.current_definition(session, trials.get_trial(session, trial_id))
        due = session.exec(
            select(Message).where(
                Message.trial_id == trial_id,
                Message.channel == "letter",
                Message.status == "scheduled",
                col(Message.next_attempt_at) <= now,
            )
        ).all()
        batch: list[tuple[Message, Letter]] = []
        for message in due:
            participant = session.get(Participant, message.participant_id)
            hearing = session.get(Hearing, message.hearing_id)
            assert participant is not None and hearing is not None
            reason = _withheld(message, hearing, now)
            if reason:
                _mark(session, message, now, "cancelled", {"reason": reason}, reason)
                continue
            texts = definition.templates[message.template]
            language = choose_language(texts, message.language)
            values = context(definition, participant, hearing, now, language)
            body = render(str(texts[language]), values, channel="letter")
            address = _address(participant)
            batch.append((message, Letter(body, address, reference=f"M{message.id}")))
        if batch:
            name = f"letters-{now:%Y-%m-%d}.pdf"
            pdf = render_batch([letter for _, letter in batch]).pdf
            (folder / name).write_bytes(pdf)
            for message, _ in batch:
                cost = definition.costs.letter
                _mark(session, message, now, "sent", {"source": "print run", "file": name}, None)
                message.cost, message.sent_at = cost, now
            log.info("posted %d letter(s), printed in %s", len(batch), name)
        session.commit()
    return len(batch)


def _withheld(message: Message, hearing: Hearing, now: datetime) -> str | None:
    if hearing.status in ("vacated", "concluded"):
        return "hearing_vacated"
    if hearing.version != message.hearing_version:
        return "hearing_moved"
    if now >= message.expires_at:
        return "expired"
    return None


def _address(participant: Participant) -> tuple[str, ...]:
    name = " ".join(p for p in (participant.first_name, participant.last_name) if p)
    lines = [name, *participant.address, participant.postcode or ""]
    return tuple(line for line in lines if line)


def _mark(
    session: Session,
    message: Message,
    now: datetime,
    status: str,
    detail: dict[str, str],
    reason: str | None,
) -> None:
    message.status, message.reason, message.updated_at = status, reason, now
    session.add(message)
    session.add(
        MessageEvent(message_id=message.id or 0, status=status, detail=detail, occurred_at=now)
    )
