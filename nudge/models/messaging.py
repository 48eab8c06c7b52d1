"""The outbox of planned messages, what happened to each, replies and opt-outs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from nudge.limits import TEMPLATE_NAME
from nudge.models.statuses import MessageStatus, Timing
from nudge.models.types import UTCDateTime


class Message(SQLModel, table=True):
    """One planned message: a (participant, hearing, slot) at one version of the hearing's date."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("participant_id", "hearing_id", "slot", "hearing_version"),
        Index("ix_message_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    trial_id: str = Field(foreign_key="trial.id", index=True, max_length=100)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    hearing_version: int
    slot: int
    # What its time counts from ("hearing" or a milestone's name) and how (docs/messages.md):
    # the last check and a case's ending decide by these without reading the definition.
    anchor: str = Field(default="hearing", max_length=100)
    timing: str = Field(default=Timing.BEFORE, max_length=20)
    # The anchor's date it was planned from (a milestone's, re-timed in place if corrected);
    # for a moved or vacated hearing's message, the start the person last knew of. None only
    # on rows planned before anchors existed.
    anchor_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    channel: str = Field(max_length=10)
    template: str = Field(max_length=TEMPLATE_NAME)
    language: str = Field(max_length=10)
    due_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=MessageStatus.SCHEDULED, max_length=20)
    reason: str | None = Field(default=None, max_length=50)
    last_error: str | None = Field(default=None, max_length=255)
    segments: int = 0
    cost: float = 0.0
    provider_id: str | None = Field(default=None, max_length=64, index=True)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class MessageEvent(SQLModel, table=True):
    """Everything that happened to a message: state changes and provider callbacks."""

    __tablename__ = "message_event"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    status: str = Field(max_length=20)
    provider_status: str | None = Field(default=None, max_length=30)
    error_code: str | None = Field(default=None, max_length=20)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class InboundMessage(SQLModel, table=True):
    """A reply from a phone: STOP, START, HELP, CONFIRM or free text kept for staff."""

    __tablename__ = "inbound_message"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: str = Field(max_length=64, unique=True)
    from_number: str = Field(max_length=20, index=True)
    to_number: str = Field(max_length=20)
    body: str
    kind: str = Field(max_length=20)
    participant_id: int | None = Field(default=None, foreign_key="participant.id")
    received_at: datetime = Field(sa_type=UTCDateTime)
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    handled_by: str | None = Field(default=None, max_length=255)  # who dealt with it
    handled_note: str | None = Field(default=None, max_length=500)  # what they did about it
    # A reply from a number in no trial, sent to a number no trial sends from, that the platform
    # operator gave to an organisation (`nudge replies place`); None for every other reply.
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")


class OptOut(SQLModel, table=True):
    """A phone number that asked for no more messages, across every trial, until it opts back in."""

    __tablename__ = "opt_out"

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20, unique=True)
    source: str = Field(max_length=30)
    opted_out_at: datetime = Field(sa_type=UTCDateTime)


class SendWindow(SQLModel, table=True):
    """A trial's shared sending pace: the next free send slot, reserved under a row lock."""

    __tablename__ = "send_window"

    trial_id: str = Field(foreign_key="trial.id", primary_key=True, max_length=100)
    next_free_at: datetime = Field(sa_type=UTCDateTime)
