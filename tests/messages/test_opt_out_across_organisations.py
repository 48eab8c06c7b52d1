"""The opt-out list is national: a number that said STOP to one organisation's trial is never
texted again by any organisation's, pending texts cancelled and new ones never planned."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file
from messages.intake import enrol_and_plan
from messages.replies import handle_reply
from nudge.clock import FixedClock
from nudge.models import InboundMessage, Message, Participant, Trial
from nudge.organisations import add_organisation
from tests.conftest import EXAMPLE
from tests.factories import launch, person, write_people
from tests.nudge.test_organisation_walls import SOUTH_TRIAL, south_definition, south_person
from tests.trial_factories import TRIAL

SHARED = "07700 900003"  # one person's number in both areas' trials


def sms_of(session: Session, phone: str) -> dict[str, set[tuple[str, str | None]]]:
    """Each trial's texts to this number: their statuses and reasons."""
    e164 = "+44" + phone.replace(" ", "")[1:]
    rows = session.exec(
        select(Message.trial_id, Message.status, Message.reason)
        .join(Participant, col(Participant.id) == Message.participant_id)
        .where(Participant.phone == e164, Message.channel == "sms")
    ).all()
    found: dict[str, set[tuple[str, str | None]]] = {}
    for trial_id, status, reason in rows:
        found.setdefault(trial_id, set()).add((status, reason))
    return found


@pytest.fixture
def two_areas(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    """North's example trial and South's copy, live, with one number in both."""
    add_organisation(session, clock, "north", "Northshire Police", "test")
    launch(session, clock, EXAMPLE)
    add_organisation(session, clock, "south", "Southshire Victim Service", "test")
    loaded = load_trial_file(south_definition(tmp_path))
    assert isinstance(loaded, LoadedTrial), loaded
    trials.create_trial(session, clock, loaded, trials.Actor("test"), organisation="south")
    trials.launch_trial(session, clock, SOUTH_TRIAL, trials.Actor("test"))
    north = [person(n, contact_letter="no") for n in range(1, 13)]
    # The number is North's third person's, and South's first three people's (a household).
    south = [south_person(n) | {"phone": SHARED, "contact_letter": "no"} for n in (1, 2, 3)]
    south += [south_person(n) | {"contact_letter": "no"} for n in range(4, 13)]
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "n.csv", north), "t")
    enrol_and_plan(session, clock, SOUTH_TRIAL, write_people(tmp_path / "s.csv", south), "t")
    session.commit()


@pytest.mark.usefixtures("two_areas")
def test_a_stop_to_one_organisations_trial_stops_every_organisations_texts(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    owners = dict(session.exec(select(Trial.id, Trial.organisation_id)).all())
    assert owners[TRIAL] != owners[SOUTH_TRIAL]
    before = sms_of(session, SHARED)
    assert ("scheduled", None) in before[TRIAL] and ("scheduled", None) in before[SOUTH_TRIAL]

    handle_reply(
        session,
        clock,
        provider_id="SM9",
        from_number="+447700900003",
        to_number="+447700900000",
        body="STOP",
    )
    session.commit()

    after = sms_of(session, SHARED)
    assert set(after) == set(before)
    for trial_id, states in after.items():
        assert states <= {("cancelled", "opted_out"), ("skipped", "opted_out")}, trial_id
    late = [south_person(40) | {"phone": SHARED, "contact_letter": "no"}]
    enrol_and_plan(session, clock, SOUTH_TRIAL, write_people(tmp_path / "late.csv", late), "t")
    session.commit()
    assert sms_of(session, SHARED)[SOUTH_TRIAL] <= {
        ("cancelled", "opted_out"),
        ("skipped", "opted_out"),
    }


@pytest.mark.usefixtures("two_areas")
def test_a_reply_goes_to_the_trial_that_texted_the_number_last(
    session: Session, clock: FixedClock
) -> None:
    """Webhooks are one for the platform; a reply joins the queue of the organisation whose
    text the person is answering, never the other's."""
    first = {trial: _first_text(session, trial) for trial in (TRIAL, SOUTH_TRIAL)}
    for trial, minutes in ((TRIAL, 1), (SOUTH_TRIAL, 2)):
        first[trial].sent_at = clock.now() - timedelta(minutes=10 - minutes)
        first[trial].status = "delivered"
    session.commit()
    _reply(session, clock, "SM10", "Which entrance do I use?")
    assert _trial_of_last_reply(session) == SOUTH_TRIAL
    first[TRIAL].sent_at = clock.now() - timedelta(minutes=1)
    session.commit()
    _reply(session, clock, "SM11", "Is there parking?")
    assert _trial_of_last_reply(session) == TRIAL


def _first_text(session: Session, trial_id: str) -> Message:
    e164 = "+44" + SHARED.replace(" ", "")[1:]
    return session.exec(
        select(Message)
        .join(Participant, col(Participant.id) == Message.participant_id)
        .where(Participant.phone == e164, Message.trial_id == trial_id, Message.channel == "sms")
        .order_by(col(Message.id))
    ).first()  # type: ignore[return-value]


def _reply(session: Session, clock: FixedClock, sid: str, body: str) -> None:
    handle_reply(
        session,
        clock,
        provider_id=sid,
        from_number="+44" + SHARED.replace(" ", "")[1:],
        to_number="+447700900000",
        body=body,
    )
    session.commit()


def _trial_of_last_reply(session: Session) -> str:
    return session.exec(
        select(Participant.trial_id)
        .join(InboundMessage, col(InboundMessage.participant_id) == Participant.id)
        .order_by(col(InboundMessage.id).desc())
    ).first()  # type: ignore[return-value]
