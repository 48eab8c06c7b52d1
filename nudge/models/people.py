"""Cases, hearings, milestones and their history, participants and their assignments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from nudge.models.statuses import HearingStatus
from nudge.models.types import UTCDateTime


def _same_trial(table: str, parent: str) -> ForeignKeyConstraint:
    """`table`'s (`parent`_id, trial_id) refers to `parent` (id, trial_id): the parent exists
    and is in the same trial, in one check for each row (migration 0021; before it, one for the
    parent and one for the trial, and nothing tied the two together)."""
    return ForeignKeyConstraint(
        [f"{parent}_id", "trial_id"],
        [f"{parent}.id", f"{parent}.trial_id"],
        name=f"{table}_{parent}_id_trial_id_fkey",
    )


class Case(SQLModel, table=True):
    """A prosecution case within one trial, known by the case-management reference."""

    __tablename__ = "case"
    __table_args__ = (
        UniqueConstraint("trial_id", "case_ref"),
        # What a hearing's or a person's (case_id, trial_id) refers to (migration 0021).
        Index("ux_case_id_trial_id", "id", "trial_id", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", max_length=100)
    case_ref: str = Field(max_length=100)
    # In a multi-site trial, the organisation whose import brought the case; None otherwise.
    site_id: int | None = Field(default=None, foreign_key="organisation.id")


class Hearing(SQLModel, table=True):
    """The hearing a case's people are due at; `version` rises each time its start moves."""

    __tablename__ = "hearing"
    __table_args__ = (_same_trial("hearing", "case"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(index=True)
    trial_id: str = Field(max_length=100)  # no index of its own: no query needs one (0022)
    court: str = Field(max_length=100)
    court_name: str
    starts_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=HearingStatus.LISTED, max_length=20)
    version: int = 1
    updated_at: datetime = Field(sa_type=UTCDateTime)


class HearingChange(SQLModel, table=True):
    """One change to a hearing, with what it was before: the history back to the first listing."""

    __tablename__ = "hearing_change"

    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    previous_status: str = Field(max_length=20)
    previous_starts_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(max_length=20)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    source: str = Field(max_length=255)


# Where a milestone record is the current one: at most one a case and name.
_CURRENT = text("replaced_at IS NULL")


class CaseMilestone(SQLModel, table=True):
    """When a case milestone the trial declares (charged, verdict...) happened, as recorded.

    A later, different date for the same case and milestone replaces the record (its
    `replaced_at` set) rather than overwriting it, so every value and its source stay; the new
    record says it is a correction. The current value is the record not replaced.
    """

    __tablename__ = "case_milestone"
    __table_args__ = (
        Index(
            "ux_case_milestone_current",
            "case_id",
            "name",
            unique=True,
            sqlite_where=_CURRENT,
            postgresql_where=_CURRENT,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", max_length=100)
    case_id: int = Field(foreign_key="case.id", index=True)
    name: str = Field(max_length=100)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    # The file it came from (`enrol:` or `milestones:` and its name), never a person's details.
    source: str = Field(max_length=255)
    # True when it changed a date recorded before; False for the milestone's first record.
    is_correction: bool = False
    replaced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Participant(SQLModel, table=True):
    """A victim or witness in one case of one trial; contact details are purged after close."""

    __tablename__ = "participant"
    __table_args__ = (
        UniqueConstraint("trial_id", "participant_ref", "case_id"),
        _same_trial("participant", "case"),
        Index("ux_participant_id_trial_id", "id", "trial_id", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(max_length=100)
    participant_ref: str = Field(max_length=100)
    case_id: int = Field(index=True)
    # In a multi-site trial, the site (organisation) whose staff imported the person and alone
    # may see and manage them (nudge.scope.people_within); None in a trial in one area. Not
    # indexed: every query naming it names the trial too (migration 0020).
    site_id: int | None = Field(default=None, foreign_key="organisation.id")
    role: str = Field(max_length=50)
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = Field(default=None, max_length=20)
    address: list[str] = Field(default_factory=list, sa_type=JSON)
    postcode: str | None = Field(default=None, max_length=12)
    language: str = Field(default="en", max_length=10)
    contact_sms: bool = False
    contact_letter: bool = False
    safeguarding_flag: bool = True
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    eligible: bool = False
    ineligible_rule: str | None = None
    enrolled_at: datetime = Field(sa_type=UTCDateTime)
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Assignment(SQLModel, table=True):
    """The arm a randomised participant was allocated to, and exactly which slot gave it."""

    __tablename__ = "assignment"
    __table_args__ = (
        Index("ix_assignment_trial_unit", "trial_id", "unit"),
        _same_trial("assignment", "participant"),
        _same_trial("assignment", "arm"),
    )

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(max_length=100)
    participant_id: int = Field(unique=True)
    arm_id: int
    unit: str = Field(max_length=255)
    stratum: str = Field(max_length=500)
    block: int
    position: int
    assigned_at: datetime = Field(sa_type=UTCDateTime)
    # The arms open to allocation when its unit was allocated (`a,b`, declared order); None
    # when every arm was (experiments/allocation.py, "paused_arm_enrolment: exclude").
    open_arms: str | None = Field(default=None, max_length=1000)


class AllocatedUnit(SQLModel, table=True):
    """A randomisation unit (a person, a case, an officer) and the one slot it took.

    The unique constraints make a double allocation impossible at the database itself: a unit
    is allocated once, and a stratum's slot goes to one unit.
    """

    __tablename__ = "allocated_unit"
    __table_args__ = (
        UniqueConstraint("trial_id", "unit"),
        UniqueConstraint("trial_id", "stratum", "slot"),
        _same_trial("allocated_unit", "arm"),
    )

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(max_length=100)
    unit: str = Field(max_length=255)
    stratum: str = Field(max_length=500)
    slot: int
    block: int
    position: int
    arm_id: int
    assigned_at: datetime = Field(sa_type=UTCDateTime)
    open_arms: str | None = Field(default=None, max_length=1000)  # as on Assignment


class StratumCounter(SQLModel, table=True):
    """How many allocation slots of a stratum's sequence are used; locked while one is taken.

    While arms are excluded from enrolment, `stratum` names the stratum's sequence for the open
    arms (`<stratum>|open:a,b`, experiments/allocation.py), counted on its own."""

    __tablename__ = "stratum_counter"
    __table_args__ = (UniqueConstraint("trial_id", "stratum"),)

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", max_length=100)
    stratum: str = Field(max_length=500)
    used: int = 0
