"""Deleting a closed trial's personal data, keeping the pseudonymised data the analysis needs.

Deleted: participants' names, phone numbers, addresses and postcodes; the numbers and text
of their replies, survey answers' text among them; provider error texts (Twilio's can quote
the number). Kept: references, arms, strata, covariates and other trial-named columns,
hearings, outcomes, survey answers' values and statuses, message statuses and reasons, the
audit log. The opt-out list is kept too: it is what stops anyone texting a number that said
STOP, in any trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func, select, update
from sqlmodel import Session

from experiments import trials
from nudge import audit
from nudge.clock import Clock
from nudge.errors import TrialStateError
from nudge.models import TrialStatus
from nudge.models.tables import EVENTS, MESSAGES, PEOPLE, REPLIES, SURVEY_ANSWERS

PURGED = "[purged]"


@dataclass(frozen=True)
class PurgeSummary:
    participants: int
    replies: int
    provider_errors: int
    already_purged: int

    @property
    def changed(self) -> bool:
        return bool(self.participants or self.replies or self.provider_errors)


def purge_trial(session: Session, clock: Clock, trial_id: str, actor: str) -> PurgeSummary:
    """Delete the personal data of a closed trial; run again, it finds nothing left to do.

    The caller owns the transaction (it rolls back for a dry run).
    """
    trial = trials.lock_trial(session, trial_id)
    if trial.status != TrialStatus.CLOSED:
        raise TrialStateError(
            f"trial '{trial_id}' is {trial.status}: personal data is purged only after the "
            f"trial closes (nudge trial close {trial_id} --reason ...)"
        )
    now = clock.now()
    ids = select(PEOPLE.c.id).where(PEOPLE.c.trial_id == trial_id).scalar_subquery()
    messages = select(MESSAGES.c.id).where(MESSAGES.c.trial_id == trial_id).scalar_subquery()
    already = _count(session, PEOPLE.c.trial_id == trial_id, PEOPLE.c.purged_at.is_not(None))
    people = session.execute(
        update(PEOPLE)
        .where(PEOPLE.c.trial_id == trial_id, PEOPLE.c.purged_at.is_(None))
        .values(first_name=None, last_name=None, phone=None, address=[], postcode=None)
        .values(purged_at=now)
    ).rowcount  # type: ignore[attr-defined]
    replies = session.execute(
        update(REPLIES)
        .where(REPLIES.c.participant_id.in_(ids), REPLIES.c.body != PURGED)
        .values(from_number="", body=PURGED)
    ).rowcount  # type: ignore[attr-defined]
    # A survey answer's text is its reply's (counted above); its value stays for the analysis.
    session.execute(
        update(SURVEY_ANSWERS)
        .where(SURVEY_ANSWERS.c.trial_id == trial_id, SURVEY_ANSWERS.c.text.is_not(None))
        .values(text=None)
    )
    errors = session.execute(
        update(MESSAGES)
        .where(MESSAGES.c.trial_id == trial_id, MESSAGES.c.last_error.is_not(None))
        .values(last_error=None)
    ).rowcount  # type: ignore[attr-defined]
    errors += _purge_event_errors(session, messages)
    summary = PurgeSummary(people, replies, errors, already)
    if summary.changed:
        audit.record(
            session,
            clock,
            actor=actor,
            action="trial.purged",
            trial_id=trial_id,
            details={"participants": people, "replies": replies, "provider_errors": errors},
        )
    return summary


def _purge_event_errors(session: Session, messages: ScalarSelect[Any]) -> int:
    """Keep each event's status and error code; drop the provider's free-text error."""
    events = session.execute(
        select(EVENTS.c.id, EVENTS.c.detail).where(EVENTS.c.message_id.in_(messages))
    ).all()
    changed = 0
    for event_id, detail in events:
        if detail and "error" in detail:
            kept = {k: v for k, v in detail.items() if k != "error"}
            session.execute(update(EVENTS).where(EVENTS.c.id == event_id).values(detail=kept))
            changed += 1
    return changed


def _count(session: Session, *where: ColumnElement[bool]) -> int:
    return int(session.execute(select(func.count()).select_from(PEOPLE).where(*where)).scalar_one())
