"""Letters through GOV.UK Notify on its official client: each letter our own PDF, sent as a
precompiled letter with our message id as its `reference`.

Notify needs no template for a precompiled letter, only the API key (a live key: a team key's
letters are refused). Its errors are sorted by the same table as texts' (notify_errors.py),
and after a crash recovery asks Notify for the reference, as for texts. Log lines name only
our message id and Notify's id: never an address.
"""

from __future__ import annotations

import logging
from io import BytesIO

from notifications_python_client.notifications import NotificationsAPIClient

from messages.providers.base import OutgoingLetter, SendReceipt, SentRecord
from messages.providers.notify import TIMEOUT_S, accepted_id, find_reference
from nudge.config import NOTIFY_API

log = logging.getLogger(__name__)


class NotifyLetterProvider:
    name = "notify"

    def __init__(
        self, api_key: str, *, base_url: str = NOTIFY_API, timeout: float = TIMEOUT_S
    ) -> None:
        self.client = NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout)

    def send(self, letter: OutgoingLetter) -> SendReceipt:
        notification_id = accepted_id(
            lambda: self.client.send_precompiled_letter_notification(
                reference=str(letter.message_id),
                pdf_file=BytesIO(letter.pdf),
                postage=letter.postage,
            )
        )
        log.info("Notify accepted letter %s as %s", letter.message_id, notification_id)
        return SendReceipt(notification_id, "pending-virus-check")

    def find_reference(self, reference: str) -> SentRecord | None:
        """Notify's letter with this reference, if it accepted one (the newest, if several)."""
        return find_reference(self.client, "letter", reference)
