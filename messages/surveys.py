"""Survey questions in the outbox: the same question, on the same schedule, for every arm.

A survey is measurement, not treatment (docs/messages.md, "Surveys"). Its question is planned
as one more timed message of every arm (`Planning.specs` appends it after the arm's own), so
planning, re-planning when a hearing moves or a milestone arrives, the checks for
safeguarding, consent, opt-out and ended cases, quiet hours, the rate limit, dispatch and
recovery treat it as any text. Its rows are told apart by their template, `survey:ID`.

Its one reminder is planned beside it (`with_reminders`, from `insert_planned`), at the same
slot plus REMINDER_SLOTS, with the question's anchor and version, so it stops when the question
would; at the last check it is also refused when an answer came, when the question never went,
or when the question has closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, exists, select
from sqlmodel import Session

from experiments.definition import Survey, TrialDefinition
from messages.schedule import next_allowed
from nudge.models.statuses import MessageStatus, Reason
from nudge.models.tables import MESSAGES, SURVEY_ANSWERS

if TYPE_CHECKING:
    from messages.outbox import PlannedRow, Planning

PREFIX = "survey:"
REMINDER = ":reminder"
REMINDER_SLOTS = 1000  # a reminder's slot: its question's plus this
# A question or reminder that went, or may have: never planned again for that person.
GONE = (
    MessageStatus.CLAIMED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.FAILED,
    MessageStatus.UNKNOWN,
)


@dataclass(frozen=True)
class SurveyText:
    """What a survey row is: its survey, and whether it is the reminder."""

    survey: Survey
    reminder: bool


def question_template(survey_id: str) -> str:
    return f"{PREFIX}{survey_id}"


def reminder_template(survey_id: str) -> str:
    return f"{PREFIX}{survey_id}{REMINDER}"


def arm_message() -> ColumnElement[bool]:
    """The condition on `message` rows that are an arm's own (the intervention), not a survey's
    question or reminder: what delivery, cost and the participant flow count."""
    return MESSAGES.c.template.not_like(f"{PREFIX}%")


def survey_of(definition: TrialDefinition, template: str) -> SurveyText | None:
    """The survey a message row asks or reminds of, or None for an arm's own message."""
    if not template.startswith(PREFIX):
        return None
    name = template.removeprefix(PREFIX)
    reminder = name.endswith(REMINDER)
    name = name.removesuffix(REMINDER)
    survey = next((s for s in definition.surveys if s.id == name), None)
    return SurveyText(survey, reminder) if survey is not None else None


def survey_texts(definition: TrialDefinition, template: str) -> dict[str, str] | None:
    """The texts by language a survey row is rendered from (a reminder without its own text
    asks the question again), or None for an arm's own message."""
    found = survey_of(definition, template)
    if found is None:
        return None
    if found.reminder and found.survey.reminder and found.survey.reminder.text:
        return dict(found.survey.reminder.text)
    return dict(found.survey.text)


def with_reminders(
    session: Session, planning: Planning, rows: Sequence[PlannedRow]
) -> list[PlannedRow]:
    """The rows to plan, with each survey question's reminder beside it.

    A question that has already gone to the person (a hearing moved after it was sent, say)
    is not asked again; its reminder, if it has not gone either, is planned again from when
    the question went. Without surveys the rows come back as they are, with no query.
    """
    surveys = {question_template(s.id): s for s in planning.definition.surveys}
    asked = [row for row in rows if row.template in surveys]
    if not asked:
        return list(rows)
    gone = _gone(session, sorted({row.participant_id for row in asked}))
    planned: list[PlannedRow] = []
    for row in rows:
        survey = surveys.get(row.template)
        if survey is None:
            planned.append(row)
            continue
        sent_at = gone.get((row.participant_id, row.template), _NOT_GONE)
        if sent_at is _NOT_GONE:
            planned.append(row)
        if survey.reminder is not None and (
            (row.participant_id, reminder_template(survey.id)) not in gone
        ):
            start = row.due_at if sent_at is _NOT_GONE else (sent_at or planning.now)
            planned.append(_reminder(planning, survey, row, start))
    return planned


_NOT_GONE: Any = object()


def _reminder(planning: Planning, survey: Survey, question: PlannedRow, start: datetime) -> Any:
    """The reminder: `after_hours` after the question, out of quiet hours, until it closes."""
    assert survey.reminder is not None
    wanted = start + timedelta(hours=survey.reminder.after_hours)
    due = max(next_allowed(wanted, planning.zone, planning.definition.sending.quiet_hours), start)
    closes = start + timedelta(days=survey.closes.days_after_sent)
    status, reason = question.status, question.reason
    if status == MessageStatus.SCHEDULED:
        reason = Reason.QUIET_HOURS_DEFERRED if due != wanted else None
        if due < planning.now:
            due = next_allowed(planning.now, planning.zone, planning.definition.sending.quiet_hours)
        if due >= closes:
            status, reason = MessageStatus.SKIPPED, Reason.SURVEY_CLOSED
    return question._replace(
        slot=question.slot + REMINDER_SLOTS,
        template=reminder_template(survey.id),
        due_at=due,
        expires_at=closes,
        status=status,
        reason=reason,
    )


def _gone(session: Session, participant_ids: list[int]) -> dict[tuple[int, str], datetime | None]:
    """Each (person, survey template) that has gone or may have, with when it was sent."""
    query = select(MESSAGES.c.participant_id, MESSAGES.c.template, MESSAGES.c.sent_at).where(
        MESSAGES.c.participant_id.in_(participant_ids),
        MESSAGES.c.template.startswith(PREFIX),
        MESSAGES.c.status.in_(GONE),
    )
    return {(person, template): sent for person, template, sent in session.execute(query)}


def reminder_withheld(
    session: Session, definition: TrialDefinition, participant_id: int, template: str, now: datetime
) -> Reason | None:
    """Why a survey's reminder must not go now: an answer came, the question never went, or
    it has closed. None for anything that is not a reminder."""
    found = survey_of(definition, template)
    if found is None or not found.reminder:
        return None
    survey = found.survey
    answered = session.execute(
        select(
            exists().where(
                SURVEY_ANSWERS.c.participant_id == participant_id,
                SURVEY_ANSWERS.c.survey_id == survey.id,
                SURVEY_ANSWERS.c.status == "counted",
            )
        )
    ).scalar()
    if answered:
        return Reason.SURVEY_ANSWERED
    sent_at = session.execute(
        select(MESSAGES.c.sent_at)
        .where(
            MESSAGES.c.participant_id == participant_id,
            MESSAGES.c.template == question_template(survey.id),
            MESSAGES.c.sent_at.is_not(None),
        )
        .order_by(MESSAGES.c.sent_at)
        .limit(1)
    ).scalar()
    if sent_at is None:
        return Reason.SURVEY_NOT_SENT
    if now >= sent_at + timedelta(days=survey.closes.days_after_sent):
        return Reason.SURVEY_CLOSED
    return None
