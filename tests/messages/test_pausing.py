"""Pausing an arm or a trial: messages held, not cancelled; on resume those still in time go,
late ones follow the trial's late: rule; plans made meanwhile are held too (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from messages.dispatch import dispatch_due
from messages.intake import enrol_and_plan
from messages.pausing import pause, resume
from messages.providers.console import ConsoleProvider
from nudge.clock import FixedClock
from nudge.errors import TrialStateError
from nudge.models import Arm, Assignment, AuditEvent, Message, MessageEvent, Participant
from tests.conftest import Cli
from tests.factories import launch, person, write_people

TRIAL = "witness-reminders-2027"
FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)  # 18:00 a week before 4 March


def arm_messages(session: Session, arm: str) -> list[Message]:
    session.expire_all()
    query = (
        select(Message)
        .join(Assignment, col(Assignment.participant_id) == Message.participant_id)
        .join(Arm, col(Arm.id) == Assignment.arm_id)
        .where(Arm.key == arm)
        .order_by(col(Message.id))
    )
    return list(session.exec(query).all())


@pytest.fixture
def enrolled(session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path) -> Path:
    launch(session, clock, example_dir / "witness-reminders.yaml")
    path = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 13)])
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()
    return example_dir / "witness-reminders.yaml"


def test_a_paused_arm_is_held_and_not_sent_while_the_others_go(
    engine: Engine, session: Session, clock: FixedClock, enrolled: Path, tmp_path: Path
) -> None:
    waiting = [m.id for m in arm_messages(session, "social_norm") if m.status == "scheduled"]
    assert waiting
    paused = pause(session, clock, TRIAL, "social_norm", "opt-outs high; DMC to review", "dmc")
    session.commit()
    assert paused.held == len(waiting)
    held = arm_messages(session, "social_norm")
    assert {(m.status, m.reason) for m in held if m.id in waiting} == {("held", "arm_paused")}
    events = session.exec(
        select(MessageEvent).where(col(MessageEvent.message_id).in_(waiting))
    ).all()
    assert {(e.status, e.detail["reason"]) for e in events} == {("held", "arm_paused")}
    clock.set(FIRST_DUE + timedelta(minutes=1))
    sent = dispatch_due(engine, clock, ConsoleProvider(tmp_path / "outbox", clock), worker="w")
    practical = [m for m in arm_messages(session, "practical") if m.due_at == FIRST_DUE]
    assert sent.sent == len(practical) > 0
    assert all(m.status == "held" for m in arm_messages(session, "social_norm") if m.id in waiting)
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "trial.paused")).one()
    assert audit.subject == "social_norm" and audit.details["held"] == len(waiting)


def test_resumed_in_time_the_held_messages_go_when_due(
    engine: Engine, session: Session, clock: FixedClock, enrolled: Path, tmp_path: Path
) -> None:
    pause(session, clock, TRIAL, "social_norm", "checking a complaint", "dmc")
    session.commit()
    resumed = resume(session, clock, TRIAL, "social_norm", "dmc")
    session.commit()
    assert resumed.sent_late == resumed.cancelled == 0 and resumed.released > 0
    assert {m.status for m in arm_messages(session, "social_norm")} <= {"scheduled", "skipped"}
    clock.set(FIRST_DUE + timedelta(minutes=1))
    sent = dispatch_due(engine, clock, ConsoleProvider(tmp_path / "outbox", clock), worker="w")
    due = [m for m in arm_messages(session, "social_norm") if m.due_at == FIRST_DUE]
    assert due and all(m.status == "sent" for m in due) and sent.sent >= len(due)


def test_resumed_after_its_time_a_message_follows_late_skip(
    session: Session, clock: FixedClock, enrolled: Path
) -> None:
    pause(session, clock, TRIAL, "social_norm", "checking a complaint", "dmc")
    session.commit()
    clock.set(FIRST_DUE + timedelta(hours=1))  # the 7-day text came and went while paused
    resumed = resume(session, clock, TRIAL, "social_norm", "dmc")
    session.commit()
    texts = arm_messages(session, "social_norm")
    late = [m for m in texts if m.due_at == FIRST_DUE and m.channel == "sms"]
    assert late and {(m.status, m.reason) for m in late} == {("cancelled", "paused_past_due")}
    assert resumed.cancelled >= len(late)


def test_resumed_after_its_time_a_message_is_sent_at_the_next_window_with_next_window(
    engine: Engine, session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    definition = example_dir / "witness-reminders.yaml"
    text = definition.read_text(encoding="utf-8").replace("late: skip", "late: next_window")
    definition.write_text(text, encoding="utf-8")
    launch(session, clock, definition)
    enrol_and_plan(
        session,
        clock,
        TRIAL,
        write_people(tmp_path / "p.csv", [person(i) for i in range(1, 13)]),
        "t",
    )
    session.commit()
    pause(session, clock, TRIAL, None, "whole trial: provider incident", "ops")
    session.commit()
    clock.set(datetime(2027, 2, 25, 21, tzinfo=UTC))  # 21:00: quiet hours until 09:00
    resumed = resume(session, clock, TRIAL, None, "ops")
    session.commit()
    late = [
        m
        for arm in ("practical", "social_norm")
        for m in arm_messages(session, arm)
        if m.due_at > FIRST_DUE and m.reason == "sent_late_after_pause"
    ]
    assert late and resumed.sent_late == len(late)
    assert {m.due_at for m in late} == {datetime(2027, 2, 26, 9, tzinfo=UTC)}
    assert {m.status for m in late} == {"scheduled"}
    clock.set(datetime(2027, 2, 26, 9, 1, tzinfo=UTC))
    dispatch_due(engine, clock, ConsoleProvider(tmp_path / "outbox", clock), worker="w")
    assert {
        m.status
        for arm in ("practical", "social_norm")
        for m in arm_messages(session, arm)
        if m.reason == "sent_late_after_pause"
    } == {"sent"}


def test_people_enrolled_while_paused_have_their_messages_planned_held(
    session: Session, clock: FixedClock, enrolled: Path, tmp_path: Path
) -> None:
    pause(session, clock, TRIAL, None, "whole trial: provider incident", "ops")
    session.commit()
    path = write_people(tmp_path / "more.csv", [person(i) for i in range(20, 32)])
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()
    newcomers = session.exec(
        select(Message)
        .join(Participant, col(Participant.id) == Message.participant_id)
        .where(col(Participant.participant_ref) >= "P00020")
    ).all()
    assert newcomers
    assert {m.status for m in newcomers} <= {"held", "skipped"}
    assert "held" in {m.status for m in newcomers}
    assert (
        session.exec(
            select(func.count()).select_from(Message).where(Message.status == "scheduled")
        ).one()
        == 0
    )


def test_a_moved_hearing_while_paused_supersedes_the_held_and_holds_the_new(
    session: Session, clock: FixedClock, enrolled: Path, tmp_path: Path, db_url: str
) -> None:
    ref = "P00002"
    who = session.exec(select(Participant).where(Participant.participant_ref == ref)).one()
    arm = session.exec(
        select(Arm.key)
        .join(Assignment, col(Assignment.arm_id) == Arm.id)
        .where(Assignment.participant_id == who.id)
    ).one()
    if arm == "control":  # control sends nothing: take someone in a sending arm
        who = next(
            p for p in session.exec(select(Participant)).all() if arm_of(session, p.id) != "control"
        )
        arm = arm_of(session, who.id)
    pause(session, clock, TRIAL, arm, "checking", "dmc")
    session.commit()
    case = who.participant_ref.replace("P", "C")
    update = tmp_path / "hearings.csv"
    update.write_text(f"case_ref,hearing_start,status\n{case},2027-04-01T10:00,adjourned\n")
    assert Cli(db_url, tmp_path)("hearings", "update", TRIAL, str(update)).exit_code == 0
    session.expire_all()
    rows = session.exec(select(Message).where(Message.participant_id == who.id)).all()
    assert "superseded" in {m.status for m in rows}
    live = {m.status for m in rows if m.status not in ("superseded", "skipped")}
    assert live == {"held"}


def arm_of(session: Session, participant_id: int | None) -> str:
    return session.exec(
        select(Arm.key)
        .join(Assignment, col(Assignment.arm_id) == Arm.id)
        .where(Assignment.participant_id == participant_id)
    ).one()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("pause", TRIAL, "--arm", "nope", "--reason", "x"), "has no arm 'nope'"),
        (("pause", TRIAL, "--reason", "   "), "give the reason for the pause"),
        (("resume", TRIAL), "is not paused: nothing to resume"),
        (("resume", TRIAL, "--arm", "practical"), "is not paused: nothing to resume"),
    ],
)
def test_mistakes_are_refused_in_words_and_change_nothing(
    enrolled: Path, db_url: str, tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    cli = Cli(db_url, tmp_path)
    result = cli.unchanged("trial", *args)
    assert result.exit_code == 1 and words in result.output
    assert "Traceback" not in result.output


def test_pausing_twice_or_a_trial_that_is_not_live_is_refused(
    session: Session, clock: FixedClock, enrolled: Path, tmp_path: Path, db_url: str
) -> None:
    cli = Cli(db_url, tmp_path)
    first = cli("trial", "pause", TRIAL, "--arm", "practical", "--reason", "checking")
    assert first.exit_code == 0 and "paused arm 'practical'" in first.output
    again = cli.unchanged("trial", "pause", TRIAL, "--arm", "practical", "--reason", "again")
    assert again.exit_code == 1 and "is already paused" in again.output
    assert cli("trial", "close", TRIAL, "--reason", "done").exit_code == 0
    closed = cli.unchanged("trial", "pause", TRIAL, "--reason", "late")
    assert closed.exit_code == 1 and "only a live trial pauses" in closed.output
    with pytest.raises(TrialStateError):
        pause(session, clock, TRIAL, None, "x", "t")
