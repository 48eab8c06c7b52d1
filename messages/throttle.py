"""One sending pace per trial, shared by every worker: slots are reserved under a row lock.

The promise: no more than `max_per_second` texts of a trial leave in any one-second window,
however many workers send. Slots are `(1 + LATE_S + PATH_S) / max_per_second` apart, and a
text goes no earlier than its slot and no later than LATE_S after it (dispatch gives a text
that would be later a new slot, `messages/sending.py`); PATH_S allows for the variable time a
request takes to reach the provider. The texts that reach the provider in any window
[t, t + 1) then have slots in (t - LATE_S - PATH_S, t + 1), an interval with room for at most
`max_per_second` of them. The price: a trial sends at most 1 / (1 + LATE_S + PATH_S) of its
limit, about 87%.

The caller commits the reservation with the rows it reserved for (dispatch: the group's
`sending` commit, straight after), which releases the lock; a caller reserving for several
trials in one transaction takes them in trial order, so two workers cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from nudge.models import SendWindow

LATE_S = 0.05  # seconds after its slot that a text may still go
PATH_S = 0.1  # allowed for a request's variable time on its way to the provider (busy machine)


def reserve_slots(
    session: Session, trial_id: str, per_second: float, count: int, now: datetime
) -> datetime:
    """When the first of `count` sends may go; the lock is held until the caller commits."""
    window = _locked(session, trial_id, now)
    start = max(window.next_free_at, now)
    window.next_free_at = start + count * spacing(per_second)
    session.add(window)
    session.flush()
    return start


def reserve_lanes(
    session: Session, lanes: Sequence[tuple[str, float]], now: datetime
) -> list[datetime]:
    """A slot for each text, given as its (trial id, rate): one reservation per trial, taken in
    trial order (one lock order for every worker); the locks are held until the caller commits.
    """
    counts: dict[str, tuple[float, int]] = {}
    for trial, rate in lanes:
        counts[trial] = (rate, counts.get(trial, (rate, 0))[1] + 1)
    starts = {
        trial: reserve_slots(session, trial, rate, count, now)
        for trial, (rate, count) in sorted(counts.items())
    }
    slots, used = [], dict.fromkeys(counts, 0)
    for trial, rate in lanes:
        slots.append(starts[trial] + used[trial] * spacing(rate))
        used[trial] += 1
    return slots


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


def spacing(per_second: float) -> timedelta:
    """The time between two of a trial's slots when it sends at up to `per_second`."""
    return timedelta(seconds=(1 + LATE_S + PATH_S) / per_second)
