"""Survey questions by text, end to end on the engine under test with the clock pinned: asked of
every arm alike (control included) and of no one who must not be texted; sent through dispatch
like any text; a reminder only while no answer has come, and nothing after the survey closes."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from messages.intake import enrol_and_plan, update_milestones_and_replan
from nudge.clock import FixedClock
from nudge.models import Arm, Assignment, Message, OptOut, Participant
from tests.conftest import EXAMPLE_TRIAL
from tests.factories import launch, person, write_people
from tests.messages.journeys import court_list, send_console, sent_bodies, utc
from tests.messages.survey_factories import QUESTION_DUE, answers, questions, reply, survey_trial
from tests.milestone_factories import MILESTONES, write_people_with_milestones

REMINDER_DUE = QUESTION_DUE + timedelta(hours=48)
OPTED_OUT_PHONE = "07700 900099"


@pytest.fixture
def asked(session: Session, clock: FixedClock, tmp_path: Path) -> list[str]:
    """Twelve people who may be texted (some in Welsh), and one each who did not agree to
    texts, is safeguarded, or opted out before: all randomised; the twelve's references."""
    launch(session, clock, survey_trial(tmp_path, open_to_all=True))
    session.add(OptOut(phone="+447700900099", source="reply", opted_out_at=clock.now()))
    session.commit()
    rows = [person(i, language="cy" if i % 3 == 0 else "en") for i in range(1, 13)]
    rows += [
        person(97, contact_sms="no"),
        person(98, safeguarding_flag="yes"),
        person(99, phone=OPTED_OUT_PHONE),
    ]
    enrol_and_plan(session, clock, EXAMPLE_TRIAL, write_people(tmp_path / "p.csv", rows), "t")
    session.commit()
    return [row["participant_ref"] for row in rows[:12]]


def _by_person(session: Session, template: str) -> dict[str, tuple[str, Message]]:
    """participant_ref -> (arm, the live row of `template`)."""
    session.expire_all()
    query = (
        select(Participant.participant_ref, Arm.key, Message)
        .join(Assignment, col(Assignment.participant_id) == Participant.id)
        .join(Arm, col(Arm.id) == Assignment.arm_id)
        .join(Message, col(Message.participant_id) == Participant.id)
        .where(Message.template == template)
        .order_by(col(Message.id))
    )
    return {ref: (arm, message) for ref, arm, message in session.exec(query).all()}


def test_every_arm_is_asked_alike_and_no_one_who_must_not_be_texted(
    session: Session, asked: list[str]
) -> None:
    planned = _by_person(session, "survey:confidence")
    reminders = _by_person(session, "survey:confidence:reminder")
    assert {arm for arm, _ in planned.values()} == {"control", "practical", "social_norm"}
    for ref in asked:
        _arm, question = planned[ref]
        assert (question.status, question.reason, question.due_at) == (
            "scheduled",
            None,
            QUESTION_DUE,
        )
        assert (reminders[ref][1].status, reminders[ref][1].due_at) == ("scheduled", REMINDER_DUE)
    skipped = {ref: (m.status, m.reason) for ref, (_, m) in planned.items() if ref not in asked}
    assert skipped == {
        "P00097": ("skipped", "no_consent"),
        "P00098": ("skipped", "safeguarding"),
        "P00099": ("skipped", "opted_out"),
    }
    assert {ref: (m.status, m.reason) for ref, (_, m) in reminders.items() if ref not in asked} == (
        skipped
    )


def test_the_question_goes_through_dispatch_in_each_persons_language(
    engine: Engine, session: Session, clock: FixedClock, asked: list[str], tmp_path: Path
) -> None:
    clock.set(QUESTION_DUE)
    result = send_console(engine, clock, tmp_path / "outbox")
    planned = _by_person(session, "survey:confidence")
    bodies = sent_bodies(tmp_path / "outbox")
    assert result.sent == 24  # two questions each for the twelve
    for ref in asked:
        [body] = bodies[planned[ref][1].id or 0]
        welsh = int(ref[1:]) % 3 == 0
        assert body.startswith("Pa mor hyderus" if welsh else "How confident")
    assert not any(planned[ref][1].id in bodies for ref in ("P00097", "P00098", "P00099"))


def test_the_reminder_goes_only_to_those_who_have_not_answered(
    engine: Engine, session: Session, clock: FixedClock, asked: list[str], tmp_path: Path
) -> None:
    clock.set(QUESTION_DUE)
    send_console(engine, clock, tmp_path / "outbox")
    clock.set(QUESTION_DUE + timedelta(hours=3))
    reply(session, clock, "+447700900001", "4")
    reminders = _by_person(session, "survey:confidence:reminder")
    answered = reminders["P00001"][1]
    session.refresh(answered)
    assert (answered.status, answered.reason) == ("cancelled", "survey_answered")

    clock.set(REMINDER_DUE)
    send_console(engine, clock, tmp_path / "outbox")
    bodies = sent_bodies(tmp_path / "outbox")
    reminded = {ref for ref, (_, m) in reminders.items() if m.id in bodies}
    assert reminded == set(asked) - {"P00001"}


