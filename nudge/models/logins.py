"""What logging in needs to remember, apart from the audit log: recent failures, ended sessions.

The audit log records every login and logout for people to read; these two small tables are
what the app itself asks on a login (how many recent failures?) and on every request (has this
session ended?), each with the index its one question needs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from nudge.models.types import UTCDateTime


class LoginFailure(SQLModel, table=True):
    """One failed login, kept only while it counts towards a lockout (nudge.accounts)."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_email_at", "email", "at"),
        Index("ix_login_failure_source_at", "source", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    email: str = Field(max_length=255)
    source: str = Field(max_length=255)


class EndedWebSession(SQLModel, table=True):
    """A web session that was logged out: its cookie, even if copied, logs no one in again."""

    __tablename__ = "ended_web_session"

    session_id: str = Field(primary_key=True, max_length=64)
    ended_at: datetime = Field(sa_type=UTCDateTime)
