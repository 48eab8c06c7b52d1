"""Computed results kept per trial: every process serves the same figures without re-analysing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from nudge.models.types import UTCDateTime


class ResultsCache(SQLModel, table=True):
    """A trial's last computed results and the data fingerprint they were computed from."""

    __tablename__ = "results_cache"

    trial_id: str = Field(foreign_key="trial.id", primary_key=True, max_length=100)
    fingerprint: str = Field(max_length=64)
    computed_at: datetime = Field(sa_type=UTCDateTime)
    body: str = Field(sa_type=Text)
