"""What the fake GOV.UK Notify server knows: accepted texts and letters, request counts, faults
to inject.

Kept apart from the HTTP layer so tests can look inside and steer it without the network.
Thread-safe: the server handles each request on its own thread.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pdfplumber

from nudge.fakes.common import FakeState, Faults

FAKE_SERVICE_ID = "0f0e0d0c-1b1a-4c2c-8d3d-4e4f5a5b6c6d"
FAKE_SECRET = "8b3aa916-ec82-434e-b0c5-d5d9b371d6a3"
FAKE_API_KEY = f"nudge_tests-{FAKE_SERVICE_ID}-{FAKE_SECRET}"
FAKE_TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
FAKE_SENDER_ID = "3c4a3d5e-5b7a-4c0e-9d5f-6a7b8c9d0e1f"
FAKE_TRIAL_SENDER_ID = "9e8d7c6b-5a49-4838-a726-1504f3e2d1c0"  # the service's second sender
FAKE_CALLBACK_TOKEN = "fake-notify-callback-bearer-token"
MAX_SMS_CHARACTERS = 918  # Notify's limit: 6 fragments of 153 characters
UK_MOBILE = re.compile(r"(?:\+44|0044|0)7\d{9}")
# Faults a send can meet, as the fake Twilio's: "403", "429", "500" reply with Notify's error
# body and record nothing; "hang" and "drop" record nothing; "lost_reply" and "malformed"
# record the text and then fail the reply, the ambiguous cases recovery must handle.
NOTIFY_FAULTS = ("ok", "403", "429", "500", "slow", "hang", "drop", "lost_reply", "malformed")
UNDELIVERABLE = {"+447700900002": "permanent-failure", "+447700900003": "technical-failure"}
POSTAGE = ("first", "second", "economy", "europe", "rest-of-world")
MAX_LETTER_PAGES = 10
A4_POINTS = (595.28, 841.89)


class NotifyFaults(Faults):
    """Which faults send requests meet (nudge/fakes/common.py): the shared ones, and Notify's
    own error replies "403", "429", "500"."""

    KINDS = NOTIFY_FAULTS


class NotifyError(Exception):
    """An error reply with Notify's documented body."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message

    def body(self) -> dict[str, Any]:
        return {
            "errors": [{"error": self.error, "message": self.message}],
            "status_code": self.status,
        }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeNotifyState(FakeState[NotifyFaults]):
    """Accepted texts (oldest first), request counts, and the knobs tests turn."""

    def __init__(
        self,
        *,
        service_id: str = FAKE_SERVICE_ID,
        secret: str = FAKE_SECRET,
        template_id: str = FAKE_TEMPLATE_ID,
        now: Callable[[], datetime] | None = None,
        epoch: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(NotifyFaults())
        self.service_id, self.secret, self.template_id = service_id, secret, template_id
        self.now = now or (lambda: datetime.now(UTC))
        self.epoch = epoch  # the server's own clock for tokens' iat, as Notify's
        self.notifications: list[dict[str, Any]] = []
        self.senders = {FAKE_SENDER_ID, FAKE_TRIAL_SENDER_ID}
        self.sent_from: dict[str, str | None] = {}  # Notify's id -> the sms_sender_id asked for
        self.refused: dict[str, NotifyError] = {}
        self.accepted_log: list[list[Any]] = []  # [unix time, client address] per text
        self.undeliverable = dict(UNDELIVERABLE)  # number -> the failure its receipt reports
        # What a valid letter becomes once Notify has scanned, checked and printed it (a real
        # Notify takes hours, through pending-virus-check and accepted; the fake, no time).
        self.letter_outcome = "received"
        self.letter_pdfs: dict[str, bytes] = {}  # Notify's id -> the PDF it was sent

    def reject(self, to: str, error: str, message: str) -> None:
        """Refuse every later text to `to` with a 400 (`ValidationError`, `phone_number ...`)."""
        with self.lock:
            self.refused[to] = NotifyError(400, error, message)

    def create(self, data: dict[str, Any], client: str = "") -> dict[str, Any]:
        """Validate like Notify and record the text; the reply Notify gives.

        `client` (the connection's address) and the wall-clock time of acceptance are kept
        for benchmarks, which measure each sender's rate on the server's side."""
        body = _validate(data, self.template_id, self.senders)
        to = str(data["phone_number"])
        with self.lock:
            if to in self.refused:
                raise self.refused[to]
            now = self.now()
            notification_id = str(uuid.uuid4())
            record = {
                "id": notification_id,
                "reference": data.get("reference"),
                "phone_number": to,
                "type": "sms",
                "status": self.undeliverable.get(to, "delivered"),
                "template": {"id": self.template_id, "version": 1, "uri": ""},
                "body": body,
                "created_at": iso(now),
                "created_by_name": None,
                "sent_at": iso(now),
                "completed_at": iso(now),
            }
            self.sent_from[notification_id] = data.get("sms_sender_id")
            self.notifications.append(record)
            self.accepted_log.append([time.time(), client])
        return {
            "id": notification_id,
            "reference": data.get("reference"),
            "content": {"body": body, "from_number": "Nudge"},
            "uri": f"/v2/notifications/{notification_id}",
            "template": record["template"],
            "scheduled_for": None,
        }

    def create_letter(self, data: dict[str, Any], client: str = "") -> dict[str, Any]:
        """Take a precompiled letter as Notify does: the request checked at once (its 400s), the
        PDF checked after (a letter breaking the rules ends `validation-failed`)."""
        pdf = _precompiled(data)
        with self.lock:
            now = self.now()
            notification_id = str(uuid.uuid4())
            record = {
                "id": notification_id,
                "reference": data["reference"],
                "type": "letter",
                "status": _letter_check(pdf) or self.letter_outcome,
                "postage": data.get("postage") or "second",
                "line_1": None,
                "pages": _pages(pdf),
                "created_at": iso(now),
                "created_by_name": None,
                "sent_at": iso(now),
                "completed_at": iso(now),
            }
            self.notifications.append(record)
            self.letter_pdfs[notification_id] = pdf
            self.accepted_log.append([time.time(), client])
        return {"id": notification_id, "reference": data["reference"], "postage": record["postage"]}

    def find(self, reference: str | None) -> list[dict[str, Any]]:
        """Notifications with this reference, newest first, as GET /v2/notifications lists."""
        with self.lock:
            found = [n for n in self.notifications if reference in (None, n["reference"])]
        return list(reversed(found))

    def our_message_ids(self, kind: str | None = None) -> list[int]:
        """Our message ids as Notify accepted them (of one type, if given): once each, or not."""
        with self.lock:
            return [int(n["reference"]) for n in self.notifications if kind in (None, n["type"])]


def _validate(data: dict[str, Any], template_id: str, senders: set[str]) -> str:
    """The text's body, or Notify's 400 for what is wrong with the request."""
    if data.get("template_id") != template_id:
        raise NotifyError(400, "BadRequestError", "Template not found")
    to = str(data.get("phone_number") or "").replace(" ", "")
    if not to:
        raise NotifyError(400, "ValidationError", "phone_number is a required property")
    if not UK_MOBILE.fullmatch(to):
        raise NotifyError(400, "ValidationError", "phone_number Not a UK mobile number")
    sender = data.get("sms_sender_id")
    if sender is not None and sender not in senders:
        raise NotifyError(400, "BadRequestError", f"sms_sender_id {sender} does not exist")
    reference = data.get("reference")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 1000):
        raise NotifyError(400, "ValidationError", "reference is not a valid string")
    personalisation = data.get("personalisation") or {}
    if "body" not in personalisation:
        raise NotifyError(400, "BadRequestError", "Missing personalisation: body")
    body = str(personalisation["body"])
    if len(body) > MAX_SMS_CHARACTERS:
        raise NotifyError(
            400,
            "BadRequestError",
            f"Text messages cannot be longer than {MAX_SMS_CHARACTERS} characters. "
            f"Your message is {len(body)} characters long.",
        )
    return body


