"""Due times in the trial's timezone: clock changes, quiet hours, late enrolment, posting days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.definition import MessageSpec, QuietHours, Sending
from messages.schedule import (
    PlannedMessage,
    add_working_days,
    in_quiet_hours,
    is_working_day,
    last_posting_day,
    local_instant,
    next_allowed,
    plan_messages,
)

LONDON = ZoneInfo("Europe/London")
EVENINGS = {"start": "20:00", "end": "09:00"}  # wraps midnight, like the worked example
LUNCH = {"start": "12:00", "end": "14:00"}  # does not wrap
FAR_PAST = datetime(2027, 1, 1, tzinfo=UTC)


def sms(days_before: int, at: str | None = "18:00") -> MessageSpec:
    return MessageSpec.model_validate(
        {"channel": "sms", "template": "t", "send": {"days_before": days_before, "at": at}}
    )


def letter(days_before: int) -> MessageSpec:
    return MessageSpec.model_validate(
        {"channel": "letter", "template": "l", "send": {"days_before": days_before}}
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def plan(
    spec: MessageSpec, hearing: datetime, now: datetime = FAR_PAST, **sending: object
) -> PlannedMessage:
    sending.setdefault("quiet_hours", None)
    return plan_messages(
        [spec],
        anchors={"hearing": hearing},
        now=now,
        zone=LONDON,
        sending=Sending.model_validate(sending),
    )[0]


# --- SMS across the clock changes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("hearing", "days_before", "due"),
    [
        # Clocks go forward on Sunday 28 March 2027; the hearing is Monday 29 March, 10:00 BST.
        (utc(2027, 3, 29, 9), 1, utc(2027, 3, 28, 17)),  # 18:00 BST
        (utc(2027, 3, 29, 9), 7, utc(2027, 3, 22, 18)),  # 18:00 GMT a week before
        # Clocks go back on Sunday 31 October 2027; the hearing is Monday 1 November, 10:00 GMT.
        (utc(2027, 11, 1, 10), 1, utc(2027, 10, 31, 18)),  # 18:00 GMT
        (utc(2027, 11, 1, 10), 7, utc(2027, 10, 25, 17)),  # 18:00 BST a week before
    ],
)
def test_a_send_time_is_local_whatever_the_offset(
    hearing: datetime, days_before: int, due: datetime
) -> None:
    planned = plan(sms(days_before), hearing)
    assert (planned.status, planned.due_at, planned.expires_at) == ("scheduled", due, hearing)
    assert planned.reason is None


def test_the_hearing_day_is_its_local_date_not_its_utc_date() -> None:
    # 00:30 BST on 2 June is still 1 June in UTC: "1 day before" means 1 June local.
    planned = plan(sms(1, "10:00"), utc(2027, 6, 1, 23, 30))
    assert planned.due_at == utc(2027, 6, 1, 9)


@pytest.mark.parametrize(
    ("at", "due"),
    [
        ("00:59", utc(2027, 3, 28, 0, 59)),  # GMT, just before the change
        ("01:00", utc(2027, 3, 28, 1)),  # does not exist: the first instant after is 02:00 BST
        ("01:30", utc(2027, 3, 28, 1)),
        ("01:59", utc(2027, 3, 28, 1)),
        ("02:00", utc(2027, 3, 28, 1)),  # 02:00 BST exists
        ("02:01", utc(2027, 3, 28, 1, 1)),
    ],
)
def test_a_time_in_the_spring_gap_moves_forward_to_the_first_instant_that_exists(
    at: str, due: datetime
) -> None:
    assert local_instant(date(2027, 3, 28), at, LONDON) == due


def test_an_sms_due_in_the_spring_gap_goes_when_the_clocks_have_changed() -> None:
    planned = plan(sms(1, "01:30"), utc(2027, 3, 29, 9))
    assert (planned.status, planned.due_at, planned.reason) == (
        "scheduled",
        utc(2027, 3, 28, 1),
        None,
    )


def test_a_time_in_the_autumn_fold_takes_its_first_occurrence() -> None:
    assert local_instant(date(2027, 10, 31), "01:30", LONDON) == utc(2027, 10, 31, 0, 30)  # BST
    assert plan(sms(1, "01:30"), utc(2027, 11, 1, 10)).due_at == utc(2027, 10, 31, 0, 30)


def test_the_gap_rule_holds_for_other_zones_and_half_hour_changes() -> None:
    new_york = local_instant(date(2027, 3, 14), "02:30", ZoneInfo("America/New_York"))
    assert new_york == utc(2027, 3, 14, 7)  # 03:00 EDT
    lord_howe = local_instant(date(2027, 10, 3), "02:15", ZoneInfo("Australia/Lord_Howe"))
    assert lord_howe == utc(2027, 10, 2, 15, 30)  # 02:30 at +11:00


# --- quiet hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quiet", "at", "due", "deferred"),
    [
        (EVENINGS, "21:30", utc(2027, 6, 10, 8), True),  # to 09:00 BST next morning
        (EVENINGS, "20:00", utc(2027, 6, 10, 8), True),  # the window's start is quiet
        (EVENINGS, "19:59", utc(2027, 6, 9, 18, 59), False),
        (EVENINGS, "08:59", utc(2027, 6, 9, 8), True),  # after midnight: ends the same morning
        (EVENINGS, "09:00", utc(2027, 6, 9, 8), False),  # the window's end is allowed
        (LUNCH, "13:00", utc(2027, 6, 9, 13), True),
        (LUNCH, "12:00", utc(2027, 6, 9, 13), True),
        (LUNCH, "11:59", utc(2027, 6, 9, 10, 59), False),
        (LUNCH, "14:00", utc(2027, 6, 9, 13), False),
        (None, "03:00", utc(2027, 6, 9, 2), False),
    ],
)
def test_quiet_hours_defer_to_their_end_and_never_drop_a_message(
    quiet: dict[str, str] | None, at: str, due: datetime, deferred: bool
) -> None:
    planned = plan(sms(1, at), utc(2027, 6, 10, 12), quiet_hours=quiet)  # hearing 13:00 BST
    assert (planned.status, planned.due_at) == ("scheduled", due)
    assert planned.reason == ("quiet_hours_deferred" if deferred else None)


def test_a_deferral_across_the_spring_change_ends_at_local_morning() -> None:
    planned = plan(sms(2, "21:00"), utc(2027, 3, 29, 9), quiet_hours=EVENINGS)  # Sat 21:00 GMT
    assert planned.due_at == utc(2027, 3, 28, 8)  # Sunday 09:00 BST


@pytest.mark.parametrize(
    ("instant", "allowed"),
    [
        (utc(2027, 10, 31, 0, 15), utc(2027, 10, 31, 0, 30)),  # 01:15 BST: ends 01:30 BST
        (utc(2027, 10, 31, 1, 15), utc(2027, 10, 31, 1, 30)),  # 01:15 GMT: ends 01:30 GMT
    ],
)
def test_a_window_ending_in_the_autumn_fold_never_sends_earlier_than_asked(
    instant: datetime, allowed: datetime
) -> None:
    quiet = QuietHours(start="00:00", end="01:30")
    assert next_allowed(instant, LONDON, quiet) == allowed


def test_a_window_ending_in_the_spring_gap_ends_when_the_clocks_have_changed() -> None:
    quiet = QuietHours(start="22:00", end="01:30")
    assert next_allowed(utc(2027, 3, 28, 0, 10), LONDON, quiet) == utc(2027, 3, 28, 1)
    # Allowed only from 01:00 to 01:30, which that night does not have: the next night's.
    nearly_always = QuietHours(start="01:30", end="01:00")
    assert next_allowed(utc(2027, 3, 28, 0, 59), LONDON, nearly_always) == utc(2027, 3, 29)


def test_a_window_whose_start_is_its_end_is_empty() -> None:
    assert not in_quiet_hours(utc(2027, 6, 1, 7), LONDON, QuietHours(start="08:00", end="08:00"))


# --- the hearing's start -------------------------------------------------------------------


def test_a_message_deferred_past_the_hearing_start_is_skipped_not_sent_late() -> None:
    planned = plan(sms(1, "21:30"), utc(2027, 6, 10, 7), quiet_hours=EVENINGS)  # 08:00 BST
    assert (planned.status, planned.reason) == ("skipped", "hearing_started")


@pytest.mark.parametrize(
    ("at", "status"), [("09:59", "scheduled"), ("10:00", "skipped"), ("18:00", "skipped")]
)
def test_nothing_is_due_at_or_after_the_hearing_start(at: str, status: str) -> None:
    planned = plan(sms(0, at), utc(2027, 6, 10, 9))  # 10:00 BST
    assert planned.status == status
    assert planned.expires_at == utc(2027, 6, 10, 9)
    assert planned.reason == (None if status == "scheduled" else "hearing_started")


# --- late enrolment ----------------------------------------------------------------------


def test_late_enrolment_skip_records_the_reason() -> None:
    planned = plan(sms(7), utc(2027, 3, 10, 10), utc(2027, 3, 8, 12), late="skip")
    assert (planned.status, planned.reason) == ("skipped", "late_enrolment")


def test_late_enrolment_next_window_sends_now_when_now_is_allowed() -> None:
    now = utc(2027, 3, 8, 12)
    planned = plan(sms(7), utc(2027, 3, 10, 10), now, late="next_window", quiet_hours=EVENINGS)
    assert (planned.status, planned.due_at, planned.reason) == (
        "scheduled",
        now,
        "late_enrolment_sent_late",
    )


def test_late_enrolment_next_window_waits_for_the_end_of_quiet_hours() -> None:
    now = utc(2027, 3, 8, 21)  # 21:00 GMT: inside quiet hours
    planned = plan(sms(7), utc(2027, 3, 10, 10), now, late="next_window", quiet_hours=EVENINGS)
    assert (planned.status, planned.due_at) == ("scheduled", utc(2027, 3, 9, 9))


def test_late_enrolment_next_window_still_never_goes_after_the_hearing_start() -> None:
    hearing = utc(2027, 3, 10, 10)
    night_before = plan(
        sms(7),
        hearing,
        utc(2027, 3, 9, 23),
        late="next_window",
        quiet_hours={"start": "20:00", "end": "11:00"},
    )
    assert (night_before.status, night_before.reason) == ("skipped", "hearing_started")
    after = plan(sms(7), hearing, utc(2027, 3, 10, 11), late="next_window")
    assert (after.status, after.reason) == ("skipped", "hearing_started")


def test_a_time_not_yet_past_is_not_late() -> None:
    now = utc(2027, 3, 9, 18)  # exactly the send time
    planned = plan(sms(1), utc(2027, 3, 10, 10), now, late="skip")
    assert (planned.status, planned.due_at, planned.reason) == ("scheduled", now, None)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        plan(sms(1), datetime(2027, 3, 10, 10))


def test_every_spec_is_planned_in_slot_order() -> None:
    specs = [sms(7), letter(14), sms(1)]
    planned = plan_messages(
        specs,
        anchors={"hearing": utc(2027, 6, 30, 9)},
        now=FAR_PAST,
        zone=LONDON,
        sending=Sending(),
    )
    assert [(p.slot, p.channel, p.template) for p in planned] == [
        (0, "sms", "t"),
        (1, "letter", "l"),
        (2, "sms", "t"),
    ]


# --- working days and letters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 4, 6), False),  # Easter Monday
        (date(2026, 12, 28), False),  # Boxing Day (a Saturday) observed on Monday
        (date(2027, 3, 26), False),  # Good Friday
        (date(2027, 3, 29), False),  # Easter Monday
        (date(2027, 3, 30), True),
        (date(2027, 8, 30), False),  # late summer bank holiday
        (date(2027, 12, 27), False),  # Christmas Day (a Saturday) observed
        (date(2027, 12, 28), False),  # Boxing Day (a Sunday) observed
        (date(2027, 12, 29), True),
        (date(2028, 1, 3), False),  # New Year's Day (a Saturday) observed
        (date(2028, 5, 1), False),  # early May bank holiday
        (date(2028, 12, 26), False),
        (date(2027, 6, 5), False),  # a Saturday
        (date(2027, 6, 6), False),  # a Sunday
        (date(2027, 6, 7), True),
    ],
)
def test_working_days_skip_weekends_and_england_and_wales_bank_holidays(
    day: date, working: bool
) -> None:
    assert is_working_day(day) is working


def test_working_days_are_counted_over_bank_holidays() -> None:
    assert add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)  # over Easter
    assert add_working_days(date(2027, 6, 4), 1) == date(2027, 6, 7)  # over a weekend
    assert add_working_days(date(2027, 12, 23), 4) == date(2027, 12, 31)


@pytest.mark.parametrize(
    ("arrive_by", "posting"),
    [
        (date(2027, 11, 15), date(2027, 11, 9)),  # Monday: posted the Tuesday before
        (date(2027, 11, 14), date(2027, 11, 8)),  # Sunday: must arrive by Friday 12th
        (date(2027, 3, 30), date(2027, 3, 22)),  # over Good Friday and Easter Monday
        (date(2027, 4, 1), date(2027, 3, 24)),
        (date(2027, 12, 31), date(2027, 12, 23)),  # over the Christmas substitute days
        (date(2028, 1, 4), date(2027, 12, 24)),  # and New Year's substitute day
    ],
)
def test_the_last_posting_day_arrives_in_time(arrive_by: date, posting: date) -> None:
    assert last_posting_day(arrive_by) == posting


def test_a_letter_is_posted_at_nine_on_the_last_working_day_that_arrives_in_time() -> None:
    # Arrive by Tuesday 30 March 2027 (hearing Tuesday 13 April, 14 days before): Good Friday
    # and Easter Monday are bank holidays, so the last posting day is Monday 22 March.
    planned = plan(letter(14), utc(2027, 4, 13, 9))
    assert (planned.status, planned.reason) == ("scheduled", None)
    assert planned.due_at == utc(2027, 3, 22, 9)  # 09:00 GMT
    assert planned.expires_at == utc(2027, 3, 23, 0)


def test_a_summer_letter_is_due_at_nine_summer_time() -> None:
    planned = plan(letter(7), utc(2027, 6, 16, 9))  # arrive by Wednesday 9 June
    assert planned.due_at == utc(2027, 6, 3, 8)  # Thursday 3 June, 09:00 BST
    assert planned.expires_at == utc(2027, 6, 3, 23)


def test_a_letter_enrolled_on_its_posting_day_is_due_at_once() -> None:
    now = utc(2027, 3, 22, 14)
    planned = plan(letter(14), utc(2027, 4, 13, 9), now, late="skip")
    assert (planned.status, planned.due_at, planned.reason) == ("scheduled", now, None)


def test_a_letter_past_its_posting_day_is_skipped_when_late_is_skip() -> None:
    planned = plan(letter(14), utc(2027, 4, 13, 9), utc(2027, 3, 25, 12), late="skip")
    assert (planned.status, planned.reason) == ("skipped", "late_enrolment")


def test_a_late_letter_is_posted_on_the_next_working_day_if_it_arrives_before_the_hearing() -> None:
    saturday = utc(2027, 3, 27, 12)  # Easter Saturday: next working day is Tuesday 30 March
    planned = plan(letter(14), utc(2027, 4, 13, 9), saturday, late="next_window")
    assert (planned.status, planned.reason) == ("scheduled", "late_enrolment_sent_late")
    assert (planned.due_at, planned.expires_at) == (utc(2027, 3, 30, 8), utc(2027, 3, 30, 23))
    weekday = utc(2027, 3, 24, 12)
    assert plan(letter(14), utc(2027, 4, 13, 9), weekday, late="next_window").due_at == weekday


def test_a_late_letter_that_would_arrive_on_the_hearing_day_is_skipped() -> None:
    # Posted Thursday 8 April it arrives Wednesday 14th; posted Wednesday 7th, Tuesday 13th.
    for now in (utc(2027, 4, 7, 12), utc(2027, 4, 8, 12)):
        planned = plan(letter(14), utc(2027, 4, 13, 9), now, late="next_window")
        assert (planned.status, planned.reason) == ("skipped", "late_enrolment")
    planned = plan(letter(14), utc(2027, 4, 13, 9), utc(2027, 4, 6, 12), late="next_window")
    assert planned.status == "scheduled"  # arrives Monday 12th


# --- properties ----------------------------------------------------------------------------

clock_times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
quiet_windows = st.one_of(
    st.none(),
    st.tuples(clock_times, clock_times)
    .filter(lambda pair: pair[0] != pair[1])
    .map(lambda pair: QuietHours(start=pair[0], end=pair[1])),
)
instants = st.datetimes(
    min_value=datetime(2026, 2, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from(
    [LONDON, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC")]
)


@settings(max_examples=400, deadline=None)
@given(
    hearing=instants,
    lead=st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=40)),
    days_before=st.integers(0, 21),
    at=clock_times,
    late=st.sampled_from(["skip", "next_window"]),
    quiet=quiet_windows,
)
def test_a_scheduled_sms_is_never_in_quiet_hours_never_late_and_never_in_the_past(
    hearing: datetime,
    lead: timedelta,
    days_before: int,
    at: str,
    late: str,
    quiet: QuietHours | None,
) -> None:
    now = hearing - lead
    sending = Sending(quiet_hours=quiet, late=late)  # type: ignore[arg-type]
    [planned] = plan_messages(
        [sms(days_before, at)], anchors={"hearing": hearing}, now=now, zone=LONDON, sending=sending
    )
    assert planned.expires_at == hearing
    if planned.status == "scheduled":
        assert planned.due_at is not None and now <= planned.due_at < hearing
        assert not in_quiet_hours(planned.due_at, LONDON, quiet)
    elif late == "next_window":
        assert planned.reason == "hearing_started"
    else:
        assert planned.reason in ("hearing_started", "late_enrolment")


@settings(max_examples=300, deadline=None)
@given(
    hearing=instants,
    lead=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    days_before=st.integers(0, 21),
    late=st.sampled_from(["skip", "next_window"]),
)
def test_a_scheduled_letter_is_posted_on_a_working_day_and_arrives_in_time(
    hearing: datetime, lead: timedelta, days_before: int, late: str
) -> None:
    now = hearing - lead
    [planned] = plan_messages(
        [letter(days_before)],
        anchors={"hearing": hearing},
        now=now,
        zone=LONDON,
        sending=Sending(late=late),  # type: ignore[arg-type]
    )
    if planned.status == "skipped":
        assert planned.reason == "late_enrolment"
        return
    assert planned.due_at is not None and planned.expires_at is not None
    posting = planned.due_at.astimezone(LONDON).date()
    hearing_day = hearing.astimezone(LONDON).date()
    assert is_working_day(posting) and now <= planned.due_at < planned.expires_at
    assert planned.expires_at == local_instant(posting + timedelta(days=1), "00:00", LONDON)
    if planned.reason is None:
        assert add_working_days(posting, 4) <= hearing_day - timedelta(days=days_before)
    else:
        assert add_working_days(posting, 4) < hearing_day


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2026, 1, 10), max_value=date(2028, 12, 31)))
def test_a_posting_day_is_the_last_working_day_that_arrives_in_time(arrive_by: date) -> None:
    posting = last_posting_day(arrive_by)
    assert is_working_day(posting) and add_working_days(posting, 4) <= arrive_by
    later = posting + timedelta(days=1)
    while not is_working_day(later):
        later += timedelta(days=1)
    assert add_working_days(later, 4) > arrive_by


@settings(max_examples=400, deadline=None)
@given(instant=instants, zone=zones, quiet=quiet_windows)
def test_next_allowed_is_the_first_instant_outside_quiet_hours(
    instant: datetime, zone: ZoneInfo, quiet: QuietHours | None
) -> None:
    instant = instant.replace(second=0, microsecond=0)
    allowed = next_allowed(instant, zone, quiet)
    assert allowed >= instant and not in_quiet_hours(allowed, zone, quiet)
    if allowed > instant:  # the minute before it was still quiet: it is the window's end
        assert in_quiet_hours(allowed - timedelta(minutes=1), zone, quiet)


@settings(max_examples=400, deadline=None)
@given(
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    zone=zones,
    first=clock_times,
    second=clock_times,
)
def test_local_instant_keeps_the_wall_clock_and_the_order_of_times(
    day: date, zone: ZoneInfo, first: str, second: str
) -> None:
    early, late = sorted((first, second))
    assert local_instant(day, early, zone) <= local_instant(day, late, zone)
    instant = local_instant(day, early, zone)
    wall = instant.astimezone(zone).replace(tzinfo=None)
    asked = datetime.combine(day, time.fromisoformat(early))
    assert wall == asked or (wall > asked and wall - asked <= timedelta(hours=1))
