"""Files that change who is in a trial or when they are due, and what that means for the outbox.

An enrolment or a court-list update is never complete without its messages: new people need
their reminders planned, moved hearings re-planned, and unsafe or ended ones cancelled. Each
function here does both halves in the caller's one transaction, so no caller (the command
line, the demo, a test) can commit the import and forget the outbox, and a dry run that rolls
back undoes both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from experiments.enrol import EnrolSummary, enrol_file
from experiments.hearings import HearingsSummary, update_hearings
from messages.changes import OutboxChanges, apply_hearing_changes
from messages.outbox import cancel_unsafe, plan_for_participants
from nudge.clock import Clock


@dataclass(frozen=True)
class Enrolment:
    """What an enrolment did to the people (`summary`) and to their messages (`outbox`)."""

    summary: EnrolSummary
    outbox: OutboxChanges


@dataclass(frozen=True)
class HearingsUpdate:
    """What a court-list update did to the hearings (`summary`) and to the messages (`outbox`)."""

    summary: HearingsSummary
    outbox: OutboxChanges


def enrol_and_plan(
    session: Session,
    clock: Clock,
    trial_id: str,
    path: Path,
    actor: str,
    *,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Enrolment:
    """Enrol the people in `path` (see `enrol_file`) and bring their messages in line.

    People whose contact details changed have unsafe messages cancelled first, then moved
    hearings are re-planned (and their people told of the move, if their arm says so) and the
    newly randomised get their timed messages planned.
    """
    summary = enrol_file(
        session, clock, trial_id, path, actor, skip_invalid=skip_invalid, progress=progress
    )
    cancelled = cancel_unsafe(session, clock, summary.changed_participants)
    moved = apply_hearing_changes(session, clock, trial_id, summary.moved_hearings)
    planned = plan_for_participants(session, clock, trial_id, summary.new_assignments)
    return Enrolment(
        summary,
        OutboxChanges(
            planned,
            moved.superseded_and_replanned,
            cancelled + moved.cancelled,
            moved.event_messages,
        ),
    )


def update_hearings_and_replan(
    session: Session, clock: Clock, trial_id: str, path: Path, actor: str
) -> HearingsUpdate:
    """Apply a court list (see `update_hearings`): re-plan moved hearings, stop what an ended
    hearing or case makes pointless, and plan the texts that tell of a move or a hearing off."""
    summary = update_hearings(session, clock, trial_id, path, actor)
    changes = apply_hearing_changes(session, clock, trial_id, summary.moved, summary.ended)
    return HearingsUpdate(summary, changes)
