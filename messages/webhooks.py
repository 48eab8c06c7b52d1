"""Twilio's callbacks: validate the signature, hand off to the services, answer quickly.

The only unauthenticated POSTs in the app; a request without a valid X-Twilio-Signature for
the public URL gets 403 and nothing is recorded.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, current_app, g, request
from flask.typing import ResponseReturnValue
from twilio.request_validator import RequestValidator

from messages.callbacks import apply_status
from messages.replies import handle_reply
from nudge.web.access import WEBHOOK, allow

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/twilio")


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


def _required(form: dict[str, str], *names: str) -> None:
    missing = [name for name in names if not form.get(name)]
    if missing:
        abort(
            Response(
                f"missing form field(s): {', '.join(missing)}\n", status=400, mimetype="text/plain"
            )
        )


@bp.post("/status")
@allow(WEBHOOK)
def status() -> ResponseReturnValue:
    form = _require_signature()
    _required(form, "MessageSid", "MessageStatus")
    message_id = request.args.get("m", "")
    apply_status(
        g.db,
        current_app.extensions["nudge"]["clock"],
        message_id=int(message_id) if message_id.isdigit() else None,
        provider_id=form["MessageSid"][:64],
        provider_status=form["MessageStatus"][:30],
        error_code=(form.get("ErrorCode") or None),
    )
    g.db.commit()
    return "", 204


@bp.post("/inbound")
@allow(WEBHOOK)
def inbound() -> ResponseReturnValue:
    form = _require_signature()
    _required(form, "MessageSid", "From")
    outcome = handle_reply(
        g.db,
        current_app.extensions["nudge"]["clock"],
        provider_id=form["MessageSid"][:64],
        from_number=form["From"][:20],
        to_number=form.get("To", "")[:20],
        body=form.get("Body", ""),
    )
    g.db.commit()
    reply = f"<Message>{escape(outcome.reply)}</Message>" if outcome.reply else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{reply}</Response>',
        mimetype="application/xml",
    )
