"""When each message is due: pure planning in the trial's timezone, safe across clock changes.

Plain values in, plain values out: the anchors' dates (the hearing's start under "hearing",
each milestone's under its name) and `now` are passed in (aware UTC); nothing here reads a
clock or a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from experiments.definition import HEARING, MessageSpec, QuietHours, Sending, SendTime
from nudge.clock import as_utc
from nudge.models.statuses import MessageStatus, Reason, Timing

DEFAULT_SMS_TIME = "10:00"
LETTER_POSTING_TIME = "09:00"  # the morning print run
SECOND_CLASS_WORKING_DAYS = 4
# A text about something that has happened (timed after its anchor, or sent on an event) is
# still worth sending a day late (a worker down overnight), not a week late.
STILL_NEWS = timedelta(days=1)

PlanStatus = Literal[MessageStatus.SCHEDULED, MessageStatus.SKIPPED]


@dataclass(frozen=True)
class PlannedMessage:
    """One message slot's plan: what it is timed from, when it is due, until when it is useful."""

    slot: int
    channel: str
    template: str
    anchor: str
    timing: Timing
    anchor_at: datetime
    due_at: datetime
    expires_at: datetime
    status: PlanStatus
    reason: Reason | None


def plan_messages(
    specs: Sequence[MessageSpec],
    *,
    anchors: Mapping[str, datetime],
    now: datetime,
    zone: ZoneInfo,
    sending: Sending,
) -> list[PlannedMessage]:
    """Plan each timed message of an arm whose anchor has a date, in slot order.

    A slot is the message's place in the arm's list. Messages sent on an event (`on:`) are
    left to `plan_event`; a message whose anchor has no date yet (a milestone not reached) is
    left out, and planned when the date arrives. Naive datetimes are refused.
    """
    now = as_utc(now)
    planned = []
    for slot, spec in enumerate(specs):
        if spec.send is None or spec.send.of not in anchors:
            continue
        anchor = as_utc(anchors[spec.send.of])
        if spec.channel == "letter":
            planned.append(_plan_letter(slot, spec, spec.send, anchor, now, zone, sending.late))
        else:
            planned.append(_plan_sms(slot, spec, spec.send, anchor, now, zone, sending))
    return planned


def plan_event(
    slot: int,
    spec: MessageSpec,
    *,
    anchor_at: datetime,
    expires_at: datetime | None,
    now: datetime,
    zone: ZoneInfo,
    sending: Sending,
) -> PlannedMessage:
    """An event's text (`on:`): due now, or when quiet hours end; useful until `expires_at`
    (a moved hearing's new start, a vacated one's old start), or for STILL_NEWS if None.

    `anchor_at` is what the text tells of: the start the person last knew, or the milestone's
    date. Due at or after `expires_at`, it is skipped (`hearing_started`).
    """
    now = as_utc(now)
    due = next_allowed(now, zone, sending.quiet_hours)
    reason = Reason.QUIET_HOURS_DEFERRED if due != now else None
    expires = as_utc(expires_at) if expires_at is not None else due + STILL_NEWS
    status: PlanStatus = MessageStatus.SCHEDULED
    if due >= expires:
        status, reason = MessageStatus.SKIPPED, Reason.HEARING_STARTED
    return _plan(slot, spec, as_utc(anchor_at), due, expires, reason, status)


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
    send: SendTime,
    anchor: datetime,
    now: datetime,
    zone: ZoneInfo,
    sending: Sending,
) -> PlannedMessage:
    wanted = _wanted(send, anchor, zone)
    due = next_allowed(wanted, zone, sending.quiet_hours)
    reason = Reason.QUIET_HOURS_DEFERRED if due != wanted else None
    if due < now:
        if sending.late == "skip":
            return _plan(slot, spec, anchor, due, _expiry(send, anchor, due), Reason.LATE_ENROLMENT)
        due = next_allowed(now, zone, sending.quiet_hours)
        reason = Reason.LATE_ENROLMENT_SENT_LATE
    expires = _expiry(send, anchor, due)
    if due >= expires:
        too_late = Reason.HEARING_STARTED if send.of == HEARING else Reason.EXPIRED
        return _plan(slot, spec, anchor, due, expires, too_late)
    return _plan(slot, spec, anchor, due, expires, reason, MessageStatus.SCHEDULED)


