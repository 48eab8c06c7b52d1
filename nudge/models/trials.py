"""Trials, their immutable definition versions, and their arms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from nudge.models.statuses import TrialStatus
from nudge.models.types import UTCDateTime


class Trial(SQLModel, table=True):
    """A trial: its id is the slug from the YAML (`witness-reminders-2027`)."""

    __tablename__ = "trial"

    id: str = Field(primary_key=True, max_length=100)
    title: str
    # The organisation that owns it: only its staff (and national readers) ever see it. Every
    # trial has one (experiments/trials.py sets it); nullable only because SQLite cannot add a
    # NOT NULL foreign key to a table others refer to without copying it (migration 0017).
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    status: str = Field(default=TrialStatus.DRAFT, max_length=20, index=True)
    current_version: int = 1
    created_at: datetime = Field(sa_type=UTCDateTime)
    launched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TrialSite(SQLModel, table=True):
    """An organisation taking part in a multi-site trial, as the trial's current definition
    lists it under `sites` (kept in step by experiments/trials.py): its staff see the trial, and
    of its people only their own site's."""

    __tablename__ = "trial_site"
    __table_args__ = (UniqueConstraint("trial_id", "organisation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", index=True, max_length=100)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    position: int  # its place in the definition's list, from 0
    name: str = Field(max_length=200)  # what its results go under


class TrialVersion(SQLModel, table=True):
    """One immutable version of a trial's definition, with the SHA-256 of its canonical form."""

    __tablename__ = "trial_version"
    __table_args__ = (UniqueConstraint("trial_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", index=True, max_length=100)
    version: int
    kind: str = Field(max_length=20)  # created | replaced | launched | amended
    reason: str | None = None
    source_name: str = Field(max_length=255)
    source_yaml: str = Field(sa_type=Text)
    canonical_json: str = Field(sa_type=Text)
    sha256: str = Field(max_length=64)
    changed_fields: list[str] = Field(default_factory=list, sa_type=JSON)
    # Each change for people, as shown before it was saved: field, kind, old and new value.
    field_changes: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=255)


class Arm(SQLModel, table=True):
    """An arm as the design fixes it: its key, weight and whether it is the control."""

    __tablename__ = "arm"
    __table_args__ = (
        UniqueConstraint("trial_id", "key"),
        # What an assignment's or an allocated unit's (arm_id, trial_id) refers to (0021).
        Index("ux_arm_id_trial_id", "id", "trial_id", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", index=True, max_length=100)
    key: str = Field(max_length=100)
    title: str
    weight: int
    is_control: bool = False
    position: int


class Pause(SQLModel, table=True):
    """A pause of one arm (`arm_key`) or of the whole trial (`arm_key` null): an operational
    change, audited; in force until `resumed_at` is set (messages/pausing.py)."""

    __tablename__ = "pause"

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", index=True, max_length=100)
    arm_key: str | None = Field(default=None, max_length=100)
    reason: str = Field(sa_type=Text)
    paused_at: datetime = Field(sa_type=UTCDateTime)
    paused_by: str = Field(max_length=255)
    resumed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resumed_by: str | None = Field(default=None, max_length=255)
