"""A survey's questions go to every arm, control included: they are measurement, not the
intervention, so delivery, cost, the participant flow and the guardrails on texts count the
arms' own messages only (both engines)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from analysis.consort import trial_flow
from analysis.frame import frame_from_db
from analysis.guardrails import check_guardrails
from experiments import trials
from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.models import Arm, Assignment, Message, Participant
from tests.conftest import EXAMPLE_TRIAL
from tests.factories import launch, person, write_people
from tests.messages.survey_factories import survey_trial

PEOPLE = 12
GUARDRAILS = """
guardrails:
  contacts: [trial-manager@example.org]
  checks:
    - {metric: failed_rate, max: 0.5}
    - {metric: distress_rate, max: 0.5}
"""


@pytest.fixture
def asked(session: Session, clock: FixedClock, tmp_path: Path) -> dict[str, str]:
    """PEOPLE people in every arm; each survey question delivered and charged, each reminder
    charged but undelivered; the arms' own texts and letters not yet sent. Arm by reference."""
    path = survey_trial(tmp_path)
    path.write_text(path.read_text() + GUARDRAILS)
    launch(session, clock, path)
    rows = [person(i) for i in range(1, PEOPLE + 1)]
    enrol_and_plan(session, clock, EXAMPLE_TRIAL, write_people(tmp_path / "p.csv", rows), "t")
    survey = col(Message.template).startswith("survey:")
    reminder = col(Message.template).endswith(":reminder")
    for which, status in ((survey & ~reminder, "delivered"), (reminder, "undelivered")):
        session.execute(update(Message).where(which).values(status=status, cost=0.04))
    session.commit()
    arms = session.exec(
        select(Participant.participant_ref, Arm.key)
        .join(Assignment, col(Assignment.participant_id) == Participant.id)
        .join(Arm, col(Arm.id) == Assignment.arm_id)
    ).all()
    by_ref = {ref: arm for ref, arm in arms}
    asked_in = session.exec(
        select(Arm.key)
        .join(Assignment, col(Assignment.arm_id) == Arm.id)
        .join(Message, col(Message.participant_id) == Assignment.participant_id)
        .where(Message.template == "survey:confidence", Message.status == "delivered")
        .distinct()
    ).all()
    assert set(asked_in) == {"control", "practical", "social_norm"}  # every arm is asked
    return by_ref


def _send_one(session: Session, ref: str, template: str, status: str, cost: float) -> None:
    """Mark `ref`'s message of `template` as the provider left it."""
    participant = select(Participant.id).where(Participant.participant_ref == ref)
    session.execute(
        update(Message)
        .where(col(Message.participant_id) == participant.scalar_subquery())
        .where(Message.template == template)
        .values(status=status, cost=cost)
    )
    session.commit()


def test_a_delivered_survey_question_is_not_the_intervention_reaching_anyone(
    session: Session, asked: dict[str, str]
) -> None:
    frame = frame_from_db(session, EXAMPLE_TRIAL).set_index("participant_ref")
    assert frame["delivered"].tolist() == [0.0] * PEOPLE
    assert frame["cost"].tolist() == [0.0] * PEOPLE
    practical = next(ref for ref, arm in asked.items() if arm == "practical")
    _send_one(session, practical, "practical_7d", "delivered", 0.08)
    frame = frame_from_db(session, EXAMPLE_TRIAL).set_index("participant_ref")
    assert frame["delivered"].sum() == 1.0 and frame.loc[practical, "delivered"] == 1.0
    assert frame["cost"].sum() == pytest.approx(0.08)
    assert frame.loc[practical, "cost"] == pytest.approx(0.08)


def test_the_participant_flow_counts_only_the_arms_own_messages(
    session: Session, asked: dict[str, str]
) -> None:
    definition = trials.current_definition(session, trials.get_trial(session, EXAMPLE_TRIAL))
    # Each arm's timed messages are planned at enrolment; those sent on an event (a hearing
    # moved or vacated) only when it happens.
    own = {arm.id: sum(m.send is not None for m in arm.messages) for arm in definition.arms}
    practical = next(ref for ref, arm in asked.items() if arm == "practical")
    _send_one(session, practical, "practical_7d", "delivered", 0.08)
    flow = {arm.arm: arm for arm in trial_flow(session, definition).arms}
    assert flow["control"].messages.scheduled == 0  # asked the survey, sent no message
    for key, arm in flow.items():
        people = sum(1 for a in asked.values() if a == key)
        assert arm.messages.scheduled == own[key] * people
        assert arm.messages.failed == 0  # the undelivered reminders are not the arm's
    assert flow["practical"].messages.delivered == 1
    assert [flow[k].messages.participants_reached for k in ("control", "practical")] == [0, 1]


def test_the_guardrails_on_texts_watch_the_arms_own_texts_only(
    session: Session, asked: dict[str, str]
) -> None:
    definition = trials.current_definition(session, trials.get_trial(session, EXAMPLE_TRIAL))
    findings = check_guardrails(session, EXAMPLE_TRIAL, definition)
    assert {(f.key, f.arm, f.note) for f in findings} == {
        (key, arm, "no one yet")
        for key in ("failed_rate", "distress_rate")
        for arm in ("control", "practical", "social_norm")
    }
    practical = next(ref for ref, arm in asked.items() if arm == "practical")
    _send_one(session, practical, "practical_7d", "undelivered", 0.08)
    failed = {
        f.arm: (f.rate.events, f.rate.n)
        for f in check_guardrails(session, EXAMPLE_TRIAL, definition)
        if f.key == "failed_rate"
    }
    assert failed == {"control": (0, 0), "practical": (1, 1), "social_norm": (0, 0)}
