"""A local fake of Twilio's Messages API: a real HTTP server on 127.0.0.1 for the real client.

It behaves like api.twilio.com where Nudge depends on it: HTTP Basic auth (401 with Twilio's
JSON error otherwise), form parameters validated with Twilio's error codes, the message
resource as Twilio returns it, the message list with its filters and paging, and, when asked,
status callbacks signed as Twilio signs them. It counts every request and every accepted
message, so tests can assert that each text was accepted exactly once.

In a test: `with FakeTwilioServer() as twilio: ...` (`twilio.url`, `twilio.state`). As a
process, for workers and benchmarks in other processes:

    python -m tests.fakes.twilio_server --port 0 --state accepted.jsonl [--callbacks]

prints `listening on http://127.0.0.1:PORT` and serves until SIGTERM. Another process steers
it over HTTP (unauthenticated, loopback only):

    GET  /_fake/stats    {"requests": {...}, "accepted": n, "accepted_per_to": {...},
                          "messages": [...]}; with ?messages=0 "accepted_log" instead:
                          [[unix time, client address], ...] per accepted message
    POST /_fake/faults   JSON Faults: {"script": ["429", "lost_reply"], "rates": {"500": 0.1},
                         "seed": 1, "delay": 0.05, "slow_seconds": 1, "hang_seconds": 3}
    POST /_fake/reject   {"to": "+447700900123", "code": "21610"}
    POST /_fake/hold     {"queued": true}   (accepted messages stay "queued", date_sent null)

Faults apply to message creation only: "401" (code 20003, credentials revoked), "429" (code
20429), "500", "503" reply with that error, Twilio's JSON body, and record nothing; "slow"
waits `slow_seconds` and then succeeds; "hang" waits `hang_seconds` and drops the connection,
"drop" drops it at once (neither records the message); "lost_reply" records the message, waits
`hang_seconds` and drops the connection; "malformed" records it and replies 201
with truncated JSON. `delay` slows every create.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import re
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from twilio.request_validator import RequestValidator

from nudge.fakes.common import CallbackQueue, FakeServer, QuietHandler, serve
from tests.fakes.twilio_state import (
    FAKE_ACCOUNT_SID,
    FAKE_AUTH_TOKEN,
    FakeTwilioState,
    Faults,
    TwilioError,
    public,
)

MESSAGES = re.compile(r"/2010-04-01/Accounts/([^/]+)/Messages(?:/(SM[0-9a-f]{32}))?\.json")
MAX_PAGE_SIZE = 1000


class FakeTwilioServer(FakeServer["CallbackSender"]):
    """The fake on a free loopback port, serving on a thread until `stop` (or the with-block)."""

    def __init__(
        self,
        state: FakeTwilioState | None = None,
        *,
        port: int = 0,
        callbacks: bool = False,
    ) -> None:
        self.state = state or FakeTwilioState()
        sender = CallbackSender(self.state.auth_token) if callbacks else None
        super().__init__(_Handler, port=port, callbacks=sender)


class CallbackSender(CallbackQueue):
    """Posts status callbacks, one at a time in order, signed with the account's auth token."""

    def __init__(self, auth_token: str) -> None:
        super().__init__()
        self.validator = RequestValidator(auth_token)

    def enqueue(self, resource: dict[str, Any], url: str) -> None:
        """Twilio reports `sent`, then the carrier's verdict, to the message's StatusCallback."""
        base = {
            "AccountSid": resource["account_sid"],
            "ApiVersion": "2010-04-01",
            "From": resource["from"] or "",
            "MessageSid": resource["sid"],
            "SmsSid": resource["sid"],
            "To": resource["to"],
        }
        if resource["messaging_service_sid"]:
            base["MessagingServiceSid"] = resource["messaging_service_sid"]
        self.queue.put((url, {**base, "MessageStatus": "sent", "SmsStatus": "sent"}))
        final = {**base, "MessageStatus": resource["status"], "SmsStatus": resource["status"]}
        if resource["error_code"]:
            final["ErrorCode"] = str(resource["error_code"])
        self.queue.put((url, final))

    def _request(self, url: str, payload: dict[str, Any]) -> urllib.request.Request:
        signature = self.validator.compute_signature(url, payload)
        return urllib.request.Request(
            url, data=urlencode(payload).encode(), headers={"X-Twilio-Signature": signature}
        )


