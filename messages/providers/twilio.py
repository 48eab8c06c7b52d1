"""Texts through Twilio's REST API on the official client, with its errors sorted for dispatch.

Dispatch needs to know three things about a failure: worth retrying (`transient`), never worth
retrying (permanent, with Twilio's code), or possibly sent (`ambiguous`: the request may have
reached Twilio, so recovery must look in Twilio's records before anything is sent again).
Log lines name only our message id and Twilio's sid: never a number or a text. Twilio's own
error messages can quote the number, so they are not copied either.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from messages.providers.base import (
    CREDENTIALS_REFUSED,
    RATE_LIMITED,
    OutgoingSms,
    SendReceipt,
    SentRecord,
)
from messages.providers.transport import never_connected
from nudge.errors import ConfigError, ProviderError

log = logging.getLogger(__name__)
TWILIO_API = "https://api.twilio.com"
TIMEOUT_S = 15.0  # Twilio answers in well under a second; longer means something is wrong
MAX_VALIDITY_S = 36_000  # Twilio accepts ValidityPeriod from 1 s to 10 hours
RECORDS_LIMIT = 1000  # more texts than this to one number since a crash: we cannot tell
TRANSIENT_CODES = {"30003"}  # unreachable handset: may work later
# Account problems (bad credentials, wrong account or base URL): retry once fixed, never fail
# every message of a run as if each were refused.
SETUP_STATUSES = {401, 403, 404}
DESCRIPTIONS = {
    "20003": "Twilio refused the credentials: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
    "20404": "Twilio does not know this account or address: check TWILIO_ACCOUNT_SID",
    "20429": "Twilio asked us to slow down",
    "21211": "the number is not a valid phone number",
    "21603": "no sender: set sending.sms_from or TWILIO_MESSAGING_SERVICE_SID",
    "21610": "the recipient has unsubscribed from this sender (STOP)",
    "21614": "the number is not a mobile number",
    "30003": "the handset is unreachable",
    "30005": "the number is unknown to its network",
    "30006": "the number is a landline or its carrier cannot be reached",
}


def validity_period(seconds: int | None) -> int | None:
    """Twilio's ValidityPeriod: our remaining window, clamped to what Twilio accepts."""
    return None if seconds is None else max(1, min(seconds, MAX_VALIDITY_S))


class RebasedHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sent to a Twilio-compatible server instead of api.twilio.com.

    Every request the client makes, pagination links included, passes through `request`, so
    rewriting the one URL prefix here covers them all. Its request logging (which would print
    query strings, and so phone numbers) is replaced by the method and path alone.
    """

    def __init__(self, base_url: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=log)
        self.base_url = base_url.rstrip("/") if base_url else None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.base_url and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)

    def log_request(self, kwargs: dict[str, Any]) -> None:
        log.debug("Twilio request %s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

    def log_response(self, status_code: int, response: Any) -> None:
        log.debug("Twilio response %s", status_code)


class TwilioProvider:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        messaging_service_sid: str | None = None,
        base_url: str | None = None,
        timeout: float = TIMEOUT_S,
    ) -> None:
        if base_url and urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigError(
                f"NUDGE_TWILIO_BASE_URL={base_url!r} must start with http:// or https://"
            )
        self.messaging_service_sid = messaging_service_sid
        self.client = Client(
            account_sid, auth_token, http_client=RebasedHttpClient(base_url, timeout)
        )

    def send(self, sms: OutgoingSms) -> SendReceipt:
        params: dict[str, Any] = {"to": sms.to, "body": sms.body}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        elif sms.sender:
            params["from_"] = sms.sender
        else:
            raise ProviderError(DESCRIPTIONS["21603"], code="21603", transient=True)
        if sms.status_callback:
            params["status_callback"] = sms.status_callback
        if sms.validity_seconds is not None:
            params["validity_period"] = validity_period(sms.validity_seconds)
        try:
            created = self.client.messages.create(**params)
        except (TwilioRestException, TwilioServiceException) as error:
            raise refused(error.status, error.code) from None
        except requests.RequestException as error:
            raise transport_failure(error) from None
        except (TwilioException, ValueError):  # a garbled reply to a request that arrived
            raise ProviderError(
                "Twilio's reply could not be read", transient=True, ambiguous=True
            ) from None
        if not created.sid:
            raise ProviderError("Twilio's reply had no message sid", transient=True, ambiguous=True)
        log.info("Twilio accepted message %s as %s", sms.message_id, created.sid)
        return SendReceipt(created.sid, str(created.status or "queued"))

    def find_sent(self, to: str, since: datetime) -> list[SentRecord]:
        """What Twilio holds for `to` created since `since`, queued ones included.

        Filtered by `To` only, then by creation time here: Twilio's DateSent filters miss a
        message still in its queue (date_sent is empty until it goes to the carrier), and that
        is exactly the kind a crash leaves behind.
        """
        try:
            listed = self.client.messages.list(to=to, limit=RECORDS_LIMIT + 1, page_size=100)
        except (TwilioException, requests.RequestException, ValueError) as error:
            raise ProviderError(
                f"could not read Twilio's message list ({type(error).__name__})", transient=True
            ) from None
        if len(listed) > RECORDS_LIMIT:
            raise ProviderError(f"over {RECORDS_LIMIT} messages to this number: cannot tell")
        return [
            SentRecord(m.sid, to, m.body or "", str(m.status), m.date_created)
            for m in listed
            if m.sid
            and m.date_created
            and m.date_created >= since
            and str(m.direction or "").startswith("outbound")
        ]


def refused(status: int, code: int | None) -> ProviderError:
    """Twilio answered with an error: transient (429, 5xx, 30003, account setup) or permanent."""
    text = str(code) if code else None
    if text is None and status in (401, 403):
        text = CREDENTIALS_REFUSED  # however it is worded, every text would be refused alike
    elif text is None and status == 429:
        text = RATE_LIMITED
    detail = DESCRIPTIONS.get(text or "", "Twilio refused the message")
    message = f"{detail} (HTTP {status})"
    if status in SETUP_STATUSES:
        log.warning("Twilio refused a request with HTTP %s, error %s", status, text)
    transient = status == 429 or status >= 500 or status in SETUP_STATUSES
    return ProviderError(message, code=text, transient=transient or text in TRANSIENT_CODES)


def transport_failure(error: requests.RequestException) -> ProviderError:
    """No usable reply. Before a connection existed nothing was sent; after, it may have been."""
    if never_connected(error):
        return ProviderError("could not connect to Twilio", transient=True)
    return ProviderError(
        f"no complete reply from Twilio ({type(error).__name__})", transient=True, ambiguous=True
    )
