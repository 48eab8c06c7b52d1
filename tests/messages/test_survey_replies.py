"""Replies to survey questions, on the engine under test with the clock pinned: each form of
answer in English and Welsh, the clarifying text, keywords mid-survey, corrections, replies
after the survey closes, and replies when no survey is open."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from experiments import trials
from experiments.outcome_store import record_outcome_value
from experiments.purge import purge_trial
from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.models import InboundMessage, Message, OptOut, Outcome, Participant
from tests.conftest import EXAMPLE_TRIAL
from tests.factories import launch, person, write_people
from tests.messages.journeys import send_console
from tests.messages.survey_factories import QUESTION_DUE, answers, questions, reply, survey_trial

ENGLISH, WELSH = "+447700900001", "+447700900003"  # P00001 reads English, P00003 Welsh
ARRIVED = QUESTION_DUE + timedelta(hours=5)
CLOSED = QUESTION_DUE + timedelta(days=7, minutes=1)  # sent a moment after it was due


@pytest.fixture
def sent(engine: Engine, session: Session, clock: FixedClock, tmp_path: Path) -> None:
    """Six people asked both questions at QUESTION_DUE (P00003 and P00006 in Welsh); the clock
    five hours on."""
    launch(session, clock, survey_trial(tmp_path))
    rows = [person(i, language="cy" if i % 3 == 0 else "en") for i in range(1, 7)]
    enrol_and_plan(session, clock, EXAMPLE_TRIAL, write_people(tmp_path / "p.csv", rows), "t")
    session.commit()
    clock.set(QUESTION_DUE)
    assert send_console(engine, clock, tmp_path / "outbox").sent == 12
    clock.set(ARRIVED)


def _outcomes(session: Session, ref: str) -> list[Outcome]:
    session.expire_all()
    query = (
        select(Outcome)
        .join(Participant, col(Participant.id) == Outcome.participant_id)
        .where(Participant.participant_ref == ref)
        .order_by(col(Outcome.id))
    )
    return list(session.exec(query).all())


@pytest.mark.parametrize(
    ("phone", "body", "key", "value"),
    [
        (ENGLISH, "4", "confidence", 4),
        (WELSH, "4", "confidence", 4),
        (ENGLISH, "4 - fairly", "confidence", 4),
        (WELSH, "4 - eithaf", "confidence", 4),
        (ENGLISH, "Four", "confidence", 4),
        (WELSH, "Pedwar", "confidence", 4),
        (WELSH, "dwy", "confidence", 2),
        (WELSH, "tair", "confidence", 3),
        (ENGLISH, "I'd say 3 out of 5", "confidence", 3),
        (ENGLISH, "Yes", "supported", True),
        (ENGLISH, "no, not really", "supported", False),
        (WELSH, "Ie", "supported", True),
        (WELSH, "Na.", "supported", False),
    ],
)
def test_each_form_of_answer_becomes_the_outcomes_value_with_the_time_it_came(
    session: Session,
    clock: FixedClock,
    sent: None,
    phone: str,
    body: str,
    key: str,
    value: bool | int,
) -> None:
    outcome = reply(session, clock, phone, body)
    ref = "P00001" if phone == ENGLISH else "P00003"
    assert (outcome.kind, outcome.reply) == ("survey", None)
    [answer] = answers(session, ref)
    assert (answer.survey_id, answer.status, answer.text) == (key, "counted", body)
    [stored] = _outcomes(session, ref)
    assert stored.outcome_key == key and stored.recorded_at == ARRIVED
    assert (stored.value, stored.number) == (
        (value, None) if isinstance(value, bool) else (None, float(value))
    )
    assert stored.source == f"survey:{key}" and stored.recorded_at == answer.received_at
    inbound = session.exec(select(InboundMessage)).one()
    assert (inbound.kind, inbound.handled_at) == ("survey", ARRIVED)  # not in the staff queue


@pytest.mark.parametrize(
    ("phone", "ref", "clarify"),
    [
        (ENGLISH, "P00001", "Sorry, we could not read your answer"),
        (WELSH, "P00003", "Mae'n ddrwg gennym, ni allem ddarllen eich ateb"),
    ],
)
def test_an_unreadable_answer_is_asked_about_once_in_the_persons_language(
    session: Session, clock: FixedClock, sent: None, phone: str, ref: str, clarify: str
) -> None:
    first = reply(session, clock, phone, "3 or 4")  # two answers: which?
    assert first.kind == "survey" and first.reply is not None
    assert first.reply.startswith(clarify) and "1" in first.reply and "5" in first.reply
    second = reply(session, clock, phone, "not sure")
    assert (second.kind, second.reply) == ("survey", None)  # no second clarifying text
    assert [(a.status, a.number) for a in answers(session, ref)] == [
        ("unclear", None),
        ("unreadable", None),
    ]
    assert _outcomes(session, ref) == []
    reply(session, clock, phone, "3")
    assert [a.status for a in answers(session, ref)][-1] == "counted"
    assert [o.number for o in _outcomes(session, ref)] == [3.0]


def test_only_the_first_answer_counts_and_later_ones_are_kept_as_corrections(
    session: Session, clock: FixedClock, sent: None
) -> None:
    reply(session, clock, ENGLISH, "4")
    clock.set(ARRIVED + timedelta(hours=1))
    reply(session, clock, ENGLISH, "sorry, I meant 2")
    assert [(a.status, a.number) for a in answers(session, "P00001")] == [
        ("counted", 4.0),
        ("correction", 2.0),
    ]
    [stored] = _outcomes(session, "P00001")
    assert (stored.number, stored.replaced_at, stored.recorded_at) == (4.0, None, ARRIVED)


def test_a_counted_answer_follows_the_outcome_stores_rules_for_a_value_already_in_force(
    session: Session, clock: FixedClock, sent: None
) -> None:
    """The answer is written by record_outcome_value, as the import writes: a different value
    in force (an earlier file's) is retired and kept; the same value again adds no row."""
    for ref, number in (("P00001", 2.0), ("P00002", 4.0)):
        record_outcome_value(
            session,
            EXAMPLE_TRIAL,
            _id(session, ref),
            "confidence",
            number=number,
            source="outcomes:phone-calls.csv",
            recorded_at=ARRIVED - timedelta(hours=1),
        )
    session.commit()
    reply(session, clock, ENGLISH, "4")
    reply(session, clock, "+447700900002", "4")
    old, new = _outcomes(session, "P00001")
    assert (old.number, old.source, old.replaced_at) == (2.0, "outcomes:phone-calls.csv", ARRIVED)
    assert (new.number, new.source, new.replaced_at) == (4.0, "survey:confidence", None)
    [kept] = _outcomes(session, "P00002")
    assert (kept.number, kept.source, kept.replaced_at) == (4.0, "outcomes:phone-calls.csv", None)
    assert [a.status for a in answers(session, "P00002")] == ["counted"]


def test_stop_in_the_middle_of_a_survey_opts_out_at_once(
    session: Session, clock: FixedClock, sent: None
) -> None:
    outcome = reply(session, clock, WELSH, "STOP")
    assert outcome.kind == "stop"
    assert session.exec(select(OptOut).where(OptOut.phone == WELSH)).one()
    reminders = [m for m in questions(session, "survey:confidence:reminder")]
    mine = [m for m in reminders if m.participant_id == _id(session, "P00003")]
    assert [(m.status, m.reason) for m in mine] == [("cancelled", "opted_out")]
    assert answers(session, "P00003") == []


def test_help_and_confirm_keep_their_meaning_mid_survey(
    session: Session, clock: FixedClock, sent: None
) -> None:
    assert reply(session, clock, ENGLISH, "HELP").kind == "help"
    assert reply(session, clock, ENGLISH, "CONFIRM").kind == "confirm"
    assert answers(session, "P00001") == []


def test_a_reply_after_the_survey_closes_is_kept_but_not_counted(
    session: Session, clock: FixedClock, sent: None
) -> None:
    clock.set(CLOSED)
    assert reply(session, clock, ENGLISH, "5").kind == "survey"
    assert [(a.status, a.number) for a in answers(session, "P00001")] == [("late", 5.0)]
    assert _outcomes(session, "P00001") == []
    # Not an answer after the close: for staff, as any reply.
    assert reply(session, clock, ENGLISH, "when is my next date?").kind == "other"


def test_a_reply_to_no_open_survey_is_handled_as_before(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, survey_trial(tmp_path))
    rows = [person(i) for i in range(1, 4)]
    enrol_and_plan(session, clock, EXAMPLE_TRIAL, write_people(tmp_path / "p.csv", rows), "t")
    session.commit()
    outcome = reply(session, clock, ENGLISH, "4")  # nothing asked yet
    assert (outcome.kind, outcome.reply) == ("other", None)
    inbound = session.exec(select(InboundMessage)).one()
    assert (inbound.kind, inbound.handled_at, inbound.participant_id) == (
        "other",
        None,
        _id(session, "P00001"),
    )
    assert answers(session, "P00001") == []


def test_an_answer_that_tells_of_distress_also_goes_to_staff(
    session: Session, clock: FixedClock, sent: None
) -> None:
    assert reply(session, clock, ENGLISH, "2, I am scared of seeing him again").kind == "survey"
    inbound = session.exec(select(InboundMessage)).one()
    assert (inbound.kind, inbound.handled_at) == ("other", None)  # first in the replies queue
    assert [(a.status, a.number) for a in answers(session, "P00001")] == [("counted", 2.0)]


def test_the_same_reply_delivered_twice_is_one_answer(
    session: Session, clock: FixedClock, sent: None
) -> None:
    reply(session, clock, ENGLISH, "4", sid="SM" + "1" * 32)
    again = reply(session, clock, ENGLISH, "4", sid="SM" + "1" * 32)
    assert again.duplicate
    assert [a.status for a in answers(session, "P00001")] == ["counted"]


def test_the_purge_keeps_the_answers_value_and_drops_its_text(
    session: Session, clock: FixedClock, sent: None
) -> None:
    reply(session, clock, ENGLISH, "4 - fairly")
    trials.close_trial(session, clock, EXAMPLE_TRIAL, trials.Actor("test:lead"))
    purge_trial(session, clock, EXAMPLE_TRIAL, "test:lead")
    session.commit()
    session.expire_all()
    [answer] = answers(session, "P00001")
    assert (answer.status, answer.number, answer.text) == ("counted", 4.0, None)
    assert [o.number for o in _outcomes(session, "P00001")] == [4.0]


def _id(session: Session, ref: str) -> int:
    found = session.exec(select(Participant.id).where(Participant.participant_ref == ref)).one()
    assert found is not None
    return found


__all__ = ["Message"]