class _Handler(QuietHandler):
    content_type = "application/json; charset=utf-8"

    @property
    def fake(self) -> FakeTwilioServer:
        return self.server.fake  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        path = urlsplit(self.path)
        if path.path == "/_fake/stats":
            listed = dict(parse_qsl(path.query)).get("messages") != "0"
            self._json(200, self.fake.state.snapshot(messages=listed))
            return
        self._api("GET", path.path, dict(parse_qsl(path.query)))

    def do_POST(self) -> None:
        raw = self._body()
        path = urlsplit(self.path).path
        if path.startswith("/_fake/"):
            self._control(path, json.loads(raw or "{}"))
            return
        self._api("POST", path, dict(parse_qsl(raw, keep_blank_values=True)))

    def _api(self, method: str, path: str, params: dict[str, str]) -> None:
        state = self.fake.state
        match = MESSAGES.fullmatch(path)
        state.count(f"{method} {'Message' if match and match[2] else 'Messages'}")
        try:
            if match is None:
                raise TwilioError(404, "20404")
            self._authenticate(match[1])
            if method == "POST" and match[2] is None:
                self._create(params)
            elif method == "GET" and match[2] is None:
                self._json(200, self._page(params))
            elif method == "GET" and match[2] in state.by_sid:
                self._json(200, public(state.by_sid[match[2]]))
            else:
                raise TwilioError(404, "20404")
        except TwilioError as error:
            self._json(error.status, error.body())

    def _authenticate(self, account_sid: str) -> None:
        state = self.fake.state
        expected = "Basic " + base64.b64encode(
            f"{state.account_sid}:{state.auth_token}".encode()
        ).decode("ascii")
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given, expected) or account_sid != state.account_sid:
            raise TwilioError(401, "20003")

    def _create(self, form: dict[str, str]) -> None:
        state = self.fake.state

        def create(client: str) -> dict[str, Any]:
            resource = state.create(form, client)
            callback = form.get("StatusCallback")
            if self.fake.callbacks is not None and callback and not state.hold_queued:
                self.fake.callbacks.enqueue(state.by_sid[resource["sid"]], callback)
            return resource

        self._create_meeting_fault(state, _refuse, create)

    def _page(self, query: dict[str, str]) -> dict[str, Any]:
        """One page of the list, newest first, with Twilio's paging fields."""
        size = min(int(query.get("PageSize", "50")), MAX_PAGE_SIZE)
        page = int(query.get("Page", "0"))
        found = self.fake.state.list(query)
        start = page * size
        token = query.get("PageToken", "")
        if token.startswith("PA"):
            sids = [m["sid"] for m in found]
            start = sids.index(token[2:]) + 1 if token[2:] in sids else len(found)
        items = found[start : start + size]
        base = f"/2010-04-01/Accounts/{self.fake.state.account_sid}/Messages.json"
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def uri(number: int, **extra: str) -> str:
            return f"{base}?{urlencode({**filters, 'PageSize': size, 'Page': number, **extra})}"

        more = start + size < len(found)
        return {
            "messages": items,
            "page": page,
            "page_size": size,
            "start": start,
            "end": start + max(len(items) - 1, 0),
            "uri": uri(page),
            "first_page_uri": uri(0),
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "next_page_uri": uri(page + 1, PageToken="PA" + items[-1]["sid"]) if more else None,
        }

    def _control(self, path: str, data: dict[str, Any]) -> None:
        state = self.fake.state
        try:
            if path == "/_fake/faults":
                faults = Faults.from_json(data)
                with state.lock:
                    state.faults = faults
            elif path == "/_fake/reject":
                state.reject(str(data["to"]), str(data["code"]))
            elif path == "/_fake/hold":
                state.hold_queued = bool(data.get("queued", True))
            else:
                self._json(404, {"error": f"no control {path}"})
                return
        except (KeyError, TypeError, ValueError) as error:
            self._json(400, {"error": str(error)})
            return
        self._json(200, {"ok": True})

    def _more_headers(self, status: int) -> None:
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')


def _refuse(fault: str) -> None:
    """Twilio's error reply for a fault that is one."""
    if fault == "401":  # the credentials revoked mid-run, as Twilio answers then
        raise TwilioError(401, "20003")
    if fault in ("429", "500", "503"):
        raise TwilioError(int(fault), "20" + fault)


def nudge_env(url: str, public_url: str = "https://nudge.example") -> dict[str, str]:
    """The settings that point `nudge dispatch` (the real twilio client) at this fake."""
    return {
        "NUDGE_SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": FAKE_AUTH_TOKEN,
        "NUDGE_TWILIO_BASE_URL": url,
        "NUDGE_PUBLIC_URL": public_url,
    }


def control(url: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call the control API of a fake running in another process (GET without a payload)."""
    data = None if payload is None else json.dumps(payload).encode()
    with urllib.request.urlopen(urllib.request.Request(url + path, data=data), timeout=30) as r:
        return json.loads(r.read())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local fake Twilio REST server for tests.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", type=Path, help="append accepted messages here, reload them")
    parser.add_argument("--account-sid", default=FAKE_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=FAKE_AUTH_TOKEN)
    parser.add_argument("--now", help="pin the server's clock (ISO instant with an offset)")
    parser.add_argument("--callbacks", action="store_true", help="post signed status callbacks")
    args = parser.parse_args(argv)
    pinned = datetime.fromisoformat(args.now) if args.now else None
    state = FakeTwilioState(
        args.account_sid,
        args.auth_token,
        state_file=args.state,
        now=(lambda: pinned) if pinned else None,
    )
    serve(FakeTwilioServer(state, port=args.port, callbacks=args.callbacks))


if __name__ == "__main__":
    main()
