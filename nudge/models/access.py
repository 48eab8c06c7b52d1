"""Users of the web app and the audit log of what anyone did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from nudge.models.types import UTCDateTime

# A role in one organisation: admin (its accounts and audit log), researcher (its trials and
# their people), lead (its trials' results only).
ROLES = ("admin", "researcher", "lead")
# Not in any organisation: reads every organisation's results as a lead does, and no personal
# data (a national programme board).
NATIONAL = "national"


class Organisation(SQLModel, table=True):
    """An area or service that owns trials and whose staff see only its own (`avon-somerset`)."""

    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=50, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)


class User(SQLModel, table=True):
    """A person who logs in: staff of one or more organisations (Membership), or national."""

    __tablename__ = "user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=255, unique=True)
    password_hash: str
    national: bool = False
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Each login stores this in its session; raising it ends every session the user has open.
    session_epoch: int = 0


class Membership(SQLModel, table=True):
    """A user's role in one organisation: what they may do with that organisation's trials."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    role: str = Field(max_length=20)


class PasswordLink(SQLModel, table=True):
    """A one-time link to set a password: only the token's sha256 is kept, never the token."""

    __tablename__ = "password_link"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Who did what to which trial, when; never holds names, phones or addresses."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=255)
    action: str = Field(max_length=100, index=True)
    trial_id: str | None = Field(default=None, max_length=100, index=True)
    subject: str | None = Field(default=None, max_length=255)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
