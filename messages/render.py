"""The last check before a text goes, and the text itself, for one claimed message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlmodel import Session, col

from experiments import trials
from experiments.definition import HEARING, TrialDefinition
from messages.endings import stop_reason
from messages.providers.base import OutgoingSms
from messages.segments import count_segments
from messages.surveys import reminder_withheld, survey_texts
from messages.templates import choose_language, hearing_date_text, hearing_time_text, render
from nudge.models import (
    Hearing,
    Message,
    OptOut,
    Participant,
    Reason,
    Trial,
    TrialStatus,
)
from nudge.models.statuses import Timing

TWILIO_MAX_VALIDITY_S = 36_000


@dataclass(frozen=True)
class Prepared:
    """A text that passed the last check: what to send, what it costs, how fast it may go."""

    sms: OutgoingSms
    segments: int
    cost: float
    max_per_second: float  # the trial's rate, shared by all its workers


@dataclass(frozen=True)
class Withheld:
    """A text that must not go now; `reason` is the reason code it is cancelled with."""

    reason: Reason


class RenderCache:
    """Renders claimed messages, reading each trial's definition once per dispatch run."""

    def __init__(self, public_url: str | None) -> None:
        self.public_url = public_url
        self.definitions: dict[str, tuple[str, TrialDefinition]] = {}

    def prepare(
        self,
        session: Session,
        message: Message,
        now: datetime,
        opted_out: set[str] | None = None,
        loaded: tuple[Participant, Hearing] | None = None,
    ) -> Prepared | Withheld:
        """The text to send with its segments, cost and the trial's rate; or why not to send.

        `opted_out`: the numbers among the caller's batch known to have opted out, read just
        before; without it the opt-out is looked up for this one message. `loaded`: the
        message's person and hearing, when the caller read them with it.
        """
        status, definition = self._definition(session, message.trial_id)
        if loaded is None:
            participant = session.get(Participant, message.participant_id)
            hearing = session.get(Hearing, message.hearing_id)
        else:
            participant, hearing = loaded
        assert participant is not None and hearing is not None
        withheld = withheld_reason(
            session, status, participant, hearing, message, now, opted_out=opted_out
        ) or reminder_withheld(session, definition, participant.id or 0, message.template, now)
        if withheld is not None:
            return Withheld(withheld)
        assert participant.phone is not None
        texts = survey_texts(definition, message.template) or definition.templates[message.template]
        language = choose_language(texts, message.language)
        body = render(
            str(texts[language]),
            context(definition, participant, hearing, now, language, message),
            channel="sms",
        )
        segments = count_segments(body).segments
        remaining = int((message.expires_at - now).total_seconds())
        sms = OutgoingSms(
            message_id=message.id or 0,
            to=participant.phone,
            body=body,
            sender=definition.sending.sms_from,
            sender_id=definition.sending.notify_sms_sender_id,
            status_callback=f"{self.public_url}/webhooks/twilio/status?m={message.id}"
            if self.public_url
            else None,
            validity_seconds=max(1, min(remaining, TWILIO_MAX_VALIDITY_S)),
        )
        cost = round(segments * definition.costs.sms_segment, 4)
        return Prepared(sms, segments, cost, definition.sending.max_per_second)

    def _definition(self, session: Session, trial_id: str) -> tuple[str, TrialDefinition]:
        if trial_id not in self.definitions:
            trial = session.get(Trial, trial_id)
            assert trial is not None
            self.definitions[trial_id] = (trial.status, trials.current_definition(session, trial))
        return self.definitions[trial_id]


