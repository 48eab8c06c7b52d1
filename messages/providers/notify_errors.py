"""GOV.UK Notify's answers, sorted for dispatch and callbacks: the one table (docs/messages.md).

Pure and without the client, so dispatch and the webhooks can read it cheaply. Notify's API
errors are an HTTP status and an error name (`{"errors": [{"error": "ValidationError",
"message": "phone_number Not a UK mobile number"}], "status_code": 400}`); each becomes one of
our codes (at most 20 characters: the event's `error_code` column), which says whether it is
worth retrying and, for a permanent one, the reason the message records.
"""

from __future__ import annotations

from dataclasses import dataclass

from nudge.models.statuses import MessageStatus, Reason


@dataclass(frozen=True)
class NotifyRefusal:
    """What one kind of Notify error means for the message it answered."""

    code: str
    transient: bool
    reason: Reason | None  # for a permanent refusal; the run-stopping ones say why it stopped
    description: str


INVALID_NUMBER = NotifyRefusal(
    "notify-400-number", False, Reason.INVALID_NUMBER, "Notify cannot text this number"
)
INVALID_REQUEST = NotifyRefusal(
    "notify-400", False, Reason.PROVIDER_REJECTED, "Notify refused the text as invalid"
)
AUTH_REFUSED = NotifyRefusal(
    "notify-403",
    True,
    Reason.CREDENTIALS_REFUSED,
    "Notify refused the API key: check NOTIFY_API_KEY (and that this machine's clock is right)",
)
RATE_LIMIT = NotifyRefusal("notify-429", True, Reason.RATE_LIMITED, "Notify asked us to slow down")
SERVER_ERROR = NotifyRefusal("notify-5xx", True, None, "Notify had a server error")
NOT_FOUND = NotifyRefusal(
    "notify-404",
    True,
    None,
    "Notify does not know this address or template: check NUDGE_NOTIFY_BASE_URL and "
    "NOTIFY_SMS_TEMPLATE_ID",
)

# (HTTP status, Notify's error name) -> what it means; `refusal_for` falls back by status.
NOTIFY_ERRORS: dict[tuple[int, str], NotifyRefusal] = {
    (400, "ValidationError"): INVALID_REQUEST,  # a phone_number message: INVALID_NUMBER
    (400, "BadRequestError"): INVALID_REQUEST,  # trial mode, team-only key, template wrong
    (401, "AuthError"): AUTH_REFUSED,
    (403, "AuthError"): AUTH_REFUSED,
    (404, "NoResultFound"): NOT_FOUND,
    (429, "RateLimitError"): RATE_LIMIT,  # requests per minute for the key
    (429, "TooManyRequestsError"): RATE_LIMIT,  # the service's daily limit
    (500, "Exception"): SERVER_ERROR,
}

# Notify's delivery statuses (its callbacks and its notification records) -> ours; None means
# nothing new (the send itself recorded it).
NOTIFY_STATUS: dict[str, MessageStatus | None] = {
    "created": None,
    "sending": None,
    "pending": None,
    "sent": MessageStatus.SENT,  # an international text, sent without a receipt
    "delivered": MessageStatus.DELIVERED,
    "permanent-failure": MessageStatus.UNDELIVERED,  # the number does not exist or is off
    "temporary-failure": MessageStatus.UNDELIVERED,  # the phone was off for 72 hours
    "technical-failure": MessageStatus.FAILED,  # Notify's own or its supplier's fault
}


# Notify's letter statuses -> ours. A letter Notify accepted is `sent` (with Notify: the PDF is
# with it, and paid for); `received` is the printer's word that it was posted, which `sent`
# already says of a letter. Failures are final: the letter was not posted (and counts as not
# delivered); `cancelled` means someone cancelled it in Notify before it was printed. A letter
# that comes back is Notify's returned-letter report, not a status (POST
# /webhooks/notify/returned-letter).
NOTIFY_LETTER_STATUS: dict[str, MessageStatus | None] = {
    "created": None,
    "sending": None,
    "pending-virus-check": None,  # Notify is scanning the PDF
    "accepted": None,  # Notify is printing it
    "received": MessageStatus.SENT,  # the printer posted it
    "delivered": MessageStatus.SENT,  # a test key's letter: nothing is printed
    "cancelled": MessageStatus.CANCELLED,
    "virus-scan-failed": MessageStatus.FAILED,
    "validation-failed": MessageStatus.FAILED,  # the PDF broke Notify's letter rules
    "technical-failure": MessageStatus.FAILED,
    "permanent-failure": MessageStatus.FAILED,  # the printer cannot print it
}


def refusal_for(status: int, error: str, message: str) -> NotifyRefusal:
    """The table's entry for one Notify error reply (unknown names fall back by status)."""
    found = NOTIFY_ERRORS.get((status, error))
    if found is None:
        if status in (401, 403):
            found = AUTH_REFUSED
        elif status == 429:
            found = RATE_LIMIT
        elif status >= 500:
            found = SERVER_ERROR
        elif status == 404:
            found = NOT_FOUND
        else:
            found = INVALID_REQUEST
    if found is INVALID_REQUEST and message.startswith("phone_number"):
        return INVALID_NUMBER
    return found


# The codes dispatch treats as permanent (the reason each records) and as stopping the run.
PERMANENT: dict[str, Reason] = {
    r.code: r.reason for r in (INVALID_NUMBER, INVALID_REQUEST) if r.reason is not None
}
STOPS_RUN: dict[str, Reason] = {
    AUTH_REFUSED.code: Reason.CREDENTIALS_REFUSED,
    RATE_LIMIT.code: Reason.RATE_LIMITED,
}
