"""Computed results kept per trial: every process serves the same figures without re-analysing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from nudge.models.types import UTCDateTime


class ResultsCache(SQLModel, table=True):
    """A trial's last computed results and the data fingerprint they were computed from."""

    __tablename__ = "results_cache"

    trial_id: str = Field(foreign_key="trial.id", primary_key=True, max_length=100)
    fingerprint: str = Field(max_length=64)
    computed_at: datetime = Field(sa_type=UTCDateTime)
    body: str = Field(sa_type=Text)


class InterimLook(SQLModel, table=True):
    """One interim look at a trial's comparison, as it was when looked at: never changed.

    `arms` holds each treatment arm's estimate, standard error, Z and whether it crossed the
    boundary (`benefit`, `harm` or null); `planned` is false for a look the plan did not
    schedule (analysis/interim.py).
    """

    __tablename__ = "interim_look"
    __table_args__ = (UniqueConstraint("trial_id", "number", name="uq_interim_look_number"),)

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", index=True, max_length=100)
    number: int
    looked_at: datetime = Field(sa_type=UTCDateTime)
    outcome_key: str = Field(max_length=100)
    observed: int
    fraction: float
    planned: bool
    critical: float
    arms: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    looked_by: str = Field(max_length=255)