def _precompiled(data: dict[str, Any]) -> bytes:
    """The letter's PDF, or Notify's 400 for what is wrong with the request."""
    if "content" not in data:  # a letter from a template, which the fake does not keep
        raise NotifyError(400, "ValidationError", "template_id is a required property")
    reference = data.get("reference")
    if not reference:
        raise NotifyError(400, "ValidationError", "reference is a required property")
    if not isinstance(reference, str) or len(reference) > 1000:
        raise NotifyError(400, "ValidationError", "reference is not a valid string")
    postage = data.get("postage")
    if postage is not None and postage not in POSTAGE:
        raise NotifyError(
            400, "ValidationError", "postage invalid. It must be either first, second or economy."
        )
    try:
        pdf = base64.b64decode(str(data["content"]), validate=True)
    except (binascii.Error, ValueError):
        raise NotifyError(
            400, "BadRequestError", "Cannot decode letter content (invalid base64 encoding)"
        ) from None
    if _pages(pdf) is None:
        raise NotifyError(400, "BadRequestError", "Letter content is not a valid PDF")
    return pdf


def _pages(pdf: bytes) -> int | None:
    try:
        with pdfplumber.open(io.BytesIO(pdf)) as document:
            return len(document.pages)
    except Exception:  # whatever the parser trips on, Notify says the same
        return None


def _letter_check(pdf: bytes) -> str | None:
    """Notify's own check after it accepted the PDF: too many pages, or a page not A4."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        if len(document.pages) > MAX_LETTER_PAGES:
            return "validation-failed"
        for page in document.pages:
            if (
                abs(float(page.width) - A4_POINTS[0]) > 6
                or abs(float(page.height) - A4_POINTS[1]) > 6
            ):
                return "validation-failed"
    return None
