"""The one protocol every SMS provider implements, and the values that cross it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from messages.providers.notify_errors import STOPS_RUN as NOTIFY_STOPS_RUN
from nudge.models.statuses import Reason

# Refusals that say the next text would be refused alike, whatever it is (Twilio's codes, which
# `refused` also gives a bare 401, 403 or 429): a sender stops its group there, and dispatch
# stops the run (credentials) or pauses it (rate limit), recording it once.
CREDENTIALS_REFUSED = "20003"
RATE_LIMITED = "20429"
STOPS_RUN = {
    CREDENTIALS_REFUSED: Reason.CREDENTIALS_REFUSED,
    RATE_LIMITED: Reason.RATE_LIMITED,
    **NOTIFY_STOPS_RUN,
}


@dataclass(frozen=True)
class OutgoingSms:
    """One text to send; `message_id` is ours, for the provider's records and callbacks."""

    message_id: int
    to: str
    body: str
    sender: str | None
    status_callback: str | None
    validity_seconds: int | None
    sender_id: str | None = None  # GOV.UK Notify's text sender the trial names, if it names one


@dataclass(frozen=True)
class SendReceipt:
    provider_id: str
    status: str


@dataclass(frozen=True)
class SentRecord:
    """What the provider has on record for a number: used to reconcile after a crash."""

    provider_id: str
    to: str
    body: str
    status: str
    created_at: datetime


class SmsProvider(Protocol):
    """What dispatch and recovery ask of a provider, one text at a time; pacing is theirs.

    Small enough for any SMS API: GOV.UK Notify's `send_sms_notification` takes the number,
    a template whose one placeholder holds our body and `reference=str(message_id)`, and
    returns its id; its `get_all_notifications` pages back far enough for `find_sent`.
    """

    name: str

    def send(self, sms: OutgoingSms) -> SendReceipt:
        """Send or raise ProviderError (transient, permanent, or ambiguous)."""
        ...

    def find_sent(self, to: str, since: datetime) -> list[SentRecord]:
        """Messages the provider accepted for `to` since `since`."""
        ...


@dataclass(frozen=True)
class OutgoingLetter:
    """One letter to post: our own PDF, and our message id (its reference at the provider)."""

    message_id: int
    pdf: bytes
    postage: str | None = None  # the provider's default (Notify's: second class)


class LetterProvider(Protocol):
    """A provider that prints and posts letters (GOV.UK Notify): one at a time, by reference."""

    name: str

    def send(self, letter: OutgoingLetter) -> SendReceipt:
        """Send or raise ProviderError (transient, permanent, or ambiguous)."""
        ...

    def find_reference(self, reference: str) -> SentRecord | None:
        """The letter the provider accepted with this reference, or None if it has none."""
        ...


@runtime_checkable
class FindsByReference(Protocol):
    """A provider that keeps our message id as each text's reference (GOV.UK Notify): recovery
    asks it for that reference instead of matching by number, words and time."""

    def find_reference(self, reference: str) -> SentRecord | None:
        """The text the provider accepted with this reference, or None if it has none."""
        ...
