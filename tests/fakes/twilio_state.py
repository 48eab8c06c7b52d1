"""What the fake Twilio server knows: accepted messages, request counts, faults to inject.

Kept apart from the HTTP layer so tests can look inside (counts, messages) and steer it
(faults, rejected numbers, the clock) without going through the network. Thread-safe: the
server handles each request on its own thread.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from nudge.fakes import common

FAKE_ACCOUNT_SID = "AC" + "f00d" * 8
FAKE_AUTH_TOKEN = "fake-twilio-auth-token-for-tests"
API_VERSION = "2010-04-01"
MAX_BODY = 1600
MAX_VALIDITY = 36_000
E164 = re.compile(r"\+[1-9]\d{6,14}")
ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9 ]{1,11}")
MESSAGING_SERVICE = re.compile(r"MG[0-9a-fA-F]{32}")
# What happens to an accepted message at the "carrier": the Ofcom drama number ending 0002
# is undeliverable (Twilio 30003), like the console provider's fake callbacks.
UNDELIVERABLE = {"+447700900002": "30003"}
# Twilio's own wording for the errors the fake produces (never containing the number).
ERRORS = {
    "20001": "Invalid parameter",
    "20003": "Authenticate",
    "20404": "The requested resource was not found",
    "20429": "Too Many Requests",
    "20500": "An internal server error has occurred",
    "20503": "Service Unavailable",
    "21211": "The 'To' number is not a valid phone number.",
    "21212": "The 'From' number is not a valid phone number, shortcode, or alphanumeric sender ID.",
    "21602": "Message body is required.",
    "21603": "A 'From' phone number is required.",
    "21604": "A 'To' phone number is required.",
    "21609": "Invalid StatusCallback URL.",
    "21610": "Attempt to send to unsubscribed recipient",
    "21614": "'To' number is not a valid mobile number",
    "21617": "The concatenated message body exceeds the 1600 character limit.",
    "21624": "Validity period can only be set to integers between 1 and 36,000 seconds.",
    "21701": "The Messaging Service Sid is invalid.",
    "30003": "Unreachable destination handset",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
}
# Faults a create request can meet. "hang" and "drop" never record the message; "lost_reply"
# and "malformed" record it and then fail the reply: the ambiguous cases recovery must handle.
FAULTS = ("ok", "401", "429", "500", "503", "slow", "hang", "drop", "lost_reply", "malformed")


class TwilioError(Exception):
    """An error reply: HTTP status and Twilio's code, with Twilio's JSON body."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code

    def body(self) -> dict[str, Any]:
        return {
            "code": int(self.code),
            "message": ERRORS.get(self.code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


class Faults(common.Faults):
    """Which faults create requests meet (nudge/fakes/common.py): the shared ones, and Twilio's
    own error replies "401", "429", "500", "503"."""

    KINDS = FAULTS


def rfc2822(moment: datetime | None) -> str | None:
    return format_datetime(moment.astimezone(UTC)) if moment else None


class FakeTwilioState(common.FakeState[Faults]):
    """Accepted messages (newest last), request counts, and the knobs tests turn."""

    def __init__(
        self,
        account_sid: str = FAKE_ACCOUNT_SID,
        auth_token: str = FAKE_AUTH_TOKEN,
        *,
        state_file: Path | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(Faults())
        self.account_sid, self.auth_token = account_sid, auth_token
        self.state_file, self.now = state_file, now or (lambda: datetime.now(UTC))
        self.messages: list[dict[str, Any]] = []
        self.by_sid: dict[str, dict[str, Any]] = {}
        self.accepted_per_to: Counter[str] = Counter()
        self.rejected: dict[str, str] = {}
        self.undeliverable = dict(UNDELIVERABLE)
        self.hold_queued = False
        if state_file is not None and state_file.exists():
            for line in state_file.read_text(encoding="utf-8").splitlines():
                self._remember(json.loads(line))

    def reject(self, to: str, code: str) -> None:
        """Refuse every later message to `to` with Twilio error `code` (21610, 21614, ...)."""
        with self.lock:
            self.rejected[to] = code

    def create(self, form: dict[str, str], client: str = "") -> dict[str, Any]:
        """Validate like Twilio and record the message; the resource as Twilio returns it.

        `client` (the connection's address) and the wall-clock time of acceptance are kept
        for benchmarks, which measure each sender's rate on the server's side.
        """
        to, sender = form.get("To", ""), form.get("From", "")
        service = form.get("MessagingServiceSid")
        _validate(form, to, sender, service)
        with self.lock:
            if to in self.rejected:
                raise TwilioError(400, self.rejected[to])
            now = self.now()
            sid = "SM" + secrets.token_hex(16)
            resource = {
                "account_sid": self.account_sid,
                "api_version": API_VERSION,
                "body": form["Body"],
                "date_created": rfc2822(now),
                "date_sent": None,
                "date_updated": rfc2822(now),
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": sender or None,
                "messaging_service_sid": service,
                "num_media": "0",
                "num_segments": str(max(1, -(-len(form["Body"]) // 153))),
                "price": None,
                "price_unit": "GBP",
                "sid": sid,
                "status": "accepted" if service and not sender else "queued",
                "subresource_uris": {"media": self._uri(sid, "/Media.json")},
                "to": to,
                "uri": self._uri(sid, ".json"),
            }
            reply = dict(resource)
            resource["_created"] = now.isoformat()
            resource["_status_callback"] = form.get("StatusCallback")
            resource["_validity_period"] = form.get("ValidityPeriod")
            resource["_accepted"] = [time.time(), client]
            if not self.hold_queued:
                self._carrier(resource, now)
            self._remember(resource)
            if self.state_file is not None:
                with self.state_file.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(resource) + "\n")
        return reply

    def list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """Messages matching Twilio's list filters, newest first."""
        with self.lock:
            found = [m for m in reversed(self.messages) if _matches(m, query)]
        return [public(m) for m in found]

    def _carrier(self, resource: dict[str, Any], now: datetime) -> None:
        failure = self.undeliverable.get(resource["to"])
        resource["status"] = "undelivered" if failure else "delivered"
        resource["error_code"] = int(failure) if failure else None
        resource["error_message"] = ERRORS[failure] if failure else None
        resource["date_sent"] = rfc2822(now)

    def _remember(self, resource: dict[str, Any]) -> None:
        self.messages.append(resource)
        self.by_sid[resource["sid"]] = resource
        self.accepted_per_to[resource["to"]] += 1

    def _uri(self, sid: str, tail: str) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}{tail}"

    def our_message_ids(self) -> list[int]:
        """Nudge's message id of each text accepted, in order (from its StatusCallback's ?m=)."""
        with self.lock:
            return [int(m["_status_callback"].rsplit("=", 1)[1]) for m in self.messages]

    def snapshot(self, messages: bool = True) -> dict[str, Any]:
        """Counts (and accepted messages, or when and over which connection each came)."""
        with self.lock:
            stats: dict[str, Any] = {
                "requests": dict(self.requests),
                "accepted": len(self.messages),
                "accepted_per_to": dict(self.accepted_per_to),
            }
            if messages:
                stats["messages"] = [
                    {**public(m), "status_callback": m["_status_callback"]} for m in self.messages
                ]
            else:
                stats["accepted_log"] = [m.get("_accepted") for m in self.messages]
            return stats


def public(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if not k.startswith("_")}


def _validate(form: dict[str, str], to: str, sender: str, service: str | None) -> None:
    if not to:
        raise TwilioError(400, "21604")
    if not form.get("Body"):
        raise TwilioError(400, "21602")
    if not sender and not service:
        raise TwilioError(400, "21603")
    if sender and not (E164.fullmatch(sender) or ALPHANUMERIC_SENDER.fullmatch(sender)):
        raise TwilioError(400, "21212")
    if service and not MESSAGING_SERVICE.fullmatch(service):
        raise TwilioError(400, "21701")
    if not E164.fullmatch(to):
        raise TwilioError(400, "21211")
    if len(form["Body"]) > MAX_BODY:
        raise TwilioError(400, "21617")
    validity = form.get("ValidityPeriod")
    if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= MAX_VALIDITY):
        raise TwilioError(400, "21624")
    callback = form.get("StatusCallback")
    if callback is not None and not callback.startswith(("http://", "https://")):
        raise TwilioError(400, "21609")


def _instant(text: str) -> tuple[datetime, bool]:
    """A DateSent bound: `YYYY-MM-DD` (a whole day, as Twilio documents) or an ISO instant."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC), True
        return datetime.fromisoformat(text.replace("Z", "+00:00")), False
    except ValueError:
        raise TwilioError(400, "20001") from None


def _matches(resource: dict[str, Any], query: dict[str, str]) -> bool:
    if "To" in query and resource["to"] != query["To"]:
        return False
    if "From" in query and resource["from"] != query["From"]:
        return False
    bounds = [(k, v) for k, v in query.items() if k in ("DateSent", "DateSent>", "DateSent<")]
    if not bounds:
        return True
    if resource["date_sent"] is None:
        return False  # still queued: Twilio has not sent it, so no DateSent filter matches
    sent = datetime.fromisoformat(resource["_created"])
    for key, value in bounds:
        bound, whole_day = _instant(value)
        moment = datetime.combine(sent.date(), datetime.min.time(), UTC) if whole_day else sent
        if key == "DateSent" and moment != bound:
            return False
        if (key == "DateSent>" and moment < bound) or (key == "DateSent<" and moment > bound):
            return False
    return True
