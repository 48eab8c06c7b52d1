"""Computed results kept per trial: every process serves the same figures without re-analysing."""

from __future__ import annotations

from datetime import date, datetime
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


class GuardrailBreach(SQLModel, table=True):
    """The first time an arm breached a guardrail: kept, audited, mailed once, shown on pages."""

    __tablename__ = "guardrail_breach"
    __table_args__ = (
        UniqueConstraint("trial_id", "arm_key", "guardrail", name="uq_guardrail_breach"),
    )

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", index=True, max_length=100)
    arm_key: str = Field(max_length=100)
    guardrail: str = Field(max_length=120)  # the metric, or outcome:<id>
    detected_at: datetime = Field(sa_type=UTCDateTime)
    rate: float
    events: int
    n: int
    control_rate: float | None = None
    threshold: float
    excess: bool
    p_value: float
    words: str = Field(sa_type=Text)  # the finding in words, as mailed
    # What became of the mail: sent, not_configured or failed (analysis/guardrails.py
    # MailOutcome); None before it was tried, or for a breach recorded before it was kept.
    mail: str | None = Field(default=None, max_length=20)


class GuardrailRun(SQLModel, table=True):
    """One day's check of a trial's guardrails: the unique day stops two workers both checking."""

    __tablename__ = "guardrail_run"
    __table_args__ = (UniqueConstraint("trial_id", "day", name="uq_guardrail_run_day"),)

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", max_length=100)
    day: date  # the trial's local day
    checked_at: datetime = Field(sa_type=UTCDateTime)
    breaches: int = 0
