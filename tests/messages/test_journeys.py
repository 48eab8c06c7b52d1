"""A person's journey through court-list changes, planned and sent on the engine under test with
the clock pinned: moves told once and for the latest date, stale texts refused at the last check,
a vacated hearing, a case that ends mid-journey, and event texts checked again at sending."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from messages.dispatch import claim_due
from messages.providers.console import ConsoleProvider
from messages.recovery import recover
from messages.render import Prepared, RenderCache
from nudge.clock import FixedClock
from nudge.models import Message, OptOut
from tests.factories import launch, person, write_people
from tests.messages.journeys import court_list, journey_example, send_console, sent_bodies, utc
from tests.messages.sending import FIRST_DUE, addressee
from tests.messages.test_outbox import enrol, messages_of, treated

EIGHTH_OF_APRIL = "2027-04-08T10:00"  # a Thursday, in summer time: 09:00 UTC


def enrol_journey(
    session: Session, clock: FixedClock, tmp_path: Path, hearing_start: str = "2027-03-04T10:00"
) -> str:
    """Launch the journey trial, enrol twelve people (a case each); the first in the practical
    arm, whose arm has every journey text."""
    launch(session, clock, journey_example(tmp_path))
    rows = [person(i, hearing_start=hearing_start) for i in range(1, 13)]
    enrol(session, clock, write_people(tmp_path / "people.csv", rows))
    return treated(session, "practical")


def case_of(ref: str) -> str:
    return ref.replace("P", "C")


def of_kind(session: Session, ref: str, template: str) -> list[Message]:
    return [m for m in messages_of(session, ref) if m.template == template]


def bodies_for(outbox: Path, messages: list[Message]) -> list[str]:
    sent = sent_bodies(outbox)
    return [body for m in messages for body in sent.get(m.id or 0, [])]


def test_a_move_in_quiet_hours_is_told_when_they_end_across_the_clock_change(
    engine: Engine, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    ref = enrol_journey(session, clock, tmp_path, EIGHTH_OF_APRIL)
    clock.set(utc(3, 27, 22))  # Saturday 22:00 GMT; the clocks go forward at 01:00 UTC
    update = court_list(
        session, clock, tmp_path / "c.csv", (case_of(ref), "2027-04-22T10:00", "adjourned")
    )
    [moved] = of_kind(session, ref, "moved")
    assert update.outbox.event_messages == 1
    assert (moved.status, moved.reason) == ("scheduled", "quiet_hours_deferred")
    assert moved.due_at == utc(3, 28, 8)  # 09:00 BST on Sunday, when quiet hours end
    outbox = tmp_path / "out"
    assert send_console(engine, clock, outbox).sent == 0
    clock.set(utc(3, 28, 8))
    send_console(engine, clock, outbox)
    send_console(engine, clock, outbox)
    assert bodies_for(outbox, [moved]) == [
        "Hi Testy, your date at Bristol Crown Court has changed from Thursday 8 April at 10am "
        "to Thursday 22 April at 10am. Call 0117 496 0000. Reply STOP to opt out."
    ]


def test_two_moves_before_the_first_is_told_send_one_text_for_the_latest_date(
    engine: Engine, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    ref = enrol_journey(session, clock, tmp_path, EIGHTH_OF_APRIL)
    for minute, start in ((0, "2027-04-15T10:00"), (30, "2027-04-22T14:30")):
        clock.set(utc(3, 27, 21, minute))  # quiet hours: the first text waits for the morning
        court_list(session, clock, tmp_path / f"c{minute}.csv", (case_of(ref), start, "adjourned"))
    first, latest = of_kind(session, ref, "moved")
    assert (first.status, first.reason) == ("superseded", "hearing_moved")
    assert (latest.status, latest.hearing_version) == ("scheduled", 3)
    clock.set(utc(3, 28, 8))
    outbox = tmp_path / "out"
    send_console(engine, clock, outbox)
    assert bodies_for(outbox, [first, latest]) == [
        "Hi Testy, your date at Bristol Crown Court has changed from Thursday 8 April at 10am "
        "to Thursday 22 April at 2:30pm. Call 0117 496 0000. Reply STOP to opt out."
    ]


def test_a_move_after_a_reminder_was_rendered_refuses_it_and_tells_of_the_move(
    engine: Engine, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    ref = enrol_journey(session, clock, tmp_path)
    clock.set(FIRST_DUE)  # 18:00 a week before Thursday 4 March: the reminders are due
    claimed = claim_due(session, clock.now(), "w", 100)  # a worker took them, then stalled
    session.commit()
    [reminder] = of_kind(session, ref, "practical_7d")
    assert reminder.id in claimed
    rendered = RenderCache(None).prepare(session, reminder, clock.now())
    assert isinstance(rendered, Prepared) and "Thursday 4 March" in rendered.sms.body
    clock.set(utc(2, 25, 18, 1))
    court_list(session, clock, tmp_path / "c.csv", (case_of(ref), "2027-03-18T10:00", "adjourned"))
    session.expire_all()
    stale, replanned = of_kind(session, ref, "practical_7d")
    assert stale.status == "claimed"  # the import cannot take it back from the worker
    assert (replanned.status, replanned.hearing_version) == ("scheduled", 2)
    clock.set(utc(2, 25, 18, 5))  # the worker's lease is over: its texts go back and are checked
    outbox = tmp_path / "out"
    recover(engine, clock, ConsoleProvider(outbox, clock))
    result = send_console(engine, clock, outbox)
    session.expire_all()
    assert result.reasons == {"dates_changed": 1}
    assert (stale.status, stale.reason) == ("cancelled", "dates_changed")
    assert bodies_for(outbox, [stale]) == []
    [moved] = bodies_for(outbox, of_kind(session, ref, "moved"))
    assert "from Thursday 4 March at 10am to Thursday 18 March at 10am" in moved
    assert result.sent == len(claimed)  # everyone else's reminder, and the move in its place


def test_a_vacated_hearing_cancels_the_reminders_and_says_so_once(
    engine: Engine, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    ref = enrol_journey(session, clock, tmp_path)
    social = treated(session, "social_norm")
    clock.set(utc(2, 1, 12))
    vacate = ((case_of(ref), "", "vacated"), (case_of(social), "", "vacated"))
    update = court_list(session, clock, tmp_path / "c.csv", *vacate)
    assert update.outbox.event_messages == 1  # the social-norm arm sends no such text
    reminders = [m for m in messages_of(session, ref) if m.template != "vacated"]
    assert {(m.template, m.status, m.reason) for m in reminders} == {
        ("practical_7d", "cancelled", "hearing_vacated"),
        ("practical_1d", "cancelled", "hearing_vacated"),
        ("thanks", "cancelled", "hearing_vacated"),
    }
    assert {(m.status, m.reason) for m in messages_of(session, social)} == {
        ("cancelled", "hearing_vacated")
    }
    outbox = tmp_path / "out"
    send_console(engine, clock, outbox)
    again = court_list(session, clock, tmp_path / "again.csv", *vacate)
    send_console(engine, clock, outbox)
    assert again.outbox.event_messages == 0
    assert bodies_for(outbox, messages_of(session, ref)) == [
        "Hi Testy, you no longer need to come to Bristol Crown Court on Thursday 4 March at "
        "10am. We will tell you of any new date. Call 0117 496 0000. Reply STOP to opt out."
    ]


def test_a_case_withdrawn_mid_journey_stops_the_rest_and_says_they_need_not_come(
    engine: Engine, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    ref = enrol_journey(session, clock, tmp_path)
    outbox = tmp_path / "out"
    clock.set(FIRST_DUE)
    send_console(engine, clock, outbox)  # the week-before reminder goes
    clock.set(utc(2, 26, 12))
    court_list(session, clock, tmp_path / "c.csv", (case_of(ref), "", "withdrawn"))
    send_console(engine, clock, outbox)
    clock.set(utc(3, 4, 12))
    send_console(engine, clock, outbox)  # the thank-you's time: nothing more
    assert [(m.template, m.status, m.reason) for m in messages_of(session, ref)] == [
        ("practical_7d", "sent", None),
        ("practical_1d", "cancelled", "case_ended"),
        ("thanks", "cancelled", "case_ended"),
        ("vacated", "sent", None),
    ]
    assert len(bodies_for(outbox, messages_of(session, ref))) == 2


def test_a_case_concluded_after_its_hearing_still_sends_the_thank_you(
    engine: Engine, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    ref = enrol_journey(session, clock, tmp_path)
    outbox = tmp_path / "out"
    for now in (FIRST_DUE, utc(3, 3, 18)):  # both reminders go
        clock.set(now)
        send_console(engine, clock, outbox)
    clock.set(utc(3, 4, 11, 30))  # the hearing began at 10:00; the court list says concluded
    court_list(session, clock, tmp_path / "c.csv", (case_of(ref), "", "concluded"))
    clock.set(utc(3, 4, 12))
    send_console(engine, clock, outbox)
    [thanks] = of_kind(session, ref, "thanks")
    session.refresh(thanks)
    assert thanks.status == "sent"
    assert bodies_for(outbox, [thanks]) == [
        "Thank you for coming to Bristol Crown Court today, Testy. If you would like support, "
        "call 0117 496 0000. Reply STOP to opt out."
    ]


@pytest.mark.parametrize(
    ("change", "reason"), [("safeguarding", "safeguarding"), ("opt_out", "opted_out")]
)
def test_an_event_text_is_checked_again_when_it_is_due(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    change: str,
    reason: str,
) -> None:
    ref = enrol_journey(session, clock, tmp_path)
    clock.set(utc(2, 20, 22))  # quiet hours: the text waits until 09:00
    court_list(session, clock, tmp_path / "c.csv", (case_of(ref), "2027-03-18T10:00", "adjourned"))
    [moved] = of_kind(session, ref, "moved")
    _message, participant = addressee(session, moved.id or 0)
    assert participant.phone is not None
    if change == "safeguarding":
        participant.safeguarding_flag = True
    else:
        session.add(OptOut(phone=participant.phone, source="STOP", opted_out_at=clock.now()))
    session.commit()
    clock.set(utc(2, 21, 9))
    outbox = tmp_path / "out"
    send_console(engine, clock, outbox)
    session.refresh(moved)
    assert (moved.status, moved.reason) == ("cancelled", reason)
    assert bodies_for(outbox, [moved]) == []


def test_the_worked_journey_of_docs_messages_md(
    engine: Engine, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    """Alex's journey, step by step as the table in docs/messages.md tells it."""
    ref = enrol_journey(session, clock, tmp_path, EIGHTH_OF_APRIL)
    case, outbox = case_of(ref), tmp_path / "out"

    def live() -> list[tuple[int, str, str | None, object]]:
        """Alex's rows still to go or gone: (slot, status, reason, due)."""
        session.expire_all()
        rows = messages_of(session, ref)
        return [
            (m.slot, m.status, m.reason, m.due_at)
            for m in rows
            if m.status not in ("superseded", "cancelled")
        ]

    assert live() == [
        (0, "scheduled", None, utc(4, 1, 17)),
        (1, "scheduled", None, utc(4, 7, 17)),
        (4, "scheduled", None, utc(4, 8, 11)),
    ]
    for minute, start in ((0, "2027-04-15T10:00"), (30, "2027-04-22T14:30")):
        clock.set(utc(3, 27, 21, minute))
        court_list(session, clock, tmp_path / f"m{minute}.csv", (case, start, "adjourned"))
    assert (2, "scheduled", "quiet_hours_deferred", utc(3, 28, 8)) in live()
    clock.set(utc(3, 28, 8))
    send_console(engine, clock, outbox)
    clock.set(utc(4, 15, 17))
    claim_due(session, clock.now(), "w", 100)
    session.commit()
    clock.set(utc(4, 15, 17, 1))
    court_list(session, clock, tmp_path / "m2.csv", (case, "2027-05-06T14:30", "adjourned"))
    clock.set(utc(4, 15, 17, 5))
    recover(engine, clock, ConsoleProvider(outbox, clock))
    send_console(engine, clock, outbox)
    refused = [m for m in messages_of(session, ref) if m.reason == "dates_changed"]
    assert [(m.slot, m.hearing_version) for m in refused] == [(0, 3)]
    clock.set(utc(4, 28, 12))
    court_list(session, clock, tmp_path / "w.csv", (case, "", "withdrawn"))
    send_console(engine, clock, outbox)
    ended = {
        (m.slot, m.hearing_version) for m in messages_of(session, ref) if m.reason == "case_ended"
    }
    assert ended == {(0, 4), (1, 4), (4, 4)}
    assert [body.split(", ", 1)[1] for body in bodies_for(outbox, messages_of(session, ref))] == [
        "your date at Bristol Crown Court has changed from Thursday 8 April at 10am to Thursday "
        "22 April at 2:30pm. Call 0117 496 0000. Reply STOP to opt out.",
        "your date at Bristol Crown Court has changed from Thursday 22 April at 2:30pm to "
        "Thursday 6 May at 2:30pm. Call 0117 496 0000. Reply STOP to opt out.",
        "you no longer need to come to Bristol Crown Court on Thursday 6 May at 2:30pm. We will "
        "tell you of any new date. Call 0117 496 0000. Reply STOP to opt out.",
    ]
