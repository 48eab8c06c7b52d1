"""A confidence survey from start to finish, on the engine under test: people in every arm are
asked a 1-5 question two days after their hearing through the normal dispatch, by the real
twilio client against the local fake Twilio; they answer through the signed inbound webhook;
the answers become the outcome's numbers; and the results show each arm's mean and response
rate."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from analysis.outcomes import import_outcomes
from analysis.person_timeline import person_timeline
from experiments import trials
from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.config import load_settings
from nudge.models import Arm, Assignment, Message, Outcome, Participant
from nudge.web import create_app
from tests.analysis.test_outcome_types_page import measured
from tests.conftest import EXAMPLE_TRIAL
from tests.factories import launch, person, write_people
from tests.fakes.twilio_server import FakeTwilioServer, nudge_env
from tests.fakes.twilio_state import FAKE_AUTH_TOKEN
from tests.messages.sending import PUBLIC, send_due, twilio_provider
from tests.messages.survey_factories import QUESTION_DUE, survey_trial
from tests.web_helpers import add_staff, logged_in

PEOPLE = 36
ARRIVED = QUESTION_DUE + timedelta(hours=3)
SHIFT = {"control": 0, "practical": 1, "social_norm": 1}
ENGLISH = {2: "two", 3: "three", 4: "four", 5: "five"}
WELSH = {2: "dau", 3: "tri", 4: "pedwar", 5: "pump"}
INBOUND = "/webhooks/twilio/inbound"


def language(n: int) -> str:
    return "cy" if n % 5 == 0 else "en"


def answer(n: int, arm: str) -> tuple[int, str] | None:
    """Person n's answer and how they wrote it: a digit, a digit with words, or the number in
    words in their language; every fourth person does not answer."""
    if n % 4 == 0:
        return None
    value = 2 + n % 3 + SHIFT[arm]
    words = WELSH if language(n) == "cy" else ENGLISH
    return value, (str(value), f"{value} - fairly", words[value])[n % 3]


@pytest.fixture
def web(db_url: str, fake_twilio: FakeTwilioServer) -> Iterator[Flask]:
    """The app as Twilio reaches it when the answers arrive: signed with the account's token."""
    settings = {"NUDGE_DATABASE_URL": db_url, "NUDGE_NOW": ARRIVED.isoformat()}
    app = create_app(load_settings(settings | nudge_env(fake_twilio.url, PUBLIC)))
    yield app
    app.extensions["nudge"]["engine"].dispose()


def arms_by_person(session: Session) -> dict[int, str]:
    """Person number -> arm key, for everyone randomised."""
    rows = session.exec(
        select(Participant.participant_ref, Arm.key)
        .join(Assignment, col(Assignment.participant_id) == Participant.id)
        .join(Arm, col(Arm.id) == Assignment.arm_id)
    ).all()
    return {int(ref[1:]): arm for ref, arm in rows}


def test_a_confidence_survey_is_asked_in_every_arm_answered_by_text_and_reported_by_arm(
    engine: Engine,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    fake_twilio: FakeTwilioServer,
    web: Flask,
) -> None:
    launch(session, clock, survey_trial(tmp_path))
    rows = [person(n, language=language(n)) for n in range(1, PEOPLE + 1)]
    enrol_and_plan(session, clock, EXAMPLE_TRIAL, write_people(tmp_path / "p.csv", rows), "t")
    session.commit()
    add_staff(session, clock)
    arms = arms_by_person(session)
    assert set(arms.values()) == set(SHIFT) and len(arms) == PEOPLE

    # Two days after the hearing the worker's dispatch asks everyone, control included.
    clock.set(QUESTION_DUE)
    twilio = twilio_provider(fake_twilio, clock)
    while send_due(engine, clock, twilio).sent:
        pass
    session.expire_all()
    asked = session.exec(
        select(Message).where(Message.template == "survey:confidence", Message.status == "sent")
    ).all()
    assert len({m.participant_id for m in asked}) == len(asked) == PEOPLE
    assert {m.id for m in asked} <= set(fake_twilio.state.our_message_ids())
    taken = {
        int(record["to"][-3:]): record["body"]
        for record in fake_twilio.state.messages
        if record["body"].startswith(("How confident", "Pa mor hyderus"))
    }
    assert sorted(taken) == sorted(arms)  # one question for each person, in their language
    assert taken[5].startswith("Pa mor hyderus") and taken[1].startswith("How confident")

    # The answers come back through Twilio's signed inbound webhook.
    client, validator = web.test_client(), RequestValidator(FAKE_AUTH_TOKEN)
    given: dict[int, int] = {}
    for n, arm in sorted(arms.items()):
        replied = answer(n, arm)
        if replied is None:
            continue
        value, body = replied
        form = {
            "MessageSid": f"SM{n:032d}",
            "From": f"+447700900{n:03d}",
            "To": "+447700900000",
            "Body": body,
        }
        signature = validator.compute_signature(PUBLIC + INBOUND, form)
        response = client.post(INBOUND, data=form, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200
        assert "<Message>" not in response.get_data(as_text=True)  # read: no clarifying text
        given[n] = value

    session.expire_all()
    stored = session.exec(
        select(Participant.participant_ref, Outcome)
        .join(Outcome, col(Outcome.participant_id) == Participant.id)
        .where(Outcome.outcome_key == "confidence")
    ).all()
    assert {int(ref[1:]): o.number for ref, o in stored} == {n: float(v) for n, v in given.items()}
    assert {(o.source, o.recorded_at, o.replaced_at) for _, o in stored} == {
        ("survey:confidence", ARRIVED, None)
    }

    # The court's records bring the primary outcome (attendance), without which the page shows
    # no results; then each arm's mean answer, and the share of its people who answered.
    attended = tmp_path / "attended.csv"
    attended.write_text(
        "participant_ref,case_ref,attended\n"
        + "".join(f"P{n:05d},C{n:05d},{'yes' if n % 2 else 'no'}\n" for n in arms)
    )
    clock.set(ARRIVED + timedelta(days=1))
    import_outcomes(session, clock, EXAMPLE_TRIAL, attended, "t")
    session.commit()
    body = json.loads(
        logged_in(web, "researcher")
        .get(f"/trials/{EXAMPLE_TRIAL}/results.json")
        .get_data(as_text=True)
    )
    figures = measured(body, "confidence")
    for arm in SHIFT:
        people = [n for n, a in arms.items() if a == arm]
        answers = [given[n] for n in people if n in given]
        assert figures[arm]["randomised"] == len(people) and figures[arm]["n"] == len(answers)
        assert figures[arm]["mean"] == pytest.approx(statistics.fmean(answers))
        assert figures[arm]["response_rate"] == pytest.approx(len(answers) / len(people))
    page = logged_in(web, "researcher").get(f"/trials/{EXAMPLE_TRIAL}/results")
    assert "Answers on confidence by arm" in page.get_data(as_text=True)

    # A person's timeline says what their reply was and where the outcome came from.
    definition = trials.current_definition(session, trials.get_trial(session, EXAMPLE_TRIAL))
    entries = person_timeline(session, definition, "P00001").entries
    titles = [entry.title for entry in entries]
    assert "Replied to a survey question" in titles
    recorded = [dict(e.details) for e in entries if e.title.startswith("Outcome recorded")]
    assert {
        "Recorded as": f"confidence: {given[1]}",
        "Recorded from": "answer to the survey question confidence",
    } in recorded
