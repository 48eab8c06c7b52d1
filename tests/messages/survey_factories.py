"""The example trial asking two survey questions by text: confidence on a 1-5 scale two days
after the hearing, and a yes/no question on the same day, in English and Welsh."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from messages.replies import ReplyOutcome, handle_reply
from nudge.clock import FixedClock
from nudge.models import Message, Participant, SurveyAnswer
from tests.conftest import EXAMPLE
from tests.factories import fast_example

OUTCOMES = """\
  - id: confidence
    type: scale
    scale: {min: 1, max: 5, labels: {1: not at all confident, 5: very confident}}
    label: confidence
  - {id: supported, label: feeling supported}
"""
SURVEYS = """\
surveys:
  - id: confidence
    outcome: confidence
    text:
      en: "How confident do you feel about the justice system after your hearing?
        Reply 1 (not at all) to 5 (very)."
      cy: "Pa mor hyderus ydych chi'n teimlo am y system gyfiawnder ar ôl eich gwrandawiad?
        Atebwch 1 (dim o gwbl) i 5 (iawn)."
    send: {days_after: 2, of: hearing, at: "10:00"}
    reminder: {after_hours: 48}
    closes: {days_after_sent: 7}
  - id: supported
    outcome: supported
    text:
      en: "Did you feel supported at court? Reply yes or no."
      cy: "Oeddech chi'n teimlo eich bod wedi cael cefnogaeth yn y llys? Atebwch ie neu na."
    words:
      en: {"yes": true, "no": false}
      cy: {ie: true, na: false}
    send: {days_after: 2, of: hearing, at: "10:00"}
    closes: {days_after_sent: 7}
"""
# The example's hearing (person()): Thursday 4 March 2027 at 10:00 GMT; two days after, 10:00.
QUESTION_DUE = datetime.fromisoformat("2027-03-06T10:00:00+00:00")


def survey_trial(folder: Path, *, open_to_all: bool = False) -> Path:
    """A copy of the example trial with SURVEYS; `open_to_all` drops the eligibility rules on
    consent to texts and safeguarding, so such people are randomised (and never asked)."""
    path = fast_example(folder, EXAMPLE)
    text = path.read_text()
    text = text.replace("analysis:\n  alpha", OUTCOMES.rstrip("\n") + "\nanalysis:\n  alpha", 1)
    if open_to_all:
        text = text.replace(
            "    - {field: contact_sms, equals: true, label: did not agree to texts}   "
            "# label: the reason in words\n",
            "",
        ).replace("    - {field: safeguarding_flag, equals: false}\n", "")
    path.write_text(text + SURVEYS)
    return path


def questions(session: Session, template: str = "survey:confidence") -> list[Message]:
    session.expire_all()  # as the workers left them
    query = select(Message).where(Message.template == template).order_by(col(Message.id))
    return list(session.exec(query).all())


def reply(
    session: Session, clock: FixedClock, phone: str, body: str, sid: str = ""
) -> ReplyOutcome:
    """A reply from `phone`, recorded and committed as the webhook does."""
    outcome = handle_reply(
        session,
        clock,
        provider_id=sid or f"SM{abs(hash((phone, body, clock.now()))):032d}"[:34],
        from_number=phone,
        to_number="+447700900000",
        body=body,
    )
    session.commit()
    return outcome


def answers(session: Session, ref: str) -> list[SurveyAnswer]:
    query = (
        select(SurveyAnswer)
        .join(Participant, col(Participant.id) == SurveyAnswer.participant_id)
        .where(Participant.participant_ref == ref)
        .order_by(col(SurveyAnswer.id))
    )
    return list(session.exec(query).all())
