"""Users of the web app and the audit log of what anyone did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from nudge.models.types import UTCDateTime

ROLES = ("admin", "researcher", "lead")


class User(SQLModel, table=True):
    """A person who logs in: an admin, a researcher, or a programme lead."""

    __tablename__ = "user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=255, unique=True)
    password_hash: str
    role: str = Field(max_length=20)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Each login stores this in its session; raising it ends every session the user has open.
    session_epoch: int = 0


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
