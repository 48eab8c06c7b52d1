"""A local fake of GOV.UK Notify's API: a real HTTP server on 127.0.0.1 for the official client,
for `nudge demo --provider notify` and the tests (which import it as tests/fakes/notify_server).

It behaves like api.notifications.service.gov.uk where Nudge depends on it: a JWT bearer token
checked as Notify checks it (HS256 signed with the key's secret, `iss` the service id, `iat`
within 30 seconds of the server's clock; 403 AuthError otherwise, 401 without one), texts and
precompiled letters (`POST /v2/notifications/letter`: the request's 400s at once, the PDF's
pages and size checked after, a bad one ending `validation-failed`) validated with Notify's
400 errors, the notification list filtered by `reference` and `template_type`, delivery
receipts and returned-letter reports posted with the bearer token, and Notify's error bodies
(`{"errors": [{"error": ..., "message": ...}], "status_code": N}`).

In a test: `with FakeNotifyServer() as notify: ...` (`notify.url`, `notify.state`). As a
process, for workers in other processes:

    python -m nudge.fakes.notify_server --port 0 [--now ISO]

prints `listening on http://127.0.0.1:PORT`; steer it with `POST /_fake/faults` (as the fake
Twilio's: {"script": ["429", "lost_reply"], "rates": {...}, "delay": 0.01, ...}) and read
`GET /_fake/stats` (with `?messages=0`, `accepted_log`: [[unix time, client address], ...]
per accepted text, as the fake Twilio's, for bench/dispatch.py).
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt

from nudge.fakes.common import CallbackQueue, FakeServer, QuietHandler, serve
from nudge.fakes.notify_state import (
    FAKE_API_KEY,
    FAKE_CALLBACK_TOKEN,
    FAKE_SENDER_ID,
    FAKE_TEMPLATE_ID,
    FakeNotifyState,
    NotifyError,
    NotifyFaults,
)

SEND = "/v2/notifications/sms"
LETTER = "/v2/notifications/letter"
LIST = "/v2/notifications"
IAT_BOUND_S = 30  # Notify's: a token issued more than 30 s from its clock is refused


class FakeNotifyServer(FakeServer["CallbackSender"]):
    """The fake on a free loopback port, serving on a thread until `stop` (or the with-block)."""

    def __init__(
        self,
        state: FakeNotifyState | None = None,
        *,
        port: int = 0,
        callback_url: str | None = None,
        callback_token: str = FAKE_CALLBACK_TOKEN,
        returned_letter_url: str | None = None,
    ) -> None:
        self.state = state or FakeNotifyState()
        callbacks = (
            CallbackSender(callback_url, callback_token, returned_letter_url)
            if callback_url
            else None
        )
        super().__init__(_Handler, port=port, callbacks=callbacks)

    def return_letter(self, reference: str) -> None:
        """Report the letter with this reference returned, as Notify's returned-letter callback."""
        [letter] = [n for n in self.state.find(reference) if n["type"] == "letter"][:1]
        assert self.callbacks is not None, "the fake was started without callbacks"
        self.callbacks.enqueue_returned(letter)


class CallbackSender(CallbackQueue):
    """Posts callbacks as Notify does: JSON, `Authorization: Bearer <token>`, in order.

    Delivery receipts (texts' and letters') go to `url`; returned-letter reports to
    `returned_url`, the service's second callback (its own URL in Notify's settings)."""

    def __init__(self, url: str, token: str, returned_url: str | None = None) -> None:
        super().__init__()
        self.url, self.token, self.returned_url = url, token, returned_url

    def enqueue(self, notification: dict[str, Any]) -> None:
        keys = ("id", "reference", "status", "created_at", "completed_at", "sent_at")
        receipt = {key: notification[key] for key in keys}
        if notification["type"] == "letter":  # Notify's receipt names the first address line
            receipt.update(to=notification.get("line_1"), notification_type="letter")
        else:
            receipt.update(to=notification["phone_number"], notification_type="sms")
        self.queue.put((self.url, receipt))

    def enqueue_returned(self, notification: dict[str, Any]) -> None:
        """Notify's returned-letter report for a letter it posted (its documented fields)."""
        if self.returned_url is None:
            raise ValueError("the fake was given no returned-letter callback URL")
        report = {
            "notification_id": notification["id"],
            "reference": notification["reference"],
            "date_sent": notification["created_at"],
            "sent_by": "API",
            "template_name": None,
            "template_id": None,
            "template_version": None,
            "spreadsheet_file_name": None,
            "spreadsheet_row_number": None,
            "upload_letter_file_name": None,
        }
        self.queue.put((self.returned_url, report))

    def _request(self, url: str, payload: dict[str, Any]) -> urllib.request.Request:
        return urllib.request.Request(
            url,
            data=json.dumps(payload).encode(),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
            },
        )


