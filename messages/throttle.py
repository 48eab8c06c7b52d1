"""One sending pace per trial, shared by every worker: slots are reserved under a row lock.

The caller commits the reservation with the rows it reserved for (dispatch: the group's
`sending` commit, straight after), which releases the lock; a caller reserving for several
trials in one transaction takes them in trial order, so two workers cannot deadlock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from nudge.models import SendWindow


def reserve_slots(
    session: Session, trial_id: str, per_second: float, count: int, now: datetime
) -> datetime:
    """When the first of `count` sends may go; the lock is held until the caller commits."""
    window = _locked(session, trial_id, now)
    start = max(window.next_free_at, now)
    window.next_free_at = start + timedelta(seconds=count / per_second)
    session.add(window)
    session.flush()
    return start


def _locked(session: Session, trial_id: str, now: datetime) -> SendWindow:
    query = select(SendWindow).where(SendWindow.trial_id == trial_id).with_for_update()
    window = session.exec(query).first()
    if window is not None:
        return window
    try:
        with session.begin_nested():
            session.add(SendWindow(trial_id=trial_id, next_free_at=now))
    except IntegrityError:
        pass  # another worker created it first
    return session.exec(query).one()
