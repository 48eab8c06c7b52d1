"""Each model's Core table, typed once, for the modules that work below the ORM.

Bulk writes, set-based updates and the analysis frame use `sqlalchemy.Table` columns
(`MESSAGES.c.status`); SQLModel gives `__table__` no type mypy can see, so this is the one
place that looks it up.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from nudge.models.access import AuditEvent
from nudge.models.messaging import InboundMessage, Message, MessageEvent, OptOut
from nudge.models.outcomes import Outcome
from nudge.models.people import (
    AllocatedUnit,
    Assignment,
    Case,
    CaseMilestone,
    Hearing,
    HearingChange,
    Participant,
)
from nudge.models.results import ResultsCache
from nudge.models.surveys import SurveyAnswer
from nudge.models.trials import Arm, Pause, Trial


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel table class."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


ARMS = table_of(Arm)
ASSIGNMENTS = table_of(Assignment)
AUDIT = table_of(AuditEvent)
CACHE = table_of(ResultsCache)
CASES = table_of(Case)
CHANGES = table_of(HearingChange)
EVENTS = table_of(MessageEvent)
HEARINGS = table_of(Hearing)
MESSAGES = table_of(Message)
MILESTONES = table_of(CaseMilestone)
OPT_OUTS = table_of(OptOut)
OUTCOMES = table_of(Outcome)
PAUSES = table_of(Pause)
PEOPLE = table_of(Participant)
REPLIES = table_of(InboundMessage)
SURVEY_ANSWERS = table_of(SurveyAnswer)
TRIALS = table_of(Trial)
UNITS = table_of(AllocatedUnit)