def test_nothing_is_sent_after_the_survey_closes(
    engine: Engine, session: Session, clock: FixedClock, asked: list[str], tmp_path: Path
) -> None:
    clock.set(QUESTION_DUE)
    send_console(engine, clock, tmp_path / "outbox")
    clock.set(QUESTION_DUE + timedelta(days=7))  # no worker ran since: the reminders wait
    result = send_console(engine, clock, tmp_path / "outbox")
    assert result.sent == 0
    states = Counter((m.status, m.reason) for m in questions(session, "survey:confidence:reminder"))
    assert states == {
        ("cancelled", "expired"): 12,
        ("skipped", "no_consent"): 1,
        ("skipped", "safeguarding"): 1,
        ("skipped", "opted_out"): 1,
    }


def test_a_reminder_picked_up_after_an_answer_is_refused_at_the_last_check(
    engine: Engine, session: Session, clock: FixedClock, asked: list[str], tmp_path: Path
) -> None:
    clock.set(QUESTION_DUE)
    send_console(engine, clock, tmp_path / "outbox")
    reminder = _by_person(session, "survey:confidence:reminder")["P00002"][1]
    # A worker has claimed the reminder when the answer arrives: cancelling leaves it alone.
    reminder.status = "claimed"
    session.add(reminder)
    session.commit()
    clock.set(REMINDER_DUE - timedelta(minutes=1))
    reply(session, clock, "+447700900002", "two")
    reminder.status = "scheduled"
    session.add(reminder)
    session.commit()
    clock.set(REMINDER_DUE)
    result = send_console(engine, clock, tmp_path / "outbox")
    session.refresh(reminder)
    assert (reminder.status, reminder.reason) == ("cancelled", "survey_answered")
    assert reminder.id not in sent_bodies(tmp_path / "outbox")
    assert result.reasons.get("survey_answered") == 1  # type: ignore[call-overload]
    assert [a.number for a in answers(session, "P00002")] == [2.0]


def test_a_moved_hearing_asks_again_from_the_new_date_but_never_twice(
    engine: Engine, session: Session, clock: FixedClock, asked: list[str], tmp_path: Path
) -> None:
    clock.set(QUESTION_DUE - timedelta(days=3))
    court_list(session, clock, tmp_path / "l1.csv", ("C00001", "2027-03-11T10:00", "adjourned"))
    live = [m for m in questions(session) if m.participant_id == _id(session, "P00001")]
    assert Counter((m.status, m.due_at) for m in live) == {
        ("superseded", QUESTION_DUE): 1,
        ("scheduled", QUESTION_DUE + timedelta(days=7)): 1,
    }

    clock.set(QUESTION_DUE + timedelta(days=7))
    send_console(engine, clock, tmp_path / "outbox")
    clock.set(QUESTION_DUE + timedelta(days=8))  # moved again after the question went
    court_list(session, clock, tmp_path / "l2.csv", ("C00001", "2027-03-25T10:00", "adjourned"))
    live = [m for m in questions(session) if m.participant_id == _id(session, "P00001")]
    assert Counter(m.status for m in live) == {"superseded": 1, "sent": 1}
    [reminder] = [
        m
        for m in questions(session, "survey:confidence:reminder")
        if m.participant_id == _id(session, "P00001") and m.status == "scheduled"
    ]
    assert reminder.due_at == QUESTION_DUE + timedelta(days=9)  # 48 hours after it went


def _id(session: Session, ref: str) -> int:
    found = session.exec(select(Participant.id).where(Participant.participant_ref == ref)).one()
    assert found is not None
    return found


def test_a_survey_timed_from_a_milestone_waits_for_it_and_follows_its_corrections(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    path = survey_trial(tmp_path)
    text = path.read_text().replace(
        'send: {days_after: 2, of: hearing, at: "10:00"}\n    reminder',
        'send: {days_after: 5, of: charged, at: "10:00"}\n    reminder',
    )
    path.write_text(text + MILESTONES)
    launch(session, clock, path)
    rows = [person(1, charge_date="2027-01-08"), person(2, charge_date="")]
    enrol_and_plan(
        session, clock, EXAMPLE_TRIAL, write_people_with_milestones(tmp_path / "p.csv", rows), "t"
    )
    session.commit()
    due = {ref: m.due_at for ref, (_, m) in _by_person(session, "survey:confidence").items()}
    assert due == {"P00001": utc(1, 13, 10)}  # P00002 waits for the charge

    listing = tmp_path / "milestones.csv"
    listing.write_text(
        "case_ref,milestone,occurred_at\nC00001,charged,2027-01-09\nC00002,charged,2027-01-10\n"
    )
    update_milestones_and_replan(session, clock, EXAMPLE_TRIAL, listing, "test")
    session.commit()
    asked = _by_person(session, "survey:confidence")
    reminded = _by_person(session, "survey:confidence:reminder")
    assert {ref: (m.status, m.due_at) for ref, (_, m) in asked.items()} == {
        "P00001": ("scheduled", utc(1, 14, 10)),  # re-timed from the corrected date
        "P00002": ("scheduled", utc(1, 15, 10)),
    }
    assert {ref: (m.status, m.due_at) for ref, (_, m) in reminded.items()} == {
        "P00001": ("scheduled", utc(1, 16, 10)),
        "P00002": ("scheduled", utc(1, 17, 10)),
    }
