"""Journeys, planned: any anchor, before or after, in days or hours, and event texts; across the
clock changes of 2027 (Sunday 28 March: GMT to BST at 01:00 UTC; Sunday 31 October: back)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from experiments.definition import MessageSpec, Sending
from messages.endings import stop_reason
from messages.preview import when_sent
from messages.schedule import plan_event, plan_messages
from nudge.models.statuses import Reason, Timing

LONDON = ZoneInfo("Europe/London")
FAR_PAST = datetime(2026, 1, 1, tzinfo=UTC)
QUIET = Sending.model_validate({"quiet_hours": {"start": "20:00", "end": "09:00"}})
NO_QUIET = Sending.model_validate({"quiet_hours": None})


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=UTC)


def spec(channel: str = "sms", **given: Any) -> MessageSpec:
    return MessageSpec.model_validate({"channel": channel, "template": "t", **given})


@pytest.mark.parametrize(
    ("send", "anchors", "due"),
    [
        # Days keep the local time: 18:00 BST the day before a Monday 29 March hearing.
        ({"days_before": 1, "at": "18:00"}, {"hearing": utc(3, 29, 9)}, utc(3, 28, 17)),
        # ... and 10:00 BST two days after a charge on Friday 26 March (GMT), on the Sunday.
        (
            {"days_after": 2, "of": "charged", "at": "10:00"},
            {"charged": utc(3, 26, 15)},
            utc(3, 28, 9),
        ),
        # In October the other way: charged Friday 29 October (BST), 10:00 GMT on the Sunday.
        (
            {"days_after": 2, "of": "charged", "at": "10:00"},
            {"charged": utc(10, 29, 14)},
            utc(10, 31, 10),
        ),
        # Without `at`, days go at 10:00 local.
        ({"days_after": 0, "of": "verdict"}, {"verdict": utc(10, 31, 9)}, utc(10, 31, 10)),
        # Three days before a sentence on Tuesday 2 November (GMT): Saturday 30 October, 18:00 BST.
        (
            {"days_before": 3, "of": "sentence", "at": "18:00"},
            {"sentence": utc(11, 2, 10)},
            utc(10, 30, 17),
        ),
        # Hours are elapsed hours: two after a verdict at 00:30 GMT is 02:30 UTC, 03:30 BST.
        ({"hours_after": 2, "of": "verdict"}, {"verdict": utc(3, 28, 0, 30)}, utc(3, 28, 2, 30)),
        # 36 hours before Monday 1 November 10:00 GMT is Saturday 23:00 BST, not 22:00.
        ({"hours_before": 36}, {"hearing": utc(11, 1, 10)}, utc(10, 30, 22)),
    ],
)
def test_a_schedule_of_each_kind_keeps_its_meaning_across_the_clock_changes(
    send: dict[str, Any], anchors: dict[str, datetime], due: datetime
) -> None:
    [planned] = plan_messages(
        [spec(send=send)], anchors=anchors, now=FAR_PAST, zone=LONDON, sending=NO_QUIET
    )
    assert (planned.status, planned.due_at, planned.reason) == ("scheduled", due, None)
    assert planned.anchor_at == next(iter(anchors.values()))


def test_what_a_message_counts_from_and_how_is_kept_with_its_plan() -> None:
    specs = [
        spec(send={"days_before": 7, "at": "18:00"}),
        spec(send={"hours_after": 2, "of": "verdict"}),
        spec(on="hearing_moved"),
    ]
    planned = plan_messages(
        specs,
        anchors={"hearing": utc(3, 29, 9), "verdict": utc(4, 2, 15)},
        now=FAR_PAST,
        zone=LONDON,
        sending=NO_QUIET,
    )
    assert [(p.slot, p.anchor, p.timing) for p in planned] == [
        (0, "hearing", Timing.BEFORE),
        (1, "verdict", Timing.AFTER),
    ]


def test_a_message_whose_milestone_has_no_date_yet_waits_and_later_slots_keep_their_place() -> None:
    specs = [
        spec(send={"days_after": 2, "of": "charged", "at": "10:00"}),
        spec(send={"days_before": 7, "at": "18:00"}),
    ]
    planned = plan_messages(
        specs, anchors={"hearing": utc(3, 29, 9)}, now=FAR_PAST, zone=LONDON, sending=NO_QUIET
    )
    assert [(p.slot, p.anchor) for p in planned] == [(1, "hearing")]


def test_news_is_worth_a_day_and_a_countdown_ends_at_its_anchor() -> None:
    after, before = plan_messages(
        [
            spec(send={"hours_after": 2, "of": "verdict"}),
            spec(send={"days_before": 3, "of": "sentence", "at": "18:00"}),
        ],
        anchors={"verdict": utc(6, 1, 12), "sentence": utc(6, 10, 9)},
        now=FAR_PAST,
        zone=LONDON,
        sending=NO_QUIET,
    )
    assert after.expires_at == utc(6, 2, 14)
    assert before.expires_at == utc(6, 10, 9)


def test_a_countdown_to_a_milestone_too_near_to_be_useful_is_skipped_as_expired() -> None:
    [planned] = plan_messages(
        [spec(send={"hours_before": 1, "of": "sentence"})],
        anchors={"sentence": utc(6, 10, 7, 30)},  # 08:30 BST: an hour before is in quiet hours
        now=FAR_PAST,
        zone=LONDON,
        sending=QUIET,
    )
    assert (planned.status, planned.reason) == ("skipped", "expired")


@pytest.mark.parametrize(
    ("late", "expected"),
    [
        ("skip", ("skipped", "late_enrolment")),
        ("next_window", ("scheduled", "late_enrolment_sent_late")),
    ],
)
def test_a_milestone_recorded_after_its_message_was_due_follows_the_late_rule(
    late: str, expected: tuple[str, str]
) -> None:
    now = utc(5, 10, 12)  # the charge of 3 May recorded a week later
    sending = Sending.model_validate({"quiet_hours": None, "late": late})
    [planned] = plan_messages(
        [spec(send={"days_after": 2, "of": "charged", "at": "10:00"})],
        anchors={"charged": utc(5, 3, 15)},
        now=now,
        zone=LONDON,
        sending=sending,
    )
    assert (planned.status, planned.reason) == expected
    if late == "next_window":
        assert planned.due_at == now


def test_a_letter_after_a_milestone_is_posted_on_the_next_working_day() -> None:
    # Charged Thursday 25 March 2027; a day later is Good Friday, then Easter Monday: Tuesday.
    [planned] = plan_messages(
        [spec("letter", send={"days_after": 1, "of": "charged"})],
        anchors={"charged": utc(3, 25, 15)},
        now=FAR_PAST,
        zone=LONDON,
        sending=NO_QUIET,
    )
    assert (planned.due_at, planned.expires_at) == (utc(3, 30, 8), utc(3, 30, 23))


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (utc(3, 27, 22), utc(3, 28, 8)),  # Saturday 22:00 GMT: 09:00 BST on Sunday
        (utc(10, 30, 20), utc(10, 31, 9)),  # Saturday 21:00 BST: 09:00 GMT on Sunday
        (utc(10, 31, 12), utc(10, 31, 12)),  # outside quiet hours: at once
    ],
)
def test_quiet_hours_defer_an_event_text_across_the_clock_changes(
    now: datetime, due: datetime
) -> None:
    planned = plan_event(
        0,
        spec(on="hearing_moved"),
        anchor_at=utc(12, 2, 10),
        expires_at=utc(12, 9, 10),
        now=now,
        zone=LONDON,
        sending=QUIET,
    )
    assert (planned.status, planned.due_at) == ("scheduled", due)
    assert planned.reason == (None if due == now else Reason.QUIET_HOURS_DEFERRED)
    assert (planned.anchor, planned.timing, planned.anchor_at) == (
        "hearing",
        Timing.HEARING_MOVED,
        utc(12, 2, 10),
    )


def test_an_event_text_that_could_only_go_after_its_hearing_is_skipped() -> None:
    # Vacated at 21:00 the night before a 09:30 hearing: quiet hours end at 09:00, in time;
    # for a 08:30 hearing they end too late.
    on_time, too_late = (
        plan_event(
            0,
            spec(on="hearing_vacated"),
            anchor_at=start,
            expires_at=start,
            now=utc(6, 9, 20),
            zone=LONDON,
            sending=QUIET,
        )
        for start in (utc(6, 10, 8, 30), utc(6, 10, 7, 30))
    )
    assert (on_time.status, on_time.due_at) == ("scheduled", utc(6, 10, 8))
    assert (too_late.status, too_late.reason) == ("skipped", "hearing_started")


def test_a_milestones_event_text_is_news_for_a_day() -> None:
    planned = plan_event(
        2,
        spec(on="milestone charged"),
        anchor_at=utc(6, 1),
        expires_at=None,
        now=utc(6, 3, 12),
        zone=LONDON,
        sending=QUIET,
    )
    assert (planned.slot, planned.anchor, planned.timing) == (2, "charged", Timing.MILESTONE)
    assert planned.expires_at == utc(6, 4, 12)


VERDICT_ORDER = ["charged", "trial_listed", "verdict", "sentence"]


@pytest.mark.parametrize(
    ("anchor", "timing", "hearing", "reached", "expected"),
    [
        # Vacated: the hearing's own messages stop; the case and its milestones go on.
        ("hearing", Timing.BEFORE, "vacated", (), Reason.HEARING_VACATED),
        ("hearing", Timing.HEARING_MOVED, "vacated", (), Reason.HEARING_VACATED),
        ("hearing", Timing.HEARING_VACATED, "vacated", (), None),
        ("charged", Timing.AFTER, "vacated", (), None),
        # Withdrawn or discontinued: only "you no longer need to come".
        ("hearing", Timing.BEFORE, "withdrawn", (), Reason.CASE_ENDED),
        ("hearing", Timing.AFTER, "discontinued", (), Reason.CASE_ENDED),
        ("verdict", Timing.AFTER, "withdrawn", (), Reason.CASE_ENDED),
        ("hearing", Timing.HEARING_VACATED, "discontinued", (), None),
        # Concluded: a thank-you after the hearing goes, a reminder does not.
        ("hearing", Timing.AFTER, "concluded", (), None),
        ("hearing", Timing.BEFORE, "concluded", (), Reason.CASE_ENDED),
        ("charged", Timing.AFTER, "concluded", (), Reason.CASE_ENDED),
        ("sentence", Timing.BEFORE, "concluded", (), None),
        # A verdict: its own messages and the sentence's go; the charge's stop.
        ("verdict", Timing.AFTER, "listed", ("verdict",), None),
        ("verdict", Timing.MILESTONE, "listed", ("verdict",), None),
        ("sentence", Timing.BEFORE, "listed", ("verdict",), None),
        ("charged", Timing.AFTER, "listed", ("charged", "verdict"), Reason.CASE_ENDED),
        ("hearing", Timing.BEFORE, "listed", ("verdict",), Reason.CASE_ENDED),
        ("hearing", Timing.AFTER, "effective", ("verdict",), None),
        # A case still going: nothing stops; a "need not come" text for a hearing on again does.
        ("charged", Timing.AFTER, "listed", ("charged",), None),
        ("hearing", Timing.HEARING_VACATED, "listed", (), Reason.DATES_CHANGED),
    ],
)
def test_what_still_makes_sense_when_a_hearing_is_off_or_a_case_ends(
    anchor: str, timing: Timing, hearing: str, reached: tuple[str, ...], expected: Reason | None
) -> None:
    assert stop_reason(anchor, timing, hearing, reached=reached, declared=VERDICT_ORDER) == expected


def test_the_last_check_leaves_a_milestones_message_to_the_import_that_ended_the_case() -> None:
    assert stop_reason("charged", Timing.AFTER, "concluded") is None
    assert stop_reason("charged", Timing.AFTER, "concluded", declared=VERDICT_ORDER) == "case_ended"


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"send": {"days_before": 7, "at": "18:00"}}, "7 days before the hearing at 18:00"),
        ({"send": {"days_after": 1, "of": "charged"}}, "1 day after the charged milestone"),
        ({"send": {"hours_after": 2, "of": "verdict"}}, "2 hours after the verdict milestone"),
        ({"on": "hearing_moved"}, "when the hearing moves"),
        ({"on": "milestone verdict"}, "when the verdict milestone is recorded"),
    ],
)
def test_a_previews_timing_reads_as_words(given: dict[str, Any], words: str) -> None:
    assert when_sent(spec(**given)) == words
