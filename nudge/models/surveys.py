"""Answers to the questions a trial asks by text (docs/messages.md, "Surveys").

Who was asked is the outbox itself: each question is a `message` row whose template is
`survey:ID` (its reminder `survey:ID:reminder`). Each reply routed to a question is a
`survey_answer`, whatever it said: the first that reads as an answer is `counted` and becomes
the outcome's value; later ones are `correction`s, kept with their history; one that cannot be
read is `unclear` (a clarifying text went back) or `unreadable`; one after the question closed
is `late`. `text` is the reply as it came, personal data dropped by the purge; the value stays.
The counted answer's `outcome` row is found by what they share (participant, the survey's
outcome, source `survey:ID`, `recorded_at` = `received_at`), not by a key: the outcome store
writes a row only when the value changes, and keeps each row's history itself.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from nudge.models.types import UTCDateTime


class AnswerStatus(StrEnum):
    """What a reply routed to a survey question counts as."""

    COUNTED = "counted"  # the first answer read: the outcome's value
    CORRECTION = "correction"  # read, after the counted one: kept, not counted
    UNCLEAR = "unclear"  # not read: a clarifying text went back (once per question)
    UNREADABLE = "unreadable"  # not read, after the clarifying text
    LATE = "late"  # read, after the question closed: kept, not counted


_COUNTED = text("status = 'counted'")


class SurveyAnswer(SQLModel, table=True):
    """One reply to one survey question from one participant."""

    __tablename__ = "survey_answer"
    __table_args__ = (
        Index("ix_survey_answer_person", "participant_id", "survey_id"),
        # One counted answer a question: two replies at the same instant cannot both count.
        Index(
            "ux_survey_answer_counted",
            "participant_id",
            "survey_id",
            unique=True,
            sqlite_where=_COUNTED,
            postgresql_where=_COUNTED,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", index=True, max_length=100)
    participant_id: int = Field(foreign_key="participant.id")
    survey_id: str = Field(max_length=60)
    message_id: int = Field(foreign_key="message.id")  # the question it answers
    inbound_id: int = Field(foreign_key="inbound_message.id")
    status: str = Field(max_length=20)
    value: bool | None = None  # a yes/no outcome's
    number: float | None = None  # a scale's
    text: str | None = None  # the reply as it came; None once purged
    received_at: datetime = Field(sa_type=UTCDateTime)
