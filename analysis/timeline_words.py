"""How a person's timeline says things: statuses, reasons, hearing changes, sources, strata.

Pure: stored values in, words out. Codes with no words of their own are read aloud
(`hearing_vacated` reads "hearing vacated"); a contact column (used, unusually, for clustering
or as a stratum) is never shown, only said to be hidden.
"""

from __future__ import annotations

from urllib.parse import unquote

from analysis.labels import Labels, humanise
from messages.words import message_state, reason_label
from nudge.models import HEARING_ENDED, MESSAGE_STATUSES, EventStatus, HearingChange, MessageEvent

CONTACT_FIELDS = frozenset({"first_name", "last_name", "phone", "address", "postcode"})
SOURCES = {
    "enrol": "enrolment file",
    "hearings": "court-list update",
    "outcomes": "outcomes file",
    "survey": "answer to the survey question",
}
REPLIES = {
    "stop": ("STOP", "Texts to this number stopped, in every trial"),
    "start": ("START", "Texts to this number allowed again"),
    "help": ("HELP", "The trial's help text sent back"),
    "confirm": ("CONFIRM", "Taken as confirming they will attend"),
    "survey": (
        "to a survey question",
        "Kept with the survey's answers; the first one read is the outcome",
    ),
    "other": ("a message for staff", "Kept for staff on the replies page"),
}


def opted_out_how(source: str) -> str:
    """How a number came to be opted out (`opt_out.source`)."""
    if source == "reply":
        return "They replied STOP"
    return "The carrier reported the number unsubscribed"


def change_title(change: HearingChange) -> str:
    """Moved, vacated, concluded, listed again: what a court-list change did to the hearing."""
    ended, was_ended = change.status in HEARING_ENDED, change.previous_status in HEARING_ENDED
    if ended and not was_ended:
        return f"Hearing {humanise(change.status)}"
    if was_ended and not ended:
        return "Hearing listed again"
    if change.starts_at != change.previous_starts_at:
        return "Hearing moved"
    return f"Hearing {humanise(change.status)}"


def stratum_words(stratum: str, labels: Labels) -> str:
    """`court=BRS|role=victim` → "court BRS, role victim" (the key's escapes undone)."""
    pairs = []
    for pair in stratum.split("|"):
        name, _, value = pair.partition("=")
        name = unquote(name)
        shown = "hidden (a contact detail)" if name in CONTACT_FIELDS else unquote(value)
        pairs.append(f"{labels.column(name)} {shown}")
    return ", ".join(pairs)


def cluster_words(unit: str, value: str) -> str:
    """Who was randomised together with them: their case, or everyone sharing a column's value."""
    if unit == "case":
        return f"everyone in case {value}"
    if unit in CONTACT_FIELDS:
        return f"everyone with the same {humanise(unit)} (hidden: a contact detail)"
    return f"everyone with {humanise(unit)} {value}"


def source_words(source: str) -> str:
    """`hearings:list.csv` → "court-list update list.csv"."""
    kind, _, name = source.partition(":")
    return f"{SOURCES[kind]} {name}" if kind in SOURCES and name else source


def event_words(event: MessageEvent) -> str:
    """A status change in words: the status, then why (the reason, the provider's error code).

    The provider's own error text is never read: it can quote the number it could not reach.
    """
    detail = event.detail or {}
    ours = event.status in MESSAGE_STATUSES or event.status == EventStatus.RETRY
    if ours:
        words = status_words(event.status, detail.get("reason"))
    else:  # a provider's word that told us nothing new (Twilio's "queued")
        words = f"The provider reported it {event.provider_status or event.status}"
    notes = []
    if event.error_code:
        notes.append(f"provider error {event.error_code}")
    if ours and detail.get("source") == "callback":
        notes.append("reported by the provider")
    if detail.get("note"):
        notes.append(str(detail["note"]))
    return f"{words} ({'; '.join(notes)})" if notes else words


def status_words(status: str, reason: str | None) -> str:
    """A status and its reason as the message log says them ("Cancelled before sending: the
    person opted out"); a retry, which is an event rather than a status, says so."""
    if status == EventStatus.RETRY:
        return "To be tried again" + (f": {reason_label(reason)}" if reason else "")
    return message_state(status, reason)