def _wanted(send: SendTime, anchor: datetime, zone: ZoneInfo) -> datetime:
    """The time asked for: hours from the anchor's instant, or a local time days from its
    local date (kept across a clock change)."""
    sign = 1 if send.after else -1
    if send.in_hours:
        return anchor + timedelta(hours=sign * send.offset)
    day = anchor.astimezone(zone).date() + timedelta(days=sign * send.offset)
    return local_instant(day, send.at or DEFAULT_SMS_TIME, zone)


def _expiry(send: SendTime, anchor: datetime, due: datetime) -> datetime:
    """Before its anchor: useless once the anchor comes. After it: news for STILL_NEWS."""
    return due + STILL_NEWS if send.after else anchor


def _plan_letter(
    slot: int,
    spec: MessageSpec,
    send: SendTime,
    anchor: datetime,
    now: datetime,
    zone: ZoneInfo,
    late: str,
) -> PlannedMessage:
    if send.after:
        return _plan_letter_after(slot, spec, send.offset, anchor, now, zone, late)
    anchor_day = anchor.astimezone(zone).date()
    posting = last_posting_day(anchor_day - timedelta(days=send.offset))
    reason = None
    if _end_of(posting, zone) <= now:
        if late == "skip":
            due = local_instant(posting, LETTER_POSTING_TIME, zone)
            return _plan(slot, spec, anchor, due, anchor, Reason.LATE_ENROLMENT)
        posting = _working_day_from(now.astimezone(zone).date())
        if add_working_days(posting, SECOND_CLASS_WORKING_DAYS) >= anchor_day:
            due = local_instant(posting, LETTER_POSTING_TIME, zone)
            return _plan(slot, spec, anchor, due, anchor, Reason.LATE_ENROLMENT)
        reason = Reason.LATE_ENROLMENT_SENT_LATE
    due = max(local_instant(posting, LETTER_POSTING_TIME, zone), now)
    return _plan(slot, spec, anchor, due, _end_of(posting, zone), reason, MessageStatus.SCHEDULED)


def _plan_letter_after(
    slot: int,
    spec: MessageSpec,
    days: int,
    anchor: datetime,
    now: datetime,
    zone: ZoneInfo,
    late: str,
) -> PlannedMessage:
    """Posted on the first working day at least `days` after the anchor's local date."""
    posting = _working_day_from(anchor.astimezone(zone).date() + timedelta(days=days))
    reason = None
    if _end_of(posting, zone) <= now:
        if late == "skip":
            due = local_instant(posting, LETTER_POSTING_TIME, zone)
            return _plan(slot, spec, anchor, due, _end_of(posting, zone), Reason.LATE_ENROLMENT)
        posting = _working_day_from(now.astimezone(zone).date())
        reason = Reason.LATE_ENROLMENT_SENT_LATE
    due = max(local_instant(posting, LETTER_POSTING_TIME, zone), now)
    return _plan(slot, spec, anchor, due, _end_of(posting, zone), reason, MessageStatus.SCHEDULED)


def _working_day_from(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def _end_of(day: date, zone: ZoneInfo) -> datetime:
    return local_instant(day + timedelta(days=1), "00:00", zone)


def _plan(
    slot: int,
    spec: MessageSpec,
    anchor: datetime,
    due: datetime,
    expires: datetime,
    reason: Reason | None,
    status: PlanStatus = MessageStatus.SKIPPED,
) -> PlannedMessage:
    """A message's plan: skipped unless said otherwise (then `reason` says why)."""
    return PlannedMessage(
        slot,
        spec.channel,
        spec.template,
        spec.anchor,
        spec.timing,
        anchor,
        due,
        expires,
        status,
        reason,
    )
