"""The one protocol every SMS provider implements, and the values that cross it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from nudge.errors import ProviderError

# Refusals that say the next text would be refused alike, whatever it is (Twilio's codes, which
# `refused` also gives a bare 401, 403 or 429): a sender stops its group there, and dispatch
# stops the run (credentials) or pauses it (rate limit), recording it once.
CREDENTIALS_REFUSED = "20003"
RATE_LIMITED = "20429"
STOPS_RUN = {CREDENTIALS_REFUSED: "credentials_refused", RATE_LIMITED: "rate_limited"}


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


class MissedSlot:
    """A text not sent because its send slot had gone by: it is to get a new one."""

    def __repr__(self) -> str:
        return "MISSED_SLOT"


MISSED_SLOT = MissedSlot()


@runtime_checkable
class BatchSender(Protocol):
    """A provider that sends a whole group in one hand-over (the Twilio client in its own
    process, messages/providers/sender.py); dispatch prefers it to one call a text."""

    def send_many(
        self,
        texts: list[OutgoingSms],
        waits: list[float] | None,
        budget: float | None,
        late: float | None,
    ) -> list[tuple[SendReceipt | ProviderError | MissedSlot | None, float]]:
        """Send each text in turn: text i no sooner than `waits[i]` seconds after the call
        starts (a negative wait: a slot already gone by), and not once more than `late`
        seconds after that (MISSED_SLOT); none once
        `budget` seconds have passed (None). Without waits, budget or late: straight away,
        each of them. For each text: its receipt, its refusal, MISSED_SLOT or None; and the
        seconds since the call started when that was known."""
        ...
