"""Twilio's callbacks: validate the signature, hand off to the services, answer quickly.

The only unauthenticated POSTs in the app; a request without a valid X-Twilio-Signature for
the public URL gets 403 and nothing is recorded.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, current_app, g, request
from flask.typing import ResponseReturnValue
from twilio.request_validator import RequestValidator

from messages.callbacks import apply_status
from messages.replies import handle_reply
from nudge.web.access import WEBHOOK, allow

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/twilio")
# What Twilio's fields look like. A signed request whose fields do not fit gets a clear 400
# before anything is looked up or stored (the columns are bounded; PostgreSQL refuses NUL).
_SID = re.compile(r"[A-Za-z0-9]{1,64}")
_STATUS = re.compile(r"[A-Za-z_]{1,20}")
_ERROR_CODE = re.compile(r"[0-9]{1,10}")
_ADDRESS = re.compile(r"[A-Za-z0-9+:._ -]{1,20}")  # +44..., whatsapp:+44..., or a sender name
_MESSAGE_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a 64-bit id
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def signing_token() -> str:
    """Twilio signs with the account's auth token; the console provider uses the app's secret."""
    return str(current_app.extensions["nudge"]["settings"].webhook_token)


def _signed_url() -> str:
    settings = current_app.extensions["nudge"]["settings"]
    base = settings.public_url or request.host_url.rstrip("/")
    query = request.query_string.decode("utf-8")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def _require_signature() -> dict[str, str]:
    form = request.form.to_dict()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(signing_token()).validate(
        _signed_url(), form, signature
    ):
        abort(403)
    return form


def _bad_request(reason: str) -> None:
    abort(Response(f"{reason}\n", status=400, mimetype="text/plain"))


def _required(form: dict[str, str], *names: str) -> None:
    missing = [name for name in names if not form.get(name)]
    if missing:
        _bad_request(f"missing form field(s): {', '.join(missing)}")


def _well_formed(form: dict[str, str], **patterns: re.Pattern[str]) -> None:
    wrong = [
        name
        for name, pattern in patterns.items()
        if form.get(name) and not pattern.fullmatch(form[name])
    ]
    if wrong:
        _bad_request(f"malformed form field(s): {', '.join(wrong)}")


def _message_id() -> int | None:
    """Our message id from the callback URL (?m=ID), when it carries one."""
    text = request.args.get("m", "")
    if text and not _MESSAGE_ID.fullmatch(text):
        _bad_request("malformed query parameter: m")
    return int(text) if text else None


@bp.post("/status")
@allow(WEBHOOK)
def status() -> ResponseReturnValue:
    form = _require_signature()
    _required(form, "MessageSid", "MessageStatus")
    _well_formed(form, MessageSid=_SID, MessageStatus=_STATUS, ErrorCode=_ERROR_CODE)
    apply_status(
        g.db,
        current_app.extensions["nudge"]["clock"],
        message_id=_message_id(),
        provider_id=form["MessageSid"],
        provider_status=form["MessageStatus"],
        error_code=(form.get("ErrorCode") or None),
    )
    g.db.commit()
    return "", 204


@bp.post("/inbound")
@allow(WEBHOOK)
def inbound() -> ResponseReturnValue:
    form = _require_signature()
    _required(form, "MessageSid", "From")
    _well_formed(form, MessageSid=_SID, From=_ADDRESS, To=_ADDRESS)
    outcome = handle_reply(
        g.db,
        current_app.extensions["nudge"]["clock"],
        provider_id=form["MessageSid"],
        from_number=form["From"],
        to_number=form.get("To", ""),
        body=_CONTROL.sub("", form.get("Body", "")),  # a phone sends no NUL or escapes
    )
    g.db.commit()
    reply = f"<Message>{escape(outcome.reply)}</Message>" if outcome.reply else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{reply}</Response>',
        mimetype="application/xml",
    )
