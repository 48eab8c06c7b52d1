"""Statuses and reason codes as types, so that mypy refuses one that does not exist.

Each member is a `str` equal to, and hashed like, the text stored in the database: the ORM,
Core statements, sqlite3's executemany and psycopg's COPY all store a member as that text, and
a status read back is a plain `str` that compares equal to its member. The columns stay text,
so no data changes. The life of a message and what each reason means: docs/messages.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NewType


class MessageStatus(StrEnum):
    """Where a message is: only `scheduled`, `claimed`, `sending`, `unknown` and `held` can
    change."""

    SCHEDULED = "scheduled"
    CLAIMED = "claimed"  # taken by a worker, under a lease
    SENDING = "sending"  # on record before the provider is asked
    SENT = "sent"  # the provider took it (a letter: posted)
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELLED = "cancelled"  # no longer safe or useful to send, with its reason
    SKIPPED = "skipped"  # never going to be sent, from planning on, with its reason
    SUPERSEDED = "superseded"  # its hearing moved: planned again at the hearing's new version
    UNKNOWN = "unknown"  # an interrupted send the provider's records could not settle
    RETURNED = "returned"  # a posted letter the print supplier reports returned (not delivered)
    HELD = "held"  # its arm, or the trial, is paused: it waits for the resume (messages/pausing.py)


class EventStatus(StrEnum):
    """What a `message_event` records that is not a status a message can have."""

    RETRY = "retry"  # a transient refusal: back to `scheduled`, due again after a backoff


ProviderStatus = NewType("ProviderStatus", str)
"""The provider's own word for a message's status (Twilio's `queued`), kept on an event as it
came when it tells us nothing new."""


class Reason(StrEnum):
    """Why a message is planned as it is, or why it was not sent (`message.reason`)."""

    # Planning (messages/schedule.py)
    QUIET_HOURS_DEFERRED = "quiet_hours_deferred"
    LATE_ENROLMENT = "late_enrolment"
    LATE_ENROLMENT_SENT_LATE = "late_enrolment_sent_late"
    HEARING_STARTED = "hearing_started"
    # Not safe or no longer useful: at planning, when things change, at the last check
    SAFEGUARDING = "safeguarding"
    NO_CONSENT = "no_consent"  # also: no phone for a text, no address for a letter
    OPTED_OUT = "opted_out"
    HEARING_VACATED = "hearing_vacated"  # the hearing is off, the case goes on
    HEARING_MOVED = "hearing_moved"  # superseded at re-planning: a new row was planned
    CASE_ENDED = "case_ended"  # withdrawn, discontinued, concluded, or a verdict recorded
    DATES_CHANGED = "dates_changed"  # refused at the last check: planned from older dates
    EXPIRED = "expired"
    TRIAL_NOT_LIVE = "trial_not_live"
    # A survey's reminder (docs/messages.md, "Surveys")
    SURVEY_ANSWERED = "survey_answered"  # an answer came: no reminder
    SURVEY_CLOSED = "survey_closed"  # the question closed before the reminder could go
    SURVEY_NOT_SENT = "survey_not_sent"  # the question itself never went
    # Pausing (messages/pausing.py)
    ARM_PAUSED = "arm_paused"  # held while its arm or the trial is paused
    PAUSED_PAST_DUE = "paused_past_due"  # due while paused, and the trial's late: rule is skip
    SENT_LATE_AFTER_PAUSE = (
        "sent_late_after_pause"  # due while paused, sent on resume (late: next_window)
    )
    LETTER_RETURNED = "letter_returned"  # an earlier letter came back: the address is wrong
    # A letter for GOV.UK Notify whose PDF breaks its precompiled-letter rules, found before
    # it is sent (messages/letter_check.py); or one that could not be made at all
    LETTER_NOT_A4 = "letter_not_a4_portrait"
    LETTER_TOO_LONG = "letter_too_long"
    LETTER_OUTSIDE_PRINTABLE_AREA = "letter_outside_printable_area"
    LETTER_FONTS_NOT_EMBEDDED = "letter_fonts_not_embedded"
    LETTER_ADDRESS_UNUSABLE = "letter_address_unusable"
    LETTER_UNPRINTABLE = "letter_unprintable"
    # The provider refused the text for good (besides `opted_out`)
    INVALID_NUMBER = "invalid_number"
    UNKNOWN_DESTINATION = "unknown_destination"
    LANDLINE_OR_UNREACHABLE = "landline_or_unreachable"
    PROVIDER_REJECTED = "provider_rejected"
    # The provider refused every text alike: the run stopped (on the event, never the message)
    CREDENTIALS_REFUSED = "credentials_refused"
    RATE_LIMITED = "rate_limited"


def provider_reason(error_code: str) -> str:
    """The reason a delivery failure reported by a status callback records: the provider's
    error code, which no list of ours can hold in advance (`provider_30003`)."""
    return f"provider_{error_code}"


class HearingStatus(StrEnum):
    """A hearing's status as the court list gives it."""

    LISTED = "listed"
    ADJOURNED = "adjourned"
    VACATED = "vacated"
    EFFECTIVE = "effective"
    CONCLUDED = "concluded"
    WITHDRAWN = "withdrawn"  # the prosecution withdrew the case: it ends
    DISCONTINUED = "discontinued"  # the prosecution discontinued the case: it ends


HEARING_ENDED = frozenset(
    {
        HearingStatus.VACATED,
        HearingStatus.CONCLUDED,
        HearingStatus.WITHDRAWN,
        HearingStatus.DISCONTINUED,
    }
)
"""Statuses after which no reminder is sent for the hearing (until it is listed again)."""

HEARING_CALLED_OFF = frozenset(
    {HearingStatus.VACATED, HearingStatus.WITHDRAWN, HearingStatus.DISCONTINUED}
)
"""The hearing will not happen: people need not come (an `on: hearing_vacated` message)."""

CASE_ENDED_STATUSES = frozenset(
    {HearingStatus.CONCLUDED, HearingStatus.WITHDRAWN, HearingStatus.DISCONTINUED}
)
"""The case is over, not only this hearing (docs/messages.md, "When a case ends")."""


class Timing(StrEnum):
    """How a message's time relates to its anchor (`message.timing`): counted before or after
    it (`send:`), or sent when something happens to it (`on:`)."""

    BEFORE = "before"  # days_before, hours_before
    AFTER = "after"  # days_after, hours_after
    HEARING_MOVED = "hearing_moved"  # on: hearing_moved
    HEARING_VACATED = "hearing_vacated"  # on: hearing_vacated
    MILESTONE = "milestone"  # on: milestone NAME


class TrialStatus(StrEnum):
    """A trial's life: a draft is launched once, and a live trial is closed once."""

    DRAFT = "draft"
    LIVE = "live"
    CLOSED = "closed"


MESSAGE_STATUSES: tuple[MessageStatus, ...] = tuple(MessageStatus)
HEARING_STATUSES: tuple[HearingStatus, ...] = tuple(HearingStatus)
TRIAL_STATUSES: tuple[TrialStatus, ...] = tuple(TrialStatus)