def check_token(header: str, state: FakeNotifyState) -> None:
    """Notify's authentication: raise its 401 or 403 unless the bearer token is good."""
    if not header.startswith("Bearer "):
        raise NotifyError(401, "AuthError", "Unauthorized: authentication token must be provided")
    token = header[len("Bearer ") :]
    try:
        claims = jwt.decode(
            token,
            key=state.secret,
            algorithms=["HS256"],
            options={"verify_iat": False, "require": ["iss", "iat"]},
        )
    except jwt.InvalidTokenError:
        raise NotifyError(
            403, "AuthError", "Invalid token: signature, api token not found"
        ) from None
    if claims.get("iss") != state.service_id:
        raise NotifyError(403, "AuthError", "Invalid token: service not found")
    if abs(state.epoch() - float(claims["iat"])) > IAT_BOUND_S:
        raise NotifyError(
            403, "AuthError", "Error: Your system clock must be accurate to within 30 seconds"
        )


class _Handler(QuietHandler):
    @property
    def fake(self) -> FakeNotifyServer:
        return self.server.fake  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        path = urlsplit(self.path)
        query = dict(parse_qsl(path.query))
        state = self.fake.state
        if path.path == "/_fake/stats":
            with state.lock:
                stats = {"requests": dict(state.requests), "accepted": len(state.notifications)}
            if query.get("messages") == "0":
                with state.lock:
                    self._json(200, {**stats, "accepted_log": list(state.accepted_log)})
                return
            self._json(200, {**stats, "references": state.our_message_ids()})
            return
        state.count("GET notifications")
        try:
            check_token(self.headers.get("Authorization", ""), state)
            if path.path != LIST:
                raise NotifyError(404, "NoResultFound", "No result found")
            found = state.find(query.get("reference"))
            kind = query.get("template_type")
            found = [n for n in found if kind in (None, n["type"])]
            self._json(200, {"notifications": found, "links": {"current": self.path}})
        except NotifyError as error:
            self._json(error.status, error.body())

    def do_POST(self) -> None:
        raw = self._body()
        path = urlsplit(self.path).path
        state = self.fake.state
        if path == "/_fake/faults":
            try:
                faults = NotifyFaults.from_json(json.loads(raw or "{}"))
            except (TypeError, ValueError) as error:
                self._json(400, {"error": str(error)})
                return
            with state.lock:
                state.faults = faults
            self._json(200, {"ok": True})
            return
        state.count("POST letter" if path == LETTER else "POST sms")
        try:
            check_token(self.headers.get("Authorization", ""), state)
            if path not in (SEND, LETTER):
                raise NotifyError(404, "NoResultFound", "No result found")
            try:
                data = json.loads(raw)
            except ValueError:
                raise NotifyError(
                    400, "ValidationError", "Invalid JSON supplied in POST data"
                ) from None
            self._create(path, data if isinstance(data, dict) else {})
        except NotifyError as error:
            self._json(error.status, error.body())

    def _create(self, path: str, data: dict[str, Any]) -> None:
        """A text or a letter, meeting the next fault first."""
        state = self.fake.state

        def create(client: str) -> dict[str, Any]:
            reply = (state.create_letter if path == LETTER else state.create)(data, client)
            if self.fake.callbacks is not None:
                [stored] = [n for n in state.find(data.get("reference")) if n["id"] == reply["id"]]
                self.fake.callbacks.enqueue(stored)
            return reply

        self._create_meeting_fault(state, _refuse, create)


def _refuse(fault: str) -> None:
    """Notify's error reply for a fault that is one."""
    if fault == "403":  # the key revoked mid-run
        raise NotifyError(403, "AuthError", "Invalid token: API key revoked")
    if fault == "429":
        raise NotifyError(
            429,
            "RateLimitError",
            "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
        )
    if fault == "500":
        raise NotifyError(500, "Exception", "Internal server error")


def nudge_env(url: str) -> dict[str, str]:
    """The settings that point `nudge dispatch` (the real Notify client) at this fake."""
    return {
        "NUDGE_SMS_PROVIDER": "notify",
        "NOTIFY_API_KEY": FAKE_API_KEY,
        "NOTIFY_SMS_TEMPLATE_ID": FAKE_TEMPLATE_ID,
        "NOTIFY_SMS_SENDER_ID": FAKE_SENDER_ID,
        "NUDGE_NOTIFY_BASE_URL": url,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="A local fake GOV.UK Notify server for demos and tests."
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--now", help="pin created_at (ISO instant with an offset)")
    args = parser.parse_args(argv)
    pinned = datetime.fromisoformat(args.now) if args.now else None
    state = FakeNotifyState(now=(lambda: pinned) if pinned else None)
    serve(FakeNotifyServer(state, port=args.port))


if __name__ == "__main__":
    main()
