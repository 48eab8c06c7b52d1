"""The one clock: everything that needs 'now' is handed a Clock; NUDGE_NOW pins it.

The clock also owns waiting, so that what a caller waits for and the time it then reads can
never disagree: the system clock really sleeps; a pinned clock moves to the instant at once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current instant as an aware UTC datetime."""
        ...

    def sleep_until(self, at: datetime) -> None:
        """Return once `at` has come (at once if it has already)."""
        ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep_until(self, at: datetime) -> None:
        delay = (at - self.now()).total_seconds()
        if delay > 0:
            time.sleep(delay)


class FixedClock:
    """A clock that stays where it is put until moved: for simulations and tests."""

    def __init__(self, at: datetime) -> None:
        self._at = as_utc(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = as_utc(at)

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def sleep_until(self, at: datetime) -> None:
        """Simulated waiting: the clock moves to `at` (never back), taking no real time."""
        self._at = max(self._at, as_utc(at))


def as_utc(value: datetime) -> datetime:
    """Convert an aware datetime to UTC; a naive one is refused, because its zone is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no timezone")
    return value.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant with an offset or Z (e.g. 2027-03-01T09:00:00Z) to aware UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"'{text}' has no UTC offset; write it like 2027-03-01T09:00:00Z")
    return as_utc(value)


def clock_from_setting(pinned: datetime | None) -> Clock:
    """The clock the settings ask for: pinned when NUDGE_NOW is set, the system clock otherwise."""
    return FixedClock(pinned) if pinned is not None else SystemClock()
