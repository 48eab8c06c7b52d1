"""The audit log: who did what, when. Details never carry names, phone numbers or addresses."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from nudge.clock import Clock
from nudge.models import AuditEvent


def record(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    action: str,
    trial_id: str | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the caller's transaction (it commits or rolls back with the change)."""
    event = AuditEvent(
        at=clock.now(),
        actor=actor,
        action=action,
        trial_id=trial_id,
        subject=subject,
        details=details or {},
    )
    session.add(event)
    return event
