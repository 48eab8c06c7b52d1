"""Message statuses, reason codes and channels in words, for pages; downloads keep the codes.

One place for every page that shows a message (the log, a person's timeline), so that a
status reads the same everywhere and a new enum member without words fails a test
(tests/messages/test_words.py) rather than showing its code. Each entry has a short label
for a table cell or a filter's choice, and a sentence for the page's glossary. A code these
tables do not know (one from an older version) is shown as itself rather than hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from nudge.models import MessageStatus, Reason

PROVIDER_PREFIX = "provider_"
NO_BREAK_SPACE = "\u00a0"


@dataclass(frozen=True)
class Words:
    label: str  # a status: capitalised; a reason: a phrase to follow "Status: "
    meaning: str  # one or two sentences, for the glossary


STATUS_WORDS: dict[MessageStatus, Words] = {
    MessageStatus.SCHEDULED: Words("Waiting to be sent", "Planned, and will be sent when due."),
    MessageStatus.CLAIMED: Words(
        "Picked up for sending", "A sending worker has taken it and is about to check and send it."
    ),
    MessageStatus.SENDING: Words(
        "Being sent",
        "On record as going to the provider, so that it can never be sent twice.",
    ),
    MessageStatus.SENT: Words(
        "Sent", "The provider accepted the text; for a letter, it was posted."
    ),
    MessageStatus.DELIVERED: Words("Delivered", "The phone network says the text arrived."),
    MessageStatus.UNDELIVERED: Words(
        "Not delivered", "The phone network could not deliver the text."
    ),
    MessageStatus.FAILED: Words(
        "Failed", "The provider refused the text for good, or it ran out of time to try again."
    ),
    MessageStatus.CANCELLED: Words(
        "Cancelled before sending",
        "Planned, then stopped because it was no longer safe or useful to send.",
    ),
    MessageStatus.SKIPPED: Words(
        "Never to be sent", "Decided when it was planned: it was not safe or not possible."
    ),
    MessageStatus.SUPERSEDED: Words(
        "Replaced", "Its hearing moved, so a new message was planned for the new date."
    ),
    MessageStatus.UNKNOWN: Words(
        "Unknown: needs checking",
        "Sending was interrupted and the provider's records could not say whether it went.",
    ),
    MessageStatus.RETURNED: Words(
        "Returned",
        "Posted, then returned by the post: it did not reach the person.",
    ),
    MessageStatus.HELD: Words(
        "Held while paused",
        "Its arm, or the trial, is paused: it waits, and goes on resume if still in time.",
    ),
}

REASON_WORDS: dict[Reason, Words] = {
    Reason.QUIET_HOURS_DEFERRED: Words(
        "moved out of quiet hours",
        "Its time fell in the trial's quiet hours, so it waits until they end.",
    ),
    Reason.LATE_ENROLMENT: Words(
        "enrolled too late for it",
        "The person was enrolled (or the date the message counts from was recorded) after this "
        "message's time, and the trial does not send late.",
    ),
    Reason.LATE_ENROLMENT_SENT_LATE: Words(
        "enrolled late, so sent at the next chance",
        "The person was enrolled (or the date the message counts from was recorded) after this "
        "message's time, so it goes at the next allowed time.",
    ),
    Reason.HEARING_STARTED: Words(
        "the hearing would have started",
        "Its time would have been at or after the start of the hearing it reminds of or tells "
        "of (for a moved hearing, the new start; for one called off, the old).",
    ),
    Reason.SAFEGUARDING: Words(
        "a safeguarding flag", "The person has a safeguarding flag, so nothing is sent to them."
    ),
    Reason.NO_CONSENT: Words(
        "no consent, or no number or address",
        "The person did not consent to this channel, or there is no phone number for a text "
        "or no address for a letter.",
    ),
    Reason.OPTED_OUT: Words(
        "the person opted out",
        "The number replied STOP (or the phone network reports it unsubscribed), so no more "
        "texts go to it.",
    ),
    Reason.HEARING_VACATED: Words(
        "the hearing was vacated",
        "The hearing will not go ahead, so there is no longer a hearing to remind about or "
        "tell of; messages about the rest of the case still go.",
    ),
    Reason.HEARING_MOVED: Words(
        "the hearing moved",
        "The hearing has a new date, so its messages were planned again from it (a text about "
        "an earlier move that had not gone yet is replaced by one about the latest).",
    ),
    Reason.CASE_ENDED: Words(
        "the case ended",
        "The case was withdrawn, discontinued or concluded, or a verdict was recorded, so only "
        "messages about the ending or what comes after it still go.",
    ),
    Reason.DATES_CHANGED: Words(
        "its dates changed before it went",
        "It was planned from dates that changed while it was being sent (a hearing moved or "
        "listed again), so it was stopped at the last check; one planned from the new dates "
        "goes instead.",
    ),
    Reason.EXPIRED: Words(
        "too late to be useful",
        "Its time to send passed (a reminder at the start of what it reminds of, news a day "
        "after it was due, a letter after its posting day), or it ran out of tries before then.",
    ),
    Reason.TRIAL_NOT_LIVE: Words(
        "the trial is not live", "The trial was closed before the message was due."
    ),
    Reason.SURVEY_ANSWERED: Words(
        "the survey was answered",
        "A survey's reminder: the person had answered the question, so it was not sent.",
    ),
    Reason.SURVEY_CLOSED: Words(
        "the survey had closed",
        "A survey's reminder: the question stopped taking answers before it could go.",
    ),
    Reason.SURVEY_NOT_SENT: Words(
        "the survey question never went",
        "A survey's reminder: the question it reminds of was never sent, so neither was it.",
    ),
    Reason.ARM_PAUSED: Words(
        "arm paused",
        "Held because its arm, or the whole trial, was paused; it waits for the resume.",
    ),
    Reason.PAUSED_PAST_DUE: Words(
        "due while paused",
        "Its time came while its arm was paused, and the trial does not send late messages.",
    ),
    Reason.SENT_LATE_AFTER_PAUSE: Words(
        "sent late after a pause",
        "Its time came while its arm was paused; the trial sends late messages, so it went on "
        "resume, at the next time texts may go.",
    ),
    Reason.LETTER_RETURNED: Words(
        "an earlier letter was returned",
        "A letter to this person came back, so their address is wrong: no more letters go.",
    ),
    Reason.LETTER_NOT_A4: Words(
        "the letter is not A4 upright",
        "A page of the letter's PDF is not A4 portrait, which GOV.UK Notify needs: not sent.",
    ),
    Reason.LETTER_TOO_LONG: Words(
        "the letter is over 10 pages",
        "GOV.UK Notify posts letters of at most 10 pages and this one is longer: not sent.",
    ),
    Reason.LETTER_OUTSIDE_PRINTABLE_AREA: Words(
        "the letter prints outside its area",
        "Something on the letter is in a margin or space GOV.UK Notify keeps clear: not sent.",
    ),
    Reason.LETTER_FONTS_NOT_EMBEDDED: Words(
        "the letter's fonts are not embedded",
        "The letter's PDF uses a font it does not carry, which GOV.UK Notify needs: not sent.",
    ),
    Reason.LETTER_ADDRESS_UNUSABLE: Words(
        "the address cannot be posted to",
        "The address block needs 3 to 7 lines ending in a UK postcode, and fit the window: "
        "not sent.",
    ),
    Reason.LETTER_UNPRINTABLE: Words(
        "the letter could not be made",
        "The letter's template could not be filled in, or its PDF could not be read: not sent.",
    ),
    Reason.INVALID_NUMBER: Words(
        "not a valid phone number", "The provider says the number cannot be a phone number."
    ),
    Reason.UNKNOWN_DESTINATION: Words(
        "the network does not know the number",
        "The phone network has no phone with this number.",
    ),
    Reason.LANDLINE_OR_UNREACHABLE: Words(
        "a landline or unreachable phone",
        "The number is a landline, or the phone could not be reached.",
    ),
    Reason.PROVIDER_REJECTED: Words(
        "the provider refused it", "The provider refused the text for another reason."
    ),
    Reason.CREDENTIALS_REFUSED: Words(
        "the provider refused our account",
        "The provider refused the account's credentials, so sending stopped; nothing was lost.",
    ),
    Reason.RATE_LIMITED: Words(
        "the provider asked us to slow down",
        "The provider refused texts for coming too fast, so sending paused.",
    ),
}

PROVIDER_ERROR = Words(
    "provider error {code}",
    "The phone network reported this error code when delivery failed; the provider's "
    "documentation explains each code.",
)

CHANNEL_WORDS: dict[str, str] = {"sms": "Text (SMS)", "letter": "Letter"}


@dataclass(frozen=True)
class GlossaryEntry:
    words: str
    meaning: str
    code: str  # as a download has it


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


STATUS_GLOSSARY = tuple(
    GlossaryEntry(w.label, w.meaning, status.value) for status, w in STATUS_WORDS.items()
)
REASON_GLOSSARY = (
    *(GlossaryEntry(_capitalised(w.label), w.meaning, r.value) for r, w in REASON_WORDS.items()),
    GlossaryEntry(
        _capitalised(PROVIDER_ERROR.label.format(code="30003")) + ", or another number",
        PROVIDER_ERROR.meaning,
        f"{PROVIDER_PREFIX}30003",
    ),
)


# Looked up by the text a row holds, which may be a plain str rather than a member.
_STATUS_BY_CODE = {status.value: words for status, words in STATUS_WORDS.items()}
_REASON_BY_CODE = {reason.value: words for reason, words in REASON_WORDS.items()}


def status_label(code: str) -> str:
    """A status in words ("Cancelled before sending"), or the code if it has none."""
    words = _STATUS_BY_CODE.get(code)
    return words.label if words else code


def reason_label(code: str) -> str:
    """A reason code in words ("the person opted out"), or the code if it has none."""
    if code in _REASON_BY_CODE:
        return _REASON_BY_CODE[code].label
    if code.startswith(PROVIDER_PREFIX) and len(code) > len(PROVIDER_PREFIX):
        return PROVIDER_ERROR.label.format(code=code.removeprefix(PROVIDER_PREFIX))
    return code


def message_state(status: str, reason: str | None) -> str:
    """What happened to a message, in one phrase: "Cancelled before sending: the person
    opted out"."""
    return f"{status_label(status)}: {reason_label(reason)}" if reason else status_label(status)


def reason_choice(code: str) -> str:
    """A reason in words as an item of a list ("The person opted out")."""
    return _capitalised(reason_label(code))


def channel_label(code: str) -> str:
    return CHANNEL_WORDS.get(code, code)


def local_time(instant: datetime | None, zone: ZoneInfo) -> str:
    """An instant in the trial's time, its parts joined by no-break spaces so that it never
    wraps inside ("Wed 3 Mar 2027 18:00 GMT"); empty for None."""
    if instant is None:
        return ""
    shown = instant.astimezone(zone)
    return f"{shown:%a} {shown.day} {shown:%b %Y %H:%M %Z}".replace(" ", NO_BREAK_SPACE)
