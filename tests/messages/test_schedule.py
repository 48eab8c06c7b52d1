"""Due times in the trial's timezone: clock changes, quiet hours, late enrolment, posting days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.definition import MessageSpec, QuietHours, Sending
from messages.schedule import (
    add_working_days,
    in_quiet_hours,
    is_working_day,
    last_posting_day,
    local_instant,
    plan_messages,
)

LONDON = ZoneInfo("Europe/London")


def sms(days_before: int, at: str | None = "18:00") -> MessageSpec:
    return MessageSpec.model_validate(
        {"channel": "sms", "template": "t", "send": {"days_before": days_before, "at": at}}
    )


def letter(days_before: int) -> MessageSpec:
    return MessageSpec.model_validate(
        {"channel": "letter", "template": "l", "send": {"days_before": days_before}}
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def plan(spec: MessageSpec, hearing: datetime, now: datetime, **sending: object):  # type: ignore[no-untyped-def]
    return plan_messages(
        [spec], hearing_start=hearing, now=now, zone=LONDON, sending=Sending.model_validate(sending)
    )[0]


@pytest.mark.parametrize(
    ("hearing", "days_before", "due"),
    [
        # Clocks go forward on Sunday 28 March 2027: 18:00 BST is 17:00 UTC.
        (utc(2027, 3, 29, 9), 1, utc(2027, 3, 28, 17)),
        (utc(2027, 3, 29, 9), 7, utc(2027, 3, 22, 18)),  # 18:00 GMT a week before
        # Clocks go back on Sunday 31 October 2027.
        (utc(2027, 11, 1, 10), 1, utc(2027, 10, 31, 18)),
        (utc(2027, 11, 1, 10), 7, utc(2027, 10, 25, 17)),  # still BST then
    ],
)
def test_a_send_time_is_local_whatever_the_offset(
    hearing: datetime, days_before: int, due: datetime
) -> None:
    planned = plan(sms(days_before), hearing, utc(2027, 1, 1))
    assert (planned.status, planned.due_at, planned.expires_at) == ("scheduled", due, hearing)


def test_times_in_the_spring_gap_and_the_autumn_fold_are_defined() -> None:
    assert local_instant(date(2027, 3, 28), "01:30", LONDON) == utc(2027, 3, 28, 1, 30)
    assert local_instant(date(2027, 10, 31), "01:30", LONDON) == utc(2027, 10, 31, 0, 30)


def test_quiet_hours_defer_to_their_end_and_never_drop_a_message() -> None:
    planned = plan(
        sms(1, "21:30"),
        utc(2027, 6, 10, 9),
        utc(2027, 1, 1),
        quiet_hours={"start": "20:00", "end": "09:00"},
    )
    assert (planned.status, planned.reason) == ("scheduled", "quiet_hours_deferred")
    assert planned.due_at == utc(2027, 6, 10, 8)  # 09:00 BST on the hearing day, before 10:00


def test_a_message_deferred_past_the_hearing_start_is_skipped_not_sent_late() -> None:
    planned = plan(
        sms(1, "21:30"),
        utc(2027, 6, 10, 7),
        utc(2027, 1, 1),
        quiet_hours={"start": "20:00", "end": "09:00"},
    )
    assert (planned.status, planned.reason) == ("skipped", "hearing_started")


@pytest.mark.parametrize(
    ("at", "quiet"), [("20:00", True), ("08:59", True), ("09:00", False), ("19:59", False)]
)
def test_quiet_hours_edges(at: str, quiet: bool) -> None:
    instant = local_instant(date(2027, 6, 1), at, LONDON)
    assert in_quiet_hours(instant, LONDON, QuietHours(start="20:00", end="09:00")) is quiet


def test_late_enrolment_skip_records_the_reason() -> None:
    planned = plan(sms(7), utc(2027, 3, 10, 10), utc(2027, 3, 8, 12), late="skip")
    assert (planned.status, planned.reason) == ("skipped", "late_enrolment")


def test_late_enrolment_next_window_sends_at_the_next_allowed_time() -> None:
    now = utc(2027, 3, 8, 21)  # 21:00 GMT: inside quiet hours
    planned = plan(
        sms(7),
        utc(2027, 3, 10, 10),
        now,
        late="next_window",
        quiet_hours={"start": "20:00", "end": "09:00"},
    )
    assert (planned.status, planned.due_at) == ("scheduled", utc(2027, 3, 9, 9))


def test_a_letter_is_posted_on_the_last_working_day_that_arrives_in_time() -> None:
    # Arrive by Tuesday 30 March 2027 (hearing Tuesday 13 April, 14 days before): Good Friday
    # and Easter Monday are bank holidays, so the last posting day is Monday 22 March.
    planned = plan(letter(14), utc(2027, 4, 13, 9), utc(2027, 1, 1))
    assert planned.due_at == utc(2027, 3, 22, 9)
    assert planned.expires_at == utc(2027, 3, 23, 0)
    assert last_posting_day(date(2027, 12, 31)) == date(2027, 12, 23)  # Christmas, Boxing Day


def test_a_letter_too_late_to_arrive_is_skipped() -> None:
    planned = plan(letter(14), utc(2027, 4, 13, 9), utc(2027, 3, 25, 12), late="skip")
    assert (planned.status, planned.reason) == ("skipped", "late_enrolment")


@settings(max_examples=300, deadline=None)
@given(
    hearing=st.datetimes(
        min_value=datetime(2027, 1, 15), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    lead=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    days_before=st.integers(0, 21),
    hour=st.integers(0, 23),
    late=st.sampled_from(["skip", "next_window"]),
)
def test_a_scheduled_sms_is_never_in_quiet_hours_never_late_and_never_in_the_past(
    hearing: datetime, lead: timedelta, days_before: int, hour: int, late: str
) -> None:
    now = hearing - lead
    quiet = {"start": "20:00", "end": "09:00"}
    planned = plan(sms(days_before, f"{hour:02d}:00"), hearing, now, late=late, quiet_hours=quiet)
    if planned.status == "scheduled":
        assert planned.due_at is not None and planned.due_at < hearing
        assert not in_quiet_hours(planned.due_at, LONDON, QuietHours(**quiet))
        assert planned.due_at >= now


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2026, 1, 10), max_value=date(2028, 12, 31)))
def test_a_posting_day_is_a_working_day_that_arrives_in_time(arrive_by: date) -> None:
    posting = last_posting_day(arrive_by)
    assert is_working_day(posting) and add_working_days(posting, 4) <= arrive_by
    later = posting + timedelta(days=1)
    while not is_working_day(later):
        later += timedelta(days=1)
    assert add_working_days(later, 4) > arrive_by  # and it is the last such day
