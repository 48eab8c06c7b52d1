"""The warning a breached guardrail puts on every page of its trial, worded by what became of
its mail: the contacts told, not told because mail is not set up, or not told because it failed.

Pure, and light to import: every page of a trial asks for it (analysis/pages.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class MailOutcome(StrEnum):
    """What became of a breach's mail to the trial's contacts (`guardrail_breach.mail`)."""

    SENT = "sent"
    NOT_CONFIGURED = "not_configured"  # NUDGE_SMTP_URL or NUDGE_MAIL_FROM not set
    FAILED = "failed"  # the server refused it or could not be reached: the audit log says why


# One sentence each, for a warning whose breaches all went the same way.
SUMMARY = {
    MailOutcome.SENT: "The trial's contacts were told by email; the data monitoring committee "
    "decides whether the arm goes on.",
    MailOutcome.NOT_CONFIGURED: "The trial's contacts were not told: mail is not set up on this "
    "service (NUDGE_SMTP_URL and NUDGE_MAIL_FROM). Tell them yourself now, so the data "
    "monitoring committee can decide whether the arm goes on, and ask whoever runs the service "
    "to set up mail.",
    MailOutcome.FAILED: "The trial's contacts were not told: the email to them failed (the audit "
    "log has the error). Tell them yourself now, so the data monitoring committee can decide "
    "whether the arm goes on, and ask whoever runs the service to check its mail settings.",
    None: "Whether the trial's contacts were told by email is recorded in the audit log "
    "(guardrail.mailed or guardrail.mail_failed); the data monitoring committee decides whether "
    "the arm goes on.",
}
# After each breach's words, when the breaches went different ways.
EACH = {
    MailOutcome.SENT: "Contacts told by email.",
    MailOutcome.NOT_CONFIGURED: "Contacts not told: mail is not set up. Tell them yourself.",
    MailOutcome.FAILED: "Contacts not told: the email failed. Tell them yourself.",
    None: "Whether contacts were told: see the audit log.",
}
MIXED = (
    "Not every breach reached the trial's contacts by email: each says below whether they were "
    "told. Tell them yourself of any they were not, so the data monitoring committee can decide "
    "whether the arm goes on."
)


@dataclass(frozen=True)
class BreachNotice:
    summary: str
    items: tuple[str, ...]


def breach_notice(breaches: Sequence[tuple[str, str | None]]) -> BreachNotice | None:
    """The warning for a trial's breaches, each (its words, its mail outcome or None), oldest
    first; None when there is none."""
    if not breaches:
        return None
    outcomes = {_outcome(mail) for _, mail in breaches}
    if len(outcomes) == 1:
        (only,) = outcomes
        return BreachNotice(SUMMARY[only], tuple(words for words, _ in breaches))
    return BreachNotice(MIXED, tuple(f"{words} {EACH[_outcome(mail)]}" for words, mail in breaches))


def _outcome(mail: str | None) -> MailOutcome | None:
    return MailOutcome(mail) if mail in set(MailOutcome) else None
