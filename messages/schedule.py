"""When each reminder is due: pure planning in the trial's timezone, safe across clock changes.

Plain values in, plain values out: the hearing's start and `now` are passed in (aware UTC);
nothing here reads a clock or a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from experiments.definition import MessageSpec, QuietHours, Sending

DEFAULT_SMS_TIME = "10:00"
LETTER_POSTING_TIME = "09:00"  # the morning print run
SECOND_CLASS_WORKING_DAYS = 4


@dataclass(frozen=True)
class PlannedMessage:
    """One message slot's plan: when it is due and until when it is still useful."""

    slot: int
    channel: str
    template: str
    due_at: datetime | None
    expires_at: datetime | None
    status: str  # "scheduled" or "skipped"
    reason: str | None


def plan_messages(
    specs: Sequence[MessageSpec],
    *,
    hearing_start: datetime,
    now: datetime,
    zone: ZoneInfo,
    sending: Sending,
) -> list[PlannedMessage]:
    """Plan every message of an arm for one hearing, in slot order."""
    return [
        _plan_letter(slot, spec, hearing_start, now, zone, sending.late)
        if spec.channel == "letter"
        else _plan_sms(slot, spec, hearing_start, now, zone, sending)
        for slot, spec in enumerate(specs)
    ]


def local_instant(day: date, clock_time: str, zone: ZoneInfo) -> datetime:
    """A local date and "HH:MM" as aware UTC.

    In the spring-forward gap the time is read with the offset before the change (01:30 on
    the night the clocks go forward becomes 02:30 summer time); in the autumn fold the first
    of the two instants is taken.
    """
    hour, minute = (int(part) for part in clock_time.split(":"))
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def in_quiet_hours(instant: datetime, zone: ZoneInfo, quiet: QuietHours | None) -> bool:
    """Whether an instant falls inside the local quiet window (which may wrap midnight)."""
    if quiet is None:
        return False
    local = instant.astimezone(zone).time()
    start, end = _clock(quiet.start), _clock(quiet.end)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(instant: datetime, zone: ZoneInfo, quiet: QuietHours | None) -> datetime:
    """The instant itself, or the end of the quiet window it falls in."""
    if not in_quiet_hours(instant, zone, quiet):
        return instant
    assert quiet is not None
    local = instant.astimezone(zone)
    end_day = local.date()
    if _clock(quiet.start) > _clock(quiet.end) and local.time() >= _clock(quiet.start):
        end_day += timedelta(days=1)  # the window wraps midnight: it ends tomorrow morning
    return local_instant(end_day, quiet.end, zone)


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
    reason = "quiet_hours_deferred" if due != wanted else None
    if due < now:
        if sending.late == "skip":
            return _skipped(slot, spec, due, hearing_start, "late_enrolment")
        due, reason = next_allowed(now, zone, sending.quiet_hours), "late_enrolment_sent_late"
    if due >= hearing_start:
        return _skipped(slot, spec, due, hearing_start, "hearing_started")
    return PlannedMessage(
        slot, spec.channel, spec.template, due, hearing_start, "scheduled", reason
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
            return _skipped(slot, spec, due, hearing_start, "late_enrolment")
        posting = now.astimezone(zone).date()
        while not is_working_day(posting):
            posting += timedelta(days=1)
        if add_working_days(posting, SECOND_CLASS_WORKING_DAYS) >= hearing_day:
            due = local_instant(posting, LETTER_POSTING_TIME, zone)
            return _skipped(slot, spec, due, hearing_start, "late_enrolment")
        reason = "late_enrolment_sent_late"
    due = max(local_instant(posting, LETTER_POSTING_TIME, zone), now)
    expires = local_instant(posting + timedelta(days=1), "00:00", zone)
    return PlannedMessage(slot, spec.channel, spec.template, due, expires, "scheduled", reason)


def _skipped(
    slot: int, spec: MessageSpec, due: datetime, hearing_start: datetime, reason: str
) -> PlannedMessage:
    return PlannedMessage(slot, spec.channel, spec.template, due, hearing_start, "skipped", reason)
