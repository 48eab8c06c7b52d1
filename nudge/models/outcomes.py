"""Observed outcomes; a correction adds a row and retires the old one, keeping history.

An outcome may carry two calendar dates (the court's, as written in the outcome file): when
its event happened (`occurred_on`, e.g. the day a victim withdrew) and the day time is
counted from (`charged_on`, the charge). A change of either is a correction like a change of
the value. A yes/no outcome keeps its value in `value`; an outcome of another type (a scale,
a count, a measurement: the definition's `type`) keeps it in `number`. Dates have no time of
day or zone: they are the trial's local calendar days.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from nudge.models.types import UTCDateTime


class Outcome(SQLModel, table=True):
    """One observation of one outcome for one participant; `replaced_at` is set on correction."""

    __tablename__ = "outcome"
    __table_args__ = (Index("ix_outcome_current", "participant_id", "outcome_key", "replaced_at"),)

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", index=True, max_length=100)
    participant_id: int = Field(foreign_key="participant.id")
    outcome_key: str = Field(max_length=100)
    # A yes/no outcome's value; a scale, count or continuous outcome's is `number`.
    value: bool | None = None
    number: float | None = None
    occurred_on: date | None = None
    charged_on: date | None = None
    source: str = Field(max_length=255)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    replaced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
