"""The outbox: planned when randomised, re-planned when moved, cancelled when unsafe."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from messages.intake import enrol_and_plan, update_hearings_and_replan
from messages.outbox import cancel_for_phone
from nudge.clock import FixedClock
from nudge.models import Arm, Assignment, Message, MessageEvent, OptOut, Participant
from tests.factories import launch, person, write_people

TRIAL = "witness-reminders-2027"


@pytest.fixture
def unguarded(example_dir: Path) -> Path:
    """The example trial without its safeguarding rule, so flagged people are randomised."""
    path = example_dir / "witness-reminders.yaml"
    path.write_text(
        path.read_text().replace("    - {field: safeguarding_flag, equals: false}\n", "")
    )
    return path


def enrol(session: Session, clock: FixedClock, path: Path) -> None:
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()


@pytest.fixture
def twelve(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> list[dict[str, Any]]:
    """The example trial, live, with twelve people enrolled; their rows as imported."""
    launch(session, clock, example_dir / "witness-reminders.yaml")
    rows = [person(i) for i in range(1, 13)]
    enrol(session, clock, write_people(tmp_path / "a.csv", rows))
    return rows


def enrol_again(
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    rows: list[dict[str, Any]],
    ref: str | None = None,
    **change: str,
) -> None:
    """Import the same people again, `change` made to the row of `ref` (to every row without)."""
    again = [dict(r, **change) if ref in (None, r["participant_ref"]) else r for r in rows]
    enrol(session, clock, write_people(tmp_path / "b.csv", again))


def arms_of(session: Session) -> dict[str, str]:
    """participant_ref -> arm key."""
    query = (
        select(Participant.participant_ref, Arm.key)
        .join(Assignment, Assignment.participant_id == Participant.id)
        .join(Arm, Arm.id == Assignment.arm_id)
    )
    return dict(session.exec(query).all())


def messages_of(session: Session, ref: str) -> list[Message]:
    query = (
        select(Message)
        .join(Participant, Participant.id == Message.participant_id)
        .where(Participant.participant_ref == ref)
        .order_by(Message.id)
    )
    return list(session.exec(query).all())


def treated(session: Session, arm: str = "social_norm") -> str:
    return next(ref for ref, key in sorted(arms_of(session).items()) if key == arm)


@pytest.mark.usefixtures("twelve")
def test_each_randomised_person_gets_their_arms_messages(
    session: Session,
) -> None:
    arms = Counter(arms_of(session).values())
    rows = session.exec(select(Message)).all()
    # Each treatment arm's timed messages: two reminders and the text after the hearing (its
    # moved and vacated texts wait for their events).
    assert len(rows) == 3 * arms["practical"] + 3 * arms["social_norm"]
    assert Counter(m.channel for m in rows) == {
        "sms": arms["practical"] * 3 + arms["social_norm"] * 2,
        "letter": arms["social_norm"],
    }
    assert {m.status for m in rows} == {"scheduled"}
    first = messages_of(session, treated(session))
    assert [(m.slot, m.channel, m.template) for m in first] == [
        (0, "sms", "social_norm_7d"),
        (1, "letter", "social_norm_letter"),
        (4, "sms", "after_hearing"),
    ]
    # The hearing is Thursday 4 March 2027 at 10:00 GMT: the SMS goes at 18:00 a week before.
    assert first[0].due_at.isoformat() == "2027-02-25T18:00:00+00:00"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"safeguarding_flag": "yes"}, [("skipped", "safeguarding")] * 3),
        (
            {"contact_letter": "no"},
            [("scheduled", None), ("skipped", "no_consent"), ("scheduled", None)],
        ),
    ],
)
def test_an_unsafe_channel_means_no_message_with_the_reason_recorded(
    session: Session,
    clock: FixedClock,
    unguarded: Path,
    tmp_path: Path,
    overrides: dict[str, str],
    expected: list[tuple[str, str | None]],
) -> None:
    launch(session, clock, unguarded)
    rows = [person(i, **overrides) for i in range(1, 13)]
    enrol(session, clock, write_people(tmp_path / "p.csv", rows))
    ref = treated(session)
    assert [(m.status, m.reason) for m in messages_of(session, ref)] == expected


def test_an_opted_out_number_is_never_planned_an_sms(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    launch(session, clock, example_dir / "witness-reminders.yaml")
    session.add(OptOut(phone="+447700900001", source="STOP", opted_out_at=clock.now()))
    session.commit()
    rows = [person(i, phone="07700 900001") for i in range(1, 13)]
    enrol(session, clock, write_people(tmp_path / "p.csv", rows))
    ref = treated(session)
    assert [(m.channel, m.status, m.reason) for m in messages_of(session, ref)] == [
        ("sms", "skipped", "opted_out"),
        ("letter", "scheduled", None),
        ("sms", "skipped", "opted_out"),
    ]


def test_an_adjournment_supersedes_pending_messages_and_plans_from_the_new_date(
    session: Session, clock: FixedClock, twelve: list[dict[str, Any]], tmp_path: Path
) -> None:
    ref = treated(session)
    enrol_again(session, clock, tmp_path, twelve, hearing_start="2027-04-15T10:00")
    history = messages_of(session, ref)
    assert [(m.hearing_version, m.slot, m.status, m.reason) for m in history] == [
        (1, 0, "superseded", "hearing_moved"),
        (1, 1, "superseded", "hearing_moved"),
        (1, 4, "superseded", "hearing_moved"),
        (2, 0, "scheduled", None),
        (2, 1, "scheduled", None),
        (2, 4, "scheduled", None),  # after the hearing: the day after the new date
        (2, 2, "scheduled", None),  # the arm's "your hearing has moved" text
    ]
    assert history[3].due_at.isoformat() == "2027-04-08T17:00:00+00:00"  # 18:00 BST
    assert history[5].due_at.isoformat() == "2027-04-16T09:00:00+00:00"  # 10:00 BST
    events = session.exec(select(MessageEvent).where(MessageEvent.message_id == history[0].id))
    assert [(e.status, e.detail) for e in events] == [("superseded", {"reason": "hearing_moved"})]


@pytest.mark.usefixtures("twelve")
def test_a_vacated_hearing_cancels_what_is_pending(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    ref = treated(session)
    case = ref.replace("P", "C")
    update = tmp_path / "h.csv"
    update.write_text(f"case_ref,hearing_start,status\n{case},,vacated\n")
    changes = update_hearings_and_replan(session, clock, TRIAL, update, "test").outbox
    session.commit()
    assert (changes.cancelled, changes.event_messages) == (3, 1)
    assert [(m.slot, m.status, m.reason) for m in messages_of(session, ref)] == [
        (0, "cancelled", "hearing_vacated"),
        (1, "cancelled", "hearing_vacated"),
        (4, "cancelled", "hearing_vacated"),
        (3, "scheduled", None),  # the arm's "you no longer need to come" text
    ]


def test_a_safeguarding_flag_set_later_cancels_everything_pending(
    session: Session, clock: FixedClock, twelve: list[dict[str, Any]], tmp_path: Path
) -> None:
    ref = treated(session)
    enrol_again(session, clock, tmp_path, twelve, ref, safeguarding_flag="yes")
    assert {(m.status, m.reason) for m in messages_of(session, ref)} == {
        ("cancelled", "safeguarding")
    }


def test_withdrawn_consent_to_texts_cancels_only_the_texts(
    session: Session, clock: FixedClock, twelve: list[dict[str, Any]], tmp_path: Path
) -> None:
    ref = treated(session)
    enrol_again(session, clock, tmp_path, twelve, ref, contact_sms="no")
    assert [(m.channel, m.status, m.reason) for m in messages_of(session, ref)] == [
        ("sms", "cancelled", "no_consent"),
        ("letter", "scheduled", None),
        ("sms", "cancelled", "no_consent"),
    ]


@pytest.mark.usefixtures("twelve")
def test_an_opt_out_cancels_every_pending_text_to_that_number(
    session: Session, clock: FixedClock
) -> None:
    ref = treated(session, "practical")
    phone = session.exec(select(Participant.phone).where(Participant.participant_ref == ref)).one()
    assert phone is not None
    cancelled = cancel_for_phone(session, clock, phone)
    session.commit()
    assert cancelled >= 2
    assert {(m.status, m.reason) for m in messages_of(session, ref)} == {("cancelled", "opted_out")}
