"""Enrolments and court-list updates bring the outbox in line in the same transaction."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from messages.intake import OutboxChanges, enrol_and_plan, update_hearings_and_replan
from nudge.clock import FixedClock
from nudge.models import Assignment, Case, Message, Participant
from tests.conftest import EXAMPLE
from tests.factories import launch, person, row_counts, write_people

TRIAL = "witness-reminders-2027"


def test_an_enrolment_reports_the_messages_it_planned_and_a_rollback_undoes_both(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, EXAMPLE)
    before = row_counts(session)
    path = write_people(tmp_path / "people.csv", [person(n) for n in range(1, 13)])
    enrolment = enrol_and_plan(session, clock, TRIAL, path, "test")
    session.flush()
    messages = session.exec(select(func.count()).select_from(Message)).one()
    assignments = session.exec(select(func.count()).select_from(Assignment)).one()
    assert enrolment.summary.randomised == assignments == 12
    assert enrolment.outbox == OutboxChanges(planned=messages)
    assert messages > 0
    session.rollback()  # what a dry run does: neither the people nor their messages stay
    assert row_counts(session) == before


def test_a_hearing_moved_and_vacated_at_once_is_cancelled_not_replanned(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, EXAMPLE)
    people = write_people(tmp_path / "people.csv", [person(n) for n in range(1, 13)])
    enrol_and_plan(session, clock, TRIAL, people, "test")
    session.commit()
    case, pending = session.exec(
        select(Case.case_ref, func.count())
        .join(Participant, col(Participant.case_id) == Case.id)
        .join(Message, col(Message.participant_id) == Participant.id)
        .group_by(col(Case.case_ref))
        .order_by(col(Case.case_ref))
    ).first() or ("", 0)
    court_list = tmp_path / "court-list.csv"
    court_list.write_text(f"case_ref,hearing_start,status\n{case},2027-03-18T10:00,vacated\n")
    update = update_hearings_and_replan(session, clock, TRIAL, court_list, "test")
    session.commit()
    assert (len(update.summary.moved), len(update.summary.ended)) == (1, 1)
    # Its reminders are cancelled, not re-planned for the new date; the arm's "you no longer
    # need to come" text is planned.
    assert update.outbox == OutboxChanges(cancelled=pending, event_messages=1)
    statuses = session.exec(
        select(Message.status)
        .join(Participant, col(Participant.id) == Message.participant_id)
        .join(Case, col(Case.id) == Participant.case_id)
        .where(Case.case_ref == case)
    ).all()
    assert pending > 0 and Counter(statuses) == {"cancelled": pending, "scheduled": 1}
