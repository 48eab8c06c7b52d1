"""The words a person's timeline uses for what is stored: a table of codes and what they read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from analysis.labels import Labels
from analysis.timeline_words import (
    change_title,
    cluster_words,
    event_words,
    source_words,
    status_words,
    stratum_words,
)
from experiments.loader import LoadedTrial, load_trial_file
from nudge.models import HearingChange, MessageEvent
from tests.conftest import EXAMPLE

NOW = datetime(2027, 3, 4, 18, tzinfo=UTC)
MARCH_4, MARCH_11 = datetime(2027, 3, 4, 10, tzinfo=UTC), datetime(2027, 3, 11, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "reason", "words"),
    [
        ("sent", None, "Sent"),
        ("cancelled", "opted_out", "Cancelled before sending: the person opted out"),
        ("superseded", "hearing_moved", "Replaced: the hearing moved"),
        ("undelivered", "provider_30003", "Not delivered: provider error 30003"),
        ("scheduled", "quiet_hours_deferred", "Waiting to be sent: moved out of quiet hours"),
        ("retry", None, "To be tried again"),
    ],
)
def test_a_status_and_its_reason_read_as_words(status: str, reason: str | None, words: str) -> None:
    assert status_words(status, reason) == words


def event(status: str, **fields: Any) -> MessageEvent:
    return MessageEvent(message_id=1, status=status, occurred_at=NOW, **fields)


@pytest.mark.parametrize(
    ("stored", "words"),
    [
        (event("sending"), "Being sent"),
        (event("delivered", detail={"source": "callback"}), "Delivered (reported by the provider)"),
        (
            event("queued", provider_status="queued", detail={"source": "callback"}),
            "The provider reported it queued",
        ),
        (
            event("retry", error_code="20429", detail={"error": "20429 Too many requests"}),
            "To be tried again (provider error 20429)",
        ),
        (
            event(
                "scheduled",
                detail={"note": "not attempted before the group's time ran out"},
            ),
            "Waiting to be sent (not attempted before the group's time ran out)",
        ),
    ],
)
def test_a_message_event_reads_as_its_status_and_why(stored: MessageEvent, words: str) -> None:
    assert event_words(stored) == words


def test_the_providers_error_text_never_shows_only_its_code() -> None:
    refused = event(
        "failed",
        error_code="21211",
        detail={
            "reason": "invalid_number",
            "error": "21211 The 'To' number +447700900123 is not a valid phone number.",
        },
    )
    assert event_words(refused) == "Failed: not a valid phone number (provider error 21211)"


def change(previous: str, status: str, starts_at: datetime = MARCH_4) -> HearingChange:
    return HearingChange(
        hearing_id=1,
        previous_status=previous,
        previous_starts_at=MARCH_4,
        status=status,
        starts_at=starts_at,
        recorded_at=NOW,
        source="hearings:list.csv",
    )


@pytest.mark.parametrize(
    ("stored", "title"),
    [
        (change("listed", "adjourned", MARCH_11), "Hearing moved"),
        (change("listed", "vacated"), "Hearing vacated"),
        (change("adjourned", "concluded", MARCH_11), "Hearing concluded"),
        (change("vacated", "listed", MARCH_11), "Hearing listed again"),
        (change("listed", "effective"), "Hearing effective"),
    ],
)
def test_a_hearing_change_is_titled_by_what_it_did(stored: HearingChange, title: str) -> None:
    assert change_title(stored) == title


def example_labels() -> Labels:
    loaded = load_trial_file(EXAMPLE)
    assert isinstance(loaded, LoadedTrial), loaded
    return Labels.of(loaded.definition)


def test_a_stratum_key_reads_as_its_values_with_escapes_undone_and_contacts_hidden() -> None:
    words = stratum_words("court=BRS%7CNorth%3D1|postcode=BS1%201AA", example_labels())
    assert words == "court BRS|North=1, postcode hidden (a contact detail)"


@pytest.mark.parametrize(
    ("unit", "value", "words"),
    [
        ("case", "C00001", "everyone in case C00001"),
        ("officer", "PC 123", "everyone with officer PC 123"),
        ("postcode", "BS1 1AA", "everyone with the same postcode (hidden: a contact detail)"),
    ],
)
def test_a_cluster_names_the_shared_value_unless_it_is_a_contact_detail(
    unit: str, value: str, words: str
) -> None:
    assert cluster_words(unit, value) == words


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("hearings:list.csv", "court-list update list.csv"),
        ("enrol:people.csv", "enrolment file people.csv"),
        ("outcomes:march.csv", "outcomes file march.csv"),
        ("survey:confidence", "answer to the survey question confidence"),
        ("demo", "demo"),
    ],
)
def test_where_a_record_came_from_reads_as_the_kind_of_file(source: str, words: str) -> None:
    assert source_words(source) == words
