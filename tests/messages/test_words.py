"""Every status and reason code has words, so no page ever shows a bare code."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from messages.words import (
    REASON_GLOSSARY,
    REASON_WORDS,
    STATUS_GLOSSARY,
    STATUS_WORDS,
    local_time,
    message_state,
    reason_label,
    status_label,
)
from nudge.models import MessageStatus, Reason, provider_reason

LONDON = ZoneInfo("Europe/London")


def test_every_status_and_every_reason_has_words_and_a_meaning() -> None:
    assert set(STATUS_WORDS) == set(MessageStatus)
    assert set(REASON_WORDS) == set(Reason)
    for words in [*STATUS_WORDS.values(), *REASON_WORDS.values()]:
        assert words.label.strip() and words.meaning.endswith(".")


@pytest.mark.parametrize(
    "labels",
    [[w.label for w in STATUS_WORDS.values()], [w.label for w in REASON_WORDS.values()]],
)
def test_no_two_codes_read_alike(labels: list[str]) -> None:
    assert len(set(labels)) == len(labels)


def test_the_glossary_lists_each_code_once_and_the_provider_errors() -> None:
    assert [e.code for e in STATUS_GLOSSARY] == [s.value for s in MessageStatus]
    codes = [e.code for e in REASON_GLOSSARY]
    assert codes == [*(r.value for r in Reason), provider_reason("30003")]


@pytest.mark.parametrize(
    ("status", "reason", "shown"),
    [
        ("cancelled", "opted_out", "Cancelled before sending: the person opted out"),
        (
            MessageStatus.SKIPPED,
            Reason.LATE_ENROLMENT,
            "Never to be sent: enrolled too late for it",
        ),
        ("failed", provider_reason("30007"), "Failed: provider error 30007"),
        ("delivered", None, "Delivered"),
        ("scheduled", "quiet_hours_deferred", "Waiting to be sent: moved out of quiet hours"),
    ],
)
def test_a_message_state_reads_as_one_phrase(status: str, reason: str | None, shown: str) -> None:
    assert message_state(status, reason) == shown


def test_a_code_without_words_is_shown_as_itself_rather_than_hidden() -> None:
    assert status_label("archived") == "archived"
    assert reason_label("court_closed") == "court_closed"
    assert reason_label("provider_") == "provider_"


def test_a_time_is_local_and_joined_by_no_break_spaces() -> None:
    summer = local_time(datetime(2027, 3, 28, 17, 0, tzinfo=UTC), LONDON)
    assert summer == "Sun\u00a028\u00a0Mar\u00a02027\u00a018:00\u00a0BST"
    assert local_time(None, LONDON) == ""
