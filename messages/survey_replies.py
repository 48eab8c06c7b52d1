"""Replies to survey questions: which question a reply answers, and what it counts as.

A reply that is not a keyword (STOP, START, HELP, CONFIRM keep their meaning at once, mid-survey
too) from a number with an open question (sent, not yet closed) answers the question sent to
it most recently. The first reply read as an answer is counted and becomes the outcome's value
with the time it arrived, and the question's reminder is cancelled; later ones are kept as
corrections. One that cannot be read gets one clarifying text in the person's language; the
next unreadable one is stored as unreadable. A reply read as an answer after the question
closed is kept, not counted. Any other reply is handled as before (messages/replies.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from experiments import trials
from experiments.definition import Survey, TrialDefinition
from experiments.outcome_store import record_outcome_value
from messages.outbox import retire
from messages.survey_words import Accepted, normalised, read_answer
from messages.surveys import PREFIX, REMINDER, question_template, reminder_template, survey_of
from messages.triage import triage_words_in
from nudge.clock import Clock
from nudge.models import (
    AnswerStatus,
    InboundMessage,
    Message,
    MessageStatus,
    Participant,
    Reason,
    SurveyAnswer,
    Trial,
)
from nudge.models.tables import MESSAGES

DEFAULT_CLARIFY = {
    "scale": {
        "en": "Sorry, we could not read your answer. Please reply with one number from {low} "
        "to {high}.",
        "cy": "Mae'n ddrwg gennym, ni allem ddarllen eich ateb. Atebwch gydag un rhif o {low} "
        "i {high}, os gwelwch yn dda.",
    },
    "words": {
        "en": "Sorry, we could not read your answer. Please reply with one of: {words}.",
        "cy": "Mae'n ddrwg gennym, ni allem ddarllen eich ateb. Atebwch gydag un o'r rhain: "
        "{words}, os gwelwch yn dda.",
    },
}


@dataclass(frozen=True)
class Question:
    """A question sent to a person, and whether it still takes answers at `now`."""

    survey: Survey
    definition: TrialDefinition
    participant: Participant
    message_id: int
    open: bool


@dataclass(frozen=True)
class Route:
    """A reply going to a survey question, read (`answer`, None if unreadable)."""

    question: Question
    answer: bool | int | None
    flagged: bool  # it holds a triage word: staff see it too

    @property
    def participant_id(self) -> int:
        return self.question.participant.id or 0


def route_reply(session: Session, phone: str, body: str, now: datetime) -> Route | None:
    """The question a reply (not a keyword) answers, read; None when it answers none: no
    question was sent to the number, or none is open and the reply is not an answer to one
    (the latest it answers, when it is).

    With several questions open, the reply goes to the first one it reads as an answer to,
    one not yet answered before one answered (a correction); a reply read as none of them
    goes to the first question not yet answered, else the latest.
    """
    sent = _questions(session, phone, now)
    if not sent:
        return None
    answered = _answered(session, sent)
    still_open = [q for q in sent if q.open]
    read = [(q, read_answer(body, accepted(q.survey, q.definition))) for q in still_open]
    readable = [(q, a) for q, a in read if a is not None]
    pending = [(q, a) for q, a in readable if (q.participant.id, q.survey.id) not in answered]
    if pending or readable:
        question, answer = (pending or readable)[0] if pending else readable[-1]
    elif still_open:
        waiting = [q for q in still_open if (q.participant.id, q.survey.id) not in answered]
        question, answer = (waiting[0] if waiting else still_open[-1]), None
    else:
        late = [(q, read_answer(body, accepted(q.survey, q.definition))) for q in sent[::-1]]
        question, answer = next(((q, a) for q, a in late if a is not None), (sent[-1], None))
        if answer is None:
            return None
    flagged = bool(triage_words_in(body, question.definition.triage_words))
    return Route(question, answer, flagged)


def record_answer(
    session: Session, clock: Clock, route: Route, inbound: InboundMessage
) -> str | None:
    """Store the reply as an answer and act on it; the clarifying text to send back, if any."""
    question, now = route.question, inbound.received_at
    survey, trial_id = question.survey, question.participant.trial_id
    # The trial's lock before reading what was answered: two replies of one person queue, so
    # the second sees the first's counted answer (and the outcome's writers queue alike).
    trials.lock_trial(session, trial_id)
    earlier = set(
        session.exec(
            select(SurveyAnswer.status).where(
                SurveyAnswer.participant_id == route.participant_id,
                SurveyAnswer.survey_id == survey.id,
            )
        ).all()
    )
    clarify = None
    if not question.open:
        status = AnswerStatus.LATE
    elif route.answer is None:
        unclear = AnswerStatus.UNCLEAR in earlier
        status = AnswerStatus.UNREADABLE if unclear else AnswerStatus.UNCLEAR
        clarify = None if unclear else clarifying_text(question)
    else:
        counted = AnswerStatus.COUNTED in earlier
        status = AnswerStatus.CORRECTION if counted else AnswerStatus.COUNTED
    value, number = _value(route.answer)
    answer = SurveyAnswer(
        trial_id=trial_id,
        participant_id=route.participant_id,
        survey_id=survey.id,
        message_id=question.message_id,
        inbound_id=inbound.id or 0,
        status=status,
        value=value,
        number=number,
        text=inbound.body,
        received_at=now,
    )
    if status == AnswerStatus.COUNTED:
        record_outcome_value(
            session,
            trial_id,
            route.participant_id,
            survey.outcome,
            value=value,
            number=number,
            source=question_template(survey.id),
            recorded_at=now,
        )
        retire(
            session,
            clock,
            (MESSAGES.c.participant_id == route.participant_id)
            & (MESSAGES.c.template == reminder_template(survey.id)),
            MessageStatus.CANCELLED,
            Reason.SURVEY_ANSWERED,
        )
    session.add(answer)
    session.flush()
    return clarify


def accepted(survey: Survey, definition: TrialDefinition) -> Accepted:
    """What a question takes: its outcome's scale, and its listed words in every language."""
    outcome = next(o for o in definition.outcomes if o.id == survey.outcome)
    words = {
        normalised(word): value
        for listed in survey.words.values()
        for word, value in listed.items()
    }
    if outcome.scale is None:
        return Accepted(words=words)
    return Accepted(outcome.scale.min, outcome.scale.max, words)