def withheld_reason(
    session: Session,
    trial_status: str,
    participant: Participant,
    hearing: Hearing,
    message: Message,
    now: datetime,
    *,
    opted_out: set[str] | None = None,
) -> Reason | None:
    """Checked again at the last moment, for a text or a letter: anything may have changed.

    A STOP reply opts a number out of texts only; a letter is stopped by withdrawing consent to
    letters (no_consent), as at planning. What the hearing's status says (messages/endings.py)
    and whether its dates are still those the message was planned from are read off the
    hearing, which the caller loads with the message: no query here but the opt-out's, and
    that only without the caller's set.
    """
    if participant.safeguarding_flag:
        return Reason.SAFEGUARDING
    if message.channel == "letter":
        if not participant.contact_letter or not participant.address:
            return Reason.NO_CONSENT
    elif not participant.contact_sms or not participant.phone:
        return Reason.NO_CONSENT
    elif _opted_out(session, participant.phone, opted_out):
        return Reason.OPTED_OUT
    stopped = stop_reason(message.anchor, message.timing, hearing.status)
    if stopped is not None:
        return stopped
    if message.anchor == HEARING and hearing.version != message.hearing_version:
        return Reason.DATES_CHANGED
    if now >= message.expires_at or (_before_the_hearing(message) and now >= hearing.starts_at):
        return Reason.EXPIRED
    if trial_status != TrialStatus.LIVE:
        return Reason.TRIAL_NOT_LIVE
    return None


def _before_the_hearing(message: Message) -> bool:
    """A reminder, useless once the hearing has started (a letter too: it would arrive late)."""
    return message.anchor == HEARING and message.timing == Timing.BEFORE


def _opted_out(session: Session, phone: str, known: set[str] | None) -> bool:
    """From the batch's pre-read set when the caller has one, else one look-up."""
    if known is not None:
        return phone in known
    return bool(session.execute(select(exists().where(col(OptOut.phone) == phone))).scalar())


def context(
    definition: TrialDefinition,
    participant: Participant,
    hearing: Hearing,
    now: datetime,
    language: str,
    message: Message | None = None,
) -> dict[str, Any]:
    """The placeholders a template may use, filled for one participant and hearing.

    With the `message`, those that depend on it too: a moved hearing's text tells of the start
    the person last knew (`previous_hearing_date`, `previous_hearing_time`) and the new one;
    a vacated hearing's, of the start they no longer need to come to (as `hearing_date` and
    `previous_hearing_date` both); a milestone's, of its date (`milestone_date`). Everything
    comes from the rows, so the same message renders the same text again (crash recovery
    compares it with the provider's records).
    """
    zone = ZoneInfo(definition.timezone)
    local_hearing = hearing.starts_at.astimezone(zone)
    hearing_date = hearing_date_text(local_hearing, language)
    hearing_time = hearing_time_text(local_hearing, language)
    previous_date, previous_time, milestone_date = hearing_date, hearing_time, ""
    told = message.anchor_at if message is not None else None
    if message is not None and told is not None:
        local_told = told.astimezone(zone)
        if message.timing in _TELLS_OF_A_START:
            previous_date = hearing_date_text(local_told, language)
            previous_time = hearing_time_text(local_told, language)
            if message.timing == Timing.HEARING_VACATED:
                local_hearing, hearing_date, hearing_time = local_told, previous_date, previous_time
        elif message.anchor != HEARING:
            milestone_date = hearing_date_text(local_told, language)
    values: dict[str, Any] = dict(participant.attributes)
    values.update(
        first_name=participant.first_name or "",
        last_name=participant.last_name or "",
        role=participant.role,
        language=participant.language,
        postcode=participant.postcode,
        court=hearing.court,
        court_name=hearing.court_name,
        hearing_date=hearing_date,
        hearing_time=hearing_time,
        previous_hearing_date=previous_date,
        previous_hearing_time=previous_time,
        milestone_date=milestone_date,
        care_unit_phone=definition.sending.care_unit_phone or "",
        days_until=(local_hearing.date() - now.astimezone(zone).date()).days,
    )
    for index in range(5):
        address = participant.address
        values[f"address_line_{index + 1}"] = address[index] if index < len(address) else ""
    return values


_TELLS_OF_A_START = (Timing.HEARING_MOVED, Timing.HEARING_VACATED)
