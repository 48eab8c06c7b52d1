"""Research mode for the console provider: signed status callbacks, as Twilio would post them.

With `NUDGE_FAKE_CALLBACKS=1` every text the console provider writes is followed by the
callbacks a real network would send to the message's StatusCallback URL: `sent`, then
`delivered`, or a failure for the reserved drama numbers below. They are signed like Twilio's
(`X-Twilio-Signature`, HMAC-SHA1 over the URL and the form) with the token the webhook checks,
so they exercise the whole real path: HTTP, signature, forward-only status update.
The idea is GOV.UK Notify's research mode (notifications-api `research_mode_tasks.py`).

Callbacks are posted from one background thread, in order, after the send returns, because a
real provider's callbacks arrive later too; `drain()` waits until every queued one is posted.
"""

from __future__ import annotations

import logging
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from twilio.request_validator import RequestValidator

from messages.providers.base import OutgoingSms

log = logging.getLogger(__name__)
ACCOUNT_SID = "AC" + "0" * 32  # a placeholder account: no real Twilio account is involved
TIMEOUT_S = 10
# The app is posted to directly, never through an http_proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class FakeStatus:
    status: str
    error_code: str | None = None


# How a drama number's last four digits decide its fate (everything else is delivered):
# 0002 a handset that does not exist (permanent), 0003 a network that gave up (failed).
FAILURES: dict[str, tuple[FakeStatus, ...]] = {
    "0002": (FakeStatus("sent"), FakeStatus("undelivered", "30005")),
    "0003": (FakeStatus("sent"), FakeStatus("failed", "30008")),
}
DELIVERED = (FakeStatus("sent"), FakeStatus("delivered"))


def fake_statuses(to: str) -> tuple[FakeStatus, ...]:
    """The callbacks a text to `to` gets, in order: a pure table keyed on the last digits."""
    digits = "".join(ch for ch in to if ch.isdigit())
    return FAILURES.get(digits[-4:], DELIVERED)


def callback_form(sms: OutgoingSms, provider_id: str, fake: FakeStatus) -> dict[str, str]:
    """The form fields Twilio posts to a StatusCallback URL."""
    form = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "MessageSid": provider_id,
        "SmsSid": provider_id,
        "MessageStatus": fake.status,
        "SmsStatus": fake.status,
        "To": sms.to,
        "From": sms.sender or "",
    }
    if fake.error_code:
        form["ErrorCode"] = fake.error_code
    return form


class CallbackPoster:
    """Posts signed callbacks from a background thread; `drain()` waits for the queue to empty."""

    def __init__(self, signing_token: str) -> None:
        self.validator = RequestValidator(signing_token)
        self.posted = 0
        self.failed = 0
        self._queue: queue.Queue[tuple[str, dict[str, str], int] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def queue_for(self, sms: OutgoingSms, provider_id: str) -> None:
        """Queue the callbacks for one text just written; none without a StatusCallback URL."""
        if not sms.status_callback:
            log.warning("message %s has no status callback URL: none posted", sms.message_id)
            return
        self._start()
        for fake in fake_statuses(sms.to):
            form = callback_form(sms, provider_id, fake)
            self._queue.put((sms.status_callback, form, sms.message_id))

    def drain(self) -> None:
        """Block until every queued callback has been posted (or has failed and been logged)."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        """Post what is queued, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread = None

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fake-callbacks", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._post(*item)
            finally:
                self._queue.task_done()

    def _post(self, url: str, form: dict[str, str], message_id: int) -> None:
        data = urllib.parse.urlencode(form).encode("ascii")
        request = urllib.request.Request(url, data=data, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        request.add_header("X-Twilio-Signature", self.validator.compute_signature(url, form))
        try:
            with _DIRECT.open(request, timeout=TIMEOUT_S) as response:
                response.read()
            self.posted += 1
        except (urllib.error.URLError, OSError) as error:
            self.failed += 1
            reason = getattr(error, "code", None) or getattr(error, "reason", error)
            log.warning(
                "fake %s callback for message %s not accepted: %s",
                form["MessageStatus"],
                message_id,
                reason,
            )
