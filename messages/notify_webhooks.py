"""GOV.UK Notify's callbacks: check the bearer token, hand off to the services, answer quickly.

Notify posts JSON to the callback URLs a service sets in its API integration settings, with
`Authorization: Bearer <token>` where the token is the one set there (NOTIFY_CALLBACK_TOKEN
here), compared in constant time. A request without it gets 403 and nothing is recorded.
Delivery receipts, for texts and letters (`notification_type`), go through the same
forward-only update as Twilio's (messages/callbacks.py, with Notify's status tables); a
returned-letter report marks the letter returned (messages/returned_letters.py); received
texts go through the same reply handling (STOP, START, HELP, CONFIRM, survey answers).
Notify cannot carry a reply in the answer, as Twilio's TwiML does: a HELP text's answer is on
record for staff, not sent back.
"""

from __future__ import annotations

import hmac
import re
from typing import Any, NoReturn

from flask import Blueprint, Response, abort, current_app, g, request
from flask.typing import ResponseReturnValue

from experiments.phones import normalise_mobile
from messages.callbacks import ENDED_WITH_REASON, apply_status
from messages.providers.notify_errors import NOTIFY_LETTER_STATUS, NOTIFY_STATUS
from messages.replies import handle_reply
from messages.returned_letters import record_returned_letter
from nudge.web.access import WEBHOOK, allow

bp = Blueprint("notify_webhooks", __name__, url_prefix="/webhooks/notify")
_ID = re.compile(r"[0-9a-fA-F-]{1,64}")  # Notify's ids are UUIDs
_MESSAGE_ID = re.compile(r"[0-9]{1,18}")  # our reference: a message id
_NUMBER = re.compile(r"\+?[0-9]{6,16}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
RETURNED_BECAUSE = "GOV.UK Notify returned-letter report"


def _require_token() -> dict[str, Any]:
    """The posted JSON, once the bearer token is the one Notify was given; else 403."""
    expected = current_app.extensions["nudge"]["settings"].notify_callback_token
    given = request.headers.get("Authorization", "")
    if not expected or not hmac.compare_digest(
        given.encode("utf-8"), f"Bearer {expected}".encode()
    ):
        abort(403)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        _bad_request("the body must be a JSON object")
    return data


def _bad_request(reason: str) -> NoReturn:
    abort(Response(f"{reason}\n", status=400, mimetype="text/plain"))


def _field(data: dict[str, Any], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        _bad_request(f"missing field: {name}")
    if pattern is not None and not pattern.fullmatch(str(value)):
        _bad_request(f"malformed field: {name}")
    return str(value)


@bp.post("/status")
@allow(WEBHOOK)
def status() -> ResponseReturnValue:
    data = _require_token()
    provider_id = _field(data, "id", _ID)
    provider_status = _field(data, "status")
    letter = data.get("notification_type") == "letter"
    statuses = NOTIFY_LETTER_STATUS if letter else NOTIFY_STATUS
    if provider_status not in statuses:
        _bad_request("unknown status")
    reference = data.get("reference")
    message_id = None
    if isinstance(reference, str) and _MESSAGE_ID.fullmatch(reference):
        message_id = int(reference)  # another sender's reference is matched by Notify's id
    apply_status(
        g.db,
        current_app.extensions["nudge"]["clock"],
        message_id=message_id,
        provider_id=provider_id,
        provider_status=provider_status,
        # A status that ends the message unsent is the error code its event records.
        error_code=provider_status if statuses[provider_status] in ENDED_WITH_REASON else None,
        statuses=statuses,
    )
    g.db.commit()
    return "", 204


@bp.post("/inbound")
@allow(WEBHOOK)
def inbound() -> ResponseReturnValue:
    data = _require_token()
    provider_id = _field(data, "id", _ID)
    source = _phone(_field(data, "source_number", _NUMBER))
    destination = data.get("destination_number")
    to_number = _phone(destination) if isinstance(destination, str) and destination else ""
    # Notify's callback calls the text `message`; its received-texts API calls it `content`.
    text = data.get("message", data.get("content", ""))
    handle_reply(
        g.db,
        current_app.extensions["nudge"]["clock"],
        provider_id=provider_id,
        from_number=source,
        to_number=to_number,
        body=_CONTROL.sub("", text if isinstance(text, str) else ""),
    )
    g.db.commit()
    return "", 204


def _phone(number: str) -> str:
    """Notify's numbers come as 447700900123: ours are E.164 (+447700900123)."""
    international = number if number.startswith(("+", "0")) else "+" + number
    try:
        return normalise_mobile(international)
    except ValueError:
        return international  # not a UK mobile: kept as sent, for staff


@bp.post("/returned-letter")
@allow(WEBHOOK)
def returned_letter() -> ResponseReturnValue:
    """Notify's report of a letter that came back: `returned`, and the person's later letters
    withheld (messages/returned_letters.py). Notify gives no reason: the event says who said so."""
    data = _require_token()
    provider_id = _field(data, "notification_id", _ID)
    reference = data.get("reference")
    message_id = None
    if isinstance(reference, str) and _MESSAGE_ID.fullmatch(reference):
        message_id = int(reference)
    record_returned_letter(
        g.db,
        current_app.extensions["nudge"]["clock"],
        message_id=message_id,
        provider_id=provider_id,
        why=RETURNED_BECAUSE,
    )
    g.db.commit()
    return "", 204
