"""When each reminder is due: pure planning in the trial's timezone, safe across clock changes.

Plain values in, plain values out: the hearing's start and `now` are passed in (aware UTC);
nothing here reads a clock or a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from experiments.definition import MessageSpec, QuietHours, Sending
from nudge.clock import as_utc
from nudge.models.statuses import MessageStatus, Reason

DEFAULT_SMS_TIME = "10:00"
LETTER_POSTING_TIME = "09:00"  # the morning print run
SECOND_CLASS_WORKING_DAYS = 4

PlanStatus = Literal[MessageStatus.SCHEDULED, MessageStatus.SKIPPED]


@dataclass(frozen=True)
class PlannedMessage:
    """One message slot's plan: when it is due and until when it is still useful."""

    slot: int
    channel: str
    template: str
    due_at: datetime | None
    expires_at: datetime | None
    status: PlanStatus
    reason: Reason | None


def plan_messages(
    specs: Sequence[MessageSpec],
    *,
    hearing_start: datetime,
    now: datetime,
    zone: ZoneInfo,
    sending: Sending,
) -> list[PlannedMessage]:
    """Plan every message of an arm for one hearing, in slot order (naive datetimes refused)."""
    hearing_start, now = as_utc(hearing_start), as_utc(now)
    return [
        _plan_letter(slot, spec, hearing_start, now, zone, sending.late)
        if spec.channel == "letter"
        else _plan_sms(slot, spec, hearing_start, now, zone, sending)
        for slot, spec in enumerate(specs)
    ]


def local_instant(day: date, clock_time: str, zone: ZoneInfo) -> datetime:
    """A local date and "HH:MM" as aware UTC, defined on the nights the clocks change.

    A time in the spring-forward gap does not exist: it moves forward to the first instant that
    does (01:30 on the night the clocks go forward becomes 02:00 summer time). A time in the
    autumn fold happens twice: the first of the two instants is taken.
    """
    wall = datetime.combine(day, _clock(clock_time))
    instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first occurrence
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    return _end_of_gap(wall, zone)


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jumped over `wall`: the first one after the gap."""
    early, late = sorted(wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    offset = early.astimezone(zone).utcoffset()
    while late - early > timedelta(seconds=1):
        middle = early + timedelta(seconds=(late - early).total_seconds() // 2)
        if middle.astimezone(zone).utcoffset() == offset:
            early = middle
        else:
            late = middle
    return late


def in_quiet_hours(instant: datetime, zone: ZoneInfo, quiet: QuietHours | None) -> bool:
    """Whether an instant falls inside the local quiet window [start, end), which may wrap midnight.

    A window whose start equals its end is empty (validation refuses one anyway).
    """
    if quiet is None or quiet.start == quiet.end:
        return False
    local = instant.astimezone(zone).time()
    start, end = _clock(quiet.start), _clock(quiet.end)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(instant: datetime, zone: ZoneInfo, quiet: QuietHours | None) -> datetime:
    """The instant itself, or the end of the quiet window it falls in: never earlier."""
    if not in_quiet_hours(instant, zone, quiet):
        return instant
    assert quiet is not None
    local = instant.astimezone(zone)
    end_day = local.date()
    if _clock(quiet.start) > _clock(quiet.end) and local.time() >= _clock(quiet.start):
        end_day += timedelta(days=1)  # the window wraps midnight: it ends tomorrow morning
    end = local_instant(end_day, quiet.end, zone)
    if end <= instant:  # in the autumn fold's second hour: the window ends at the second one
        wall = datetime.combine(end_day, _clock(quiet.end))
        end = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    # A window ending in a spring-forward gap ends at the gap's end, which may open the next one.
    return next_allowed(end, zone, quiet) if in_quiet_hours(end, zone, quiet) else end


def is_working_day(day: date) -> bool:
    """Monday to Friday, and not a bank holiday in England and Wales."""
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(day: date, count: int) -> date:
    """The `count`-th working day after `day`: when a letter posted on `day` arrives."""
    while count:
        day += timedelta(days=1)
        count -= is_working_day(day)
    return day


def last_posting_day(arrive_by: date) -> date:
    """The latest working day a second-class letter can be posted to arrive by `arrive_by`."""
    day = arrive_by - timedelta(days=1)
    while not (
        is_working_day(day) and add_working_days(day, SECOND_CLASS_WORKING_DAYS) <= arrive_by
    ):
        day -= timedelta(days=1)
    return day


@lru_cache(maxsize=32)
def _bank_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def _clock(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    return time(hour, minute)


def _plan_sms(
    slot: int,
    spec: MessageSpec,
    hearing_start: datetime,
    now: datetime,
    zone: ZoneInfo,
    sending: Sending,
) -> PlannedMessage:
    hearing_day = hearing_start.astimezone(zone).date()
    wanted = local_instant(
        hearing_day - timedelta(days=spec.send.days_before), spec.send.at or DEFAULT_SMS_TIME, zone
    )
    due = next_allowed(wanted, zone, sending.quiet_hours)
    reason = Reason.QUIET_HOURS_DEFERRED if due != wanted else None
    if due < now:
        if sending.late == "skip":
            return _skipped(slot, spec, due, hearing_start, Reason.LATE_ENROLMENT)
        due = next_allowed(now, zone, sending.quiet_hours)
        reason = Reason.LATE_ENROLMENT_SENT_LATE
    if due >= hearing_start:
        return _skipped(slot, spec, due, hearing_start, Reason.HEARING_STARTED)
    return PlannedMessage(
        slot, spec.channel, spec.template, due, hearing_start, MessageStatus.SCHEDULED, reason
    )


def _plan_letter(
    slot: int, spec: MessageSpec, hearing_start: datetime, now: datetime, zone: ZoneInfo, late: str
) -> PlannedMessage:
    hearing_day = hearing_start.astimezone(zone).date()
    posting = last_posting_day(hearing_day - timedelta(days=spec.send.days_before))
    reason = None
    if local_instant(posting + timedelta(days=1), "00:00", zone) <= now:
        if late == "skip":
            due = local_instant(posting, LETTER_POSTING_TIME, zone)
            return _skipped(slot, spec, due, hearing_start, Reason.LATE_ENROLMENT)
        posting = now.astimezone(zone).date()
        while not is_working_day(posting):
            posting += timedelta(days=1)
        if add_working_days(posting, SECOND_CLASS_WORKING_DAYS) >= hearing_day:
            due = local_instant(posting, LETTER_POSTING_TIME, zone)
            return _skipped(slot, spec, due, hearing_start, Reason.LATE_ENROLMENT)
        reason = Reason.LATE_ENROLMENT_SENT_LATE
    due = max(local_instant(posting, LETTER_POSTING_TIME, zone), now)
    expires = local_instant(posting + timedelta(days=1), "00:00", zone)
    return PlannedMessage(
        slot, spec.channel, spec.template, due, expires, MessageStatus.SCHEDULED, reason
    )


def _skipped(
    slot: int, spec: MessageSpec, due: datetime, hearing_start: datetime, reason: Reason
) -> PlannedMessage:
    return PlannedMessage(
        slot, spec.channel, spec.template, due, hearing_start, MessageStatus.SKIPPED, reason
    )
