"""The one rule for a refused text or letter through Notify (messages/dispatch.py's
`retry_or_reason`, used by both paths): when it is tried again, and when it fails and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from messages.dispatch import MAX_ATTEMPTS, PERMANENT, retry_or_reason
from messages.providers.notify_errors import PERMANENT as NOTIFY_PERMANENT
from nudge.errors import ProviderError
from nudge.models import Reason

NOW = datetime(2027, 2, 12, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
SERVER = ProviderError("Notify had a server error", code="notify-5xx", transient=True)


@pytest.mark.parametrize(
    ("attempt", "wait"),
    [(1, timedelta(minutes=1)), (2, timedelta(minutes=2)), (6, timedelta(minutes=32))],
)
def test_a_transient_refusal_is_tried_again_after_30_seconds_doubling_each_attempt(
    attempt: int, wait: timedelta
) -> None:
    assert retry_or_reason(SERVER, attempt, LATER, NOW) == NOW + wait
    assert retry_or_reason(SERVER, attempt, LATER, NOW, NOTIFY_PERMANENT) == NOW + wait


def test_the_wait_is_at_most_an_hour_and_tries_or_time_running_out_fail_it_expired() -> None:
    assert retry_or_reason(SERVER, 7, LATER, NOW) == NOW + timedelta(hours=1)  # not 64 minutes
    assert retry_or_reason(SERVER, MAX_ATTEMPTS, LATER, NOW) == Reason.EXPIRED
    # The retry would come after the message expires (a letter's posting day is over).
    assert retry_or_reason(SERVER, 1, NOW + timedelta(seconds=60), NOW) == Reason.EXPIRED


def test_a_permanent_code_fails_with_its_reason_and_anything_else_is_provider_rejected() -> None:
    invalid = ProviderError("not a mobile", code="21211")
    assert retry_or_reason(invalid, 1, LATER, NOW) == Reason.INVALID_NUMBER == PERMANENT["21211"]
    # The Notify letter path passes Notify's table alone: a Twilio code means nothing there.
    assert retry_or_reason(invalid, 1, LATER, NOW, NOTIFY_PERMANENT) == Reason.PROVIDER_REJECTED
    refused = ProviderError("Notify refused it", code="notify-400")
    assert retry_or_reason(refused, 1, LATER, NOW, NOTIFY_PERMANENT) == Reason.PROVIDER_REJECTED
    # A code with a permanent reason is never retried, even when marked transient.
    stubborn = ProviderError("opted out", code="21610", transient=True)
    assert retry_or_reason(stubborn, 1, LATER, NOW) == Reason.OPTED_OUT
