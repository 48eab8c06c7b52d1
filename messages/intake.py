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
from experiments.milestones import MilestonesSummary, update_milestones
from messages.anchors import anchors_for
from messages.changes import OutboxChanges, apply_hearing_changes, replan_for_milestones
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


@dataclass(frozen=True)
class MilestonesUpdate:
    """What a milestones file did to the cases (`summary`) and to the messages (`outbox`)."""

    summary: MilestonesSummary
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
    site: str | None = None,
) -> Enrolment:
    """Enrol the people in `path` (see `enrol_file`; `site`: a multi-site trial's site whose
    people they are) and bring their messages in line.

    People whose contact details changed have unsafe messages cancelled first, then moved
    hearings are re-planned (and their people told of the move, if their arm says so), cases
    enrolled before whose milestones changed are re-planned, and the newly randomised get
    their timed messages planned.
    """
    summary = enrol_file(
        session,
        clock,
        trial_id,
        path,
        actor,
        skip_invalid=skip_invalid,
        progress=progress,
        site=site,
    )
    cancelled = cancel_unsafe(session, clock, summary.changed_participants)
    moved = apply_hearing_changes(session, clock, trial_id, summary.moved_hearings)
    after = replan_after_milestones(session, clock, trial_id, summary.milestone_cases)
    planned = plan_for_participants(session, clock, trial_id, summary.new_assignments)
    return Enrolment(
        summary,
        OutboxChanges(
            planned + after.planned,
            moved.superseded_and_replanned + after.superseded_and_replanned,
            cancelled + moved.cancelled + after.cancelled,
            moved.event_messages + after.event_messages,
        ),
    )


def update_hearings_and_replan(
    session: Session, clock: Clock, trial_id: str, path: Path, actor: str, site: str | None = None
) -> HearingsUpdate:
    """Apply a court list (see `update_hearings`; a multi-site trial's is one `site`'s):
    re-plan moved hearings, stop what an ended hearing or case makes pointless, and plan the
    texts that tell of a move or a hearing off."""
    summary = update_hearings(session, clock, trial_id, path, actor, site)
    changes = apply_hearing_changes(session, clock, trial_id, summary.moved, summary.ended)
    return HearingsUpdate(summary, changes)


def update_milestones_and_replan(
    session: Session, clock: Clock, trial_id: str, path: Path, actor: str, site: str | None = None
) -> MilestonesUpdate:
    """Record a milestones file (see `update_milestones`; a multi-site trial's is one `site`'s
    or, with none, the whole trial's) and re-plan the cases it changed."""
    summary = update_milestones(session, clock, trial_id, path, actor, site)
    outbox = replan_after_milestones(session, clock, trial_id, summary.case_ids)
    return MilestonesUpdate(summary, outbox)


def replan_after_milestones(
    session: Session, clock: Clock, trial_id: str, case_ids: list[int]
) -> OutboxChanges:
    """Bring the messages of cases whose milestones were just recorded or corrected in line:
    plan what an arm times `of:` a milestone now known, re-time what a corrected date moved,
    send `on: milestone NAME` texts, and stop what an ending makes pointless.

    Called in the import's own transaction, after the dates are written. `case_ids` are cases
    enrolled before the import: people randomised by the same import are planned by
    `plan_for_participants`, from the dates as now recorded.
    """
    if not case_ids:
        return OutboxChanges()
    return replan_for_milestones(session, clock, trial_id, anchors_for(session, case_ids))
