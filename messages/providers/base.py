"""The one protocol every SMS provider implements, and the values that cross it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutgoingSms:
    """One text to send; `message_id` is ours, for the provider's records and callbacks."""

    message_id: int
    to: str
    body: str
    sender: str | None
    status_callback: str | None
    validity_seconds: int | None


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
    name: str

    def send(self, sms: OutgoingSms) -> SendReceipt:
        """Send or raise ProviderError (transient, permanent, or ambiguous)."""
        ...

    def find_sent(self, to: str, since: datetime) -> list[SentRecord]:
        """Messages the provider accepted for `to` since `since`."""
        ...
