"""Texts through GOV.UK Notify on its official client, each carrying our message id as its
`reference`, with Notify's errors sorted by the one table in notify_errors.py.

Nudge renders its own texts: the Notify template's whole body is one placeholder, `((body))`,
filled with ours. Notify keeps the reference with the notification, so after a crash recovery
asks Notify for it (`find_reference`) instead of matching by number, words and time.
Log lines name only our message id and Notify's id: never a number or a text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests
from notifications_python_client.errors import APIError, InvalidResponse
from notifications_python_client.notifications import NotificationsAPIClient

from messages.providers.base import OutgoingSms, SendReceipt, SentRecord
from messages.providers.notify_errors import refusal_for
from messages.providers.transport import never_connected
from nudge.config import NOTIFY_API
from nudge.errors import ProviderError

log = logging.getLogger(__name__)
TIMEOUT_S = 15.0
PLACEHOLDER = "body"  # the template's one placeholder: ((body))


def accepted_id(post: Callable[[], object]) -> str:
    """Notify's id for the notification `post` creates, its errors sorted by the one table: a
    reply that cannot be read, or has no id, may mean it was created (recovery asks)."""
    try:
        created = post()
    except InvalidResponse:  # a garbled reply to a request that arrived
        raise ProviderError(
            "Notify's reply could not be read", transient=True, ambiguous=True
        ) from None
    except APIError as error:
        raise refused(error) from None
    notification_id = created.get("id") if isinstance(created, dict) else None
    if not notification_id:
        raise ProviderError("Notify's reply had no id", transient=True, ambiguous=True)
    return str(notification_id)


class NotifyProvider:
    name = "notify"

    def __init__(
        self,
        api_key: str,
        template_id: str,
        *,
        sender_id: str | None = None,
        base_url: str = NOTIFY_API,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.template_id, self.sender_id = template_id, sender_id
        self.client = NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout)

    def send(self, sms: OutgoingSms) -> SendReceipt:
        notification_id = accepted_id(
            lambda: self.client.send_sms_notification(
                phone_number=sms.to,
                template_id=self.template_id,
                personalisation={PLACEHOLDER: sms.body},
                reference=str(sms.message_id),
                sms_sender_id=sms.sender_id or self.sender_id,  # the trial's, else the setting
            )
        )
        log.info("Notify accepted message %s as %s", sms.message_id, notification_id)
        return SendReceipt(notification_id, "created")

    def find_reference(self, reference: str) -> SentRecord | None:
        """Notify's text with this reference, if it accepted one (the newest, if several)."""
        return find_reference(self.client, "sms", reference)

    def find_sent(self, to: str, since: datetime) -> list[SentRecord]:
        """Notify cannot list by number; recovery asks it by reference (`find_reference`)."""
        raise ProviderError("Notify is asked by reference, not by number", transient=True)


def refused(error: APIError) -> ProviderError:
    """Notify answered with an error (the table), or never answered (transport)."""
    if error.response is None:
        cause = error.__cause__
        if isinstance(cause, BaseException) and never_connected(cause):
            return ProviderError("could not connect to Notify", transient=True)
        kind = type(cause).__name__ if cause else "no reply"
        return ProviderError(
            f"no complete reply from Notify ({kind})", transient=True, ambiguous=True
        )
    name, text = _first_error(error.response)
    refusal = refusal_for(error.status_code, name, text)
    if refusal.reason is not None and refusal.transient:
        log.warning("Notify refused a request with HTTP %s, %s", error.status_code, name)
    return ProviderError(
        f"{refusal.description} (HTTP {error.status_code} {name})".strip(),
        code=refusal.code,
        transient=refusal.transient,
    )


def _first_error(response: requests.Response) -> tuple[str, str]:
    """Notify's first error name and message; the message is matched, never logged (it can
    quote what we sent)."""
    try:
        body: Any = response.json()
        first = body["errors"][0]
        return str(first.get("error") or ""), str(first.get("message") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return "", ""


def find_reference(
    client: NotificationsAPIClient, template_type: str, reference: str
) -> SentRecord | None:
    """Notify's notification of this type with this reference, if it accepted one (the
    newest, if several); a letter's record has no number or words: only its id and times."""
    try:
        found = client.get_all_notifications(template_type=template_type, reference=reference)
    except (APIError, requests.RequestException, ValueError) as error:
        raise ProviderError(
            f"could not look up the reference in Notify ({_status(error)})", transient=True
        ) from None
    notifications = [n for n in found.get("notifications", []) if n.get("id")]
    if not notifications:
        return None
    latest = max(notifications, key=lambda n: str(n.get("created_at") or ""))
    return SentRecord(
        str(latest["id"]),
        str(latest.get("phone_number") or ""),
        str(latest.get("body") or ""),
        str(latest.get("status") or "created"),
        _instant(latest.get("created_at")),
    )


def _status(error: BaseException) -> str:
    return str(getattr(error, "status_code", None) or type(error).__name__)


def _instant(text: object) -> datetime:
    """Notify's created_at: ISO 8601 in UTC, with a Z or an offset."""
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
