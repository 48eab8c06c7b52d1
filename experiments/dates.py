"""The dates a trial accepts: 1900-01-01 to 2199-12-31, for every date or time a user gives.

Python's datetime stops at years 1 and 9999, so a time with an offset in those years cannot
even be converted to UTC, and a day's end (`day + 1 day`) or a reminder's send time
(`hearing - days_before`) overflows near them. No court date, date of birth, posting day or
filter of a real trial is near either end, so every date a user gives (a hearing time in an
import, a `--date` argument, a date filter on a page) is checked against one range here, on the
local date as written, before any arithmetic. Two centuries each side leave room for a
hearing's reminders (at most a year before it) and a letter's posting days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)
RANGE_TEXT = f"from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"


class DateOutOfRange(ValueError):
    """A date outside the range a trial accepts; the message says the range."""


def in_range(day: date) -> bool:
    """Whether a trial accepts `day`."""
    return FIRST_DAY <= day <= LAST_DAY


def refusal(written: str) -> str:
    """The message for a date outside the range, quoting it as the user wrote it."""
    return f"'{written}' is outside the dates a trial accepts ({RANGE_TEXT}); check the year"


def check_day(day: date) -> date:
    """`day` itself, or DateOutOfRange when it is outside the accepted range."""
    if not in_range(day):
        raise DateOutOfRange(refusal(day.isoformat()))
    return day


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date within the accepted range; ValueError saying what is wrong otherwise."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"'{text}' is not a date; write it as YYYY-MM-DD (for example 2027-02-12)"
        ) from None
    if not in_range(day):
        raise DateOutOfRange(refusal(text))
    return day


def check_instant(value: datetime) -> datetime:
    """An aware or naive datetime within the range, judged by its date as written.

    Checked before converting to UTC: a time in year 1 or 9999 with an offset overflows when
    converted, and the range leaves days of room for any offset.
    """
    check_day(value.date())
    return value


def to_utc(value: datetime) -> datetime:
    """An aware datetime within the range, in UTC (DateOutOfRange before any overflow)."""
    return check_instant(value).astimezone(UTC)