def clarifying_text(question: Question) -> str:
    """The one text sent back after an unreadable answer, in the person's language."""
    survey, language = question.survey, question.participant.language
    if survey.clarify:
        return survey.clarify.get(language) or survey.clarify["en"]
    take = accepted(survey, question.definition)
    if take.is_scale:
        texts = DEFAULT_CLARIFY["scale"]
        return texts.get(language, texts["en"]).format(low=take.low, high=take.high)
    listed = (
        survey.words.get(language) or survey.words.get("en") or next(iter(survey.words.values()))
    )
    texts = DEFAULT_CLARIFY["words"]
    return texts.get(language, texts["en"]).format(words=", ".join(listed))


def _questions(session: Session, phone: str, now: datetime) -> list[Question]:
    """The questions sent to the number, first sent first. A number may belong to people in
    several trials."""
    query = (
        select(Message, Participant)
        .join(Participant, col(Participant.id) == Message.participant_id)
        .where(
            Participant.phone == phone,
            col(Message.template).startswith(PREFIX),
            col(Message.template).not_like(f"%{REMINDER}"),
            col(Message.sent_at).is_not(None),
        )
        .order_by(col(Message.sent_at), col(Message.id))
    )
    definitions: dict[str, TrialDefinition] = {}
    found: list[Question] = []
    for message, person in session.exec(query).all():
        if person.trial_id not in definitions:
            trial = session.get(Trial, person.trial_id)
            assert trial is not None
            definitions[person.trial_id] = trials.current_definition(session, trial)
        definition = definitions[person.trial_id]
        survey = survey_of(definition, message.template)
        if survey is None or message.sent_at is None:
            continue
        closes = message.sent_at + timedelta(days=survey.survey.closes.days_after_sent)
        found.append(Question(survey.survey, definition, person, message.id or 0, now < closes))
    return found


def _answered(session: Session, questions: list[Question]) -> set[tuple[int | None, str]]:
    """(person, survey) pairs among these questions that have a counted answer."""
    people = {q.participant.id for q in questions}
    query = select(SurveyAnswer.participant_id, SurveyAnswer.survey_id).where(
        col(SurveyAnswer.participant_id).in_(people),
        SurveyAnswer.status == AnswerStatus.COUNTED,
    )
    return {(person, survey) for person, survey in session.exec(query).all()}


def _value(answer: bool | int | None) -> tuple[bool | None, float | None]:
    if answer is None:
        return None, None
    if isinstance(answer, bool):
        return answer, None
    return None, float(answer)
