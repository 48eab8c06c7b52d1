"""What happens around a trial while it runs: court-list changes and people's replies.

Court lists go through the real `update_hearings_and_replan` service (as `nudge hearings
update` does); replies go to the real inbound webhook over HTTP, signed as Twilio signs them
(or, with `--provider notify`, posted as Notify's received-text callback with its bearer
token).
"""

from __future__ import annotations

import json
import logging
import random
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from messages.intake import update_hearings_and_replan
from nudge.clock import Clock
from nudge.csvout import write_rows
from nudge.models import (
    Arm,
    Assignment,
    Case,
    Hearing,
    HearingStatus,
    Message,
    Organisation,
    Participant,
)

log = logging.getLogger(__name__)
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# What people reply to a text, and how often (the rest do not reply).
REPLIES = (("STOP", 0.012), ("CONFIRM", 0.03), ("Can I bring my mum?", 0.004))
# The social-norm framing puts some people off: each of its texts draws an extra STOP with this
# chance (about 15% of the arm's people opt out, against 1.2% of each text elsewhere), so that
# the demo's opt-out guardrail (5%) is breached by that arm alone.
EXTRA_STOP = {"social_norm": 0.05}
# The confidence survey (1 to 5): who answers the question, who answers its reminder instead,
# and each arm's answers. Control's shares have mean 3.0; TILT moves one point of mean per
# unit (sum 0, sum k*t = 1), so an arm's true effect on the mean is exactly CONFIDENCE_EFFECT.
SURVEY = "survey:confidence"
ANSWER_QUESTION, ANSWER_REMINDER = 0.45, 0.27  # about 60% answer in all
CONFIDENCE_BASE = (0.10, 0.20, 0.40, 0.20, 0.10)
TILT = (-1 / 6, -1 / 6, 0.0, 1 / 6, 1 / 6)
CONFIDENCE_EFFECT = {"control": 0.0, "practical": 0.30, "social_norm": 0.15}
WORDS = {
    "en": ("one", "two", "three", "four", "five"),
    "cy": ("un", "dau", "tri", "pedwar", "pump"),
}


@dataclass(frozen=True)
class Moves:
    moved: int
    vacated: int
    replanned: int
    cancelled: int


def court_list_update(
    engine: Engine,
    clock: Clock,
    trial_id: str,
    path: Path,
    rng: random.Random,
    zone: ZoneInfo,
    sites: tuple[str, ...] = (),
) -> Moves:
    """Adjourn about 8% of the hearings still ahead by one to four weeks; vacate about 2%.

    A multi-site trial's court lists are each site's own (`sites`, their short names): one
    file per site (`court-list-1-north-shire.csv`), each applied for its site."""
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        ahead = session.exec(
            select(Case.case_ref, Hearing, Case.site_id)
            .join(Hearing, col(Hearing.case_id) == Case.id)
            .where(
                Case.trial_id == trial_id,
                Hearing.status == HearingStatus.LISTED,
                col(Hearing.starts_at) > now + timedelta(days=2),
            )
            .order_by(col(Hearing.id))
        ).all()
        site_of = _site_slugs(session, sites)
        lists: dict[str | None, list[tuple[str, str, str]]] = {
            site: [] for site in sites or (None,)
        }
        for case_ref, hearing, site_id in ahead:
            draw = rng.random()
            rows = lists[site_of[site_id]] if sites else lists[None]
            if draw < 0.08:
                local = hearing.starts_at.astimezone(zone) + timedelta(weeks=rng.randint(1, 4))
                rows.append((case_ref, local.strftime("%Y-%m-%dT%H:%M"), HearingStatus.ADJOURNED))
            elif draw < 0.10:
                rows.append((case_ref, "", HearingStatus.VACATED))
        moves = Moves(0, 0, 0, 0)
        for site, rows in lists.items():
            file = path if site is None else path.with_name(f"{path.stem}-{site}{path.suffix}")
            with file.open("w", newline="", encoding="utf-8") as handle:
                write_rows(handle, ["case_ref", "hearing_start", "status"], rows)
            update = update_hearings_and_replan(
                session, clock, trial_id, file, "demo:court-list", site=site
            )
            session.commit()
            summary, outbox = update.summary, update.outbox
            found = Moves(
                len(summary.moved),
                len(summary.ended),
                outbox.superseded_and_replanned,
                outbox.cancelled,
            )
            log.info(
                "court list %s: %d hearing(s) adjourned, %d vacated; %d message(s) re-planned, "
                "%d cancelled",
                file.name,
                found.moved,
                found.vacated,
                found.replanned,
                found.cancelled,
            )
            moves = Moves(
                moves.moved + found.moved,
                moves.vacated + found.vacated,
                moves.replanned + found.replanned,
                moves.cancelled + found.cancelled,
            )
    return moves


def _site_slugs(session: Session, sites: tuple[str, ...]) -> dict[int | None, str]:
    """The short names of `sites` by organisation id."""
    if not sites:
        return {}
    rows = session.exec(
        select(Organisation.id, Organisation.slug).where(col(Organisation.slug).in_(sites))
    ).all()
    return {organisation_id: slug for organisation_id, slug in rows}


@dataclass(frozen=True, order=True)
class Reply:
    at: datetime
    message_id: int
    body: str
    kind: str = ""  # how the summary counts it; by default from the body


def _not_survey() -> ColumnElement[bool]:
    return col(Message.template).not_like("survey:%")


def replies_to(engine: Engine, trial_id: str, since: datetime, rng: random.Random) -> list[Reply]:
    """Draw who answers the texts sent since `since`, what they say, and when."""
    with Session(engine) as session:
        sent = session.exec(
            select(Message.id, Message.sent_at)
            .where(
                Message.trial_id == trial_id,
                Message.channel == "sms",
                col(Message.sent_at) >= since,
                _not_survey(),  # surveys' answers have their own stream (survey_answers)
            )
            .order_by(col(Message.id))
        ).all()
    replies = []
    for message_id, sent_at in sent:
        draw, threshold = rng.random(), 0.0
        for body, share in REPLIES:
            threshold += share
            if draw < threshold and message_id is not None and sent_at is not None:
                delay = timedelta(minutes=rng.randint(2, 180))
                replies.append(Reply(sent_at + delay, message_id, body))
                break
    return replies


def _sent_with_arm(
    engine: Engine, trial_id: str, since: datetime, *where: ColumnElement[bool]
) -> list[tuple[int, datetime, str, str, str]]:
    """(message id, sent at, template, arm, language) of the texts sent since `since`."""
    with Session(engine) as session:
        rows = session.exec(
            select(Message, Arm.key)
            .join(Assignment, col(Assignment.participant_id) == Message.participant_id)
            .join(Arm, col(Arm.id) == Assignment.arm_id)
            .where(
                Message.trial_id == trial_id,
                Message.channel == "sms",
                col(Message.sent_at) >= since,
                *where,
            )
            .order_by(col(Message.id))
        ).all()
    return [
        (m.id, m.sent_at, m.template, arm, m.language)
        for m, arm in rows
        if m.id is not None and m.sent_at is not None
    ]


def extra_opt_outs(
    engine: Engine, trial_id: str, since: datetime, rng: random.Random
) -> list[Reply]:
    """The STOP replies the social-norm framing adds to its own texts (not the survey's)."""
    replies = []
    for message_id, sent_at, _, arm, _ in _sent_with_arm(engine, trial_id, since, _not_survey()):
        if rng.random() < EXTRA_STOP.get(arm, 0.0):
            replies.append(
                Reply(sent_at + timedelta(minutes=rng.randint(2, 120)), message_id, "STOP")
            )
    return replies


def confidence_answer(rng: random.Random, arm: str) -> int:
    """A point from 1 to 5 drawn from the arm's shares (mean 3.0 + the arm's effect)."""
    shift = CONFIDENCE_EFFECT.get(arm, 0.0)
    shares = [b + shift * t for b, t in zip(CONFIDENCE_BASE, TILT, strict=True)]
    return rng.choices(range(1, 6), weights=shares)[0]


def survey_answers(
    engine: Engine, trial_id: str, since: datetime, rng: random.Random
) -> list[Reply]:
    """Who answers the confidence question (or, failing that, its reminder), what and when.

    Answering does not depend on the arm, so the arms' mean answers differ by the true effect.
    The answer comes in the forms people write: "4", "4 - fairly", "four", or in Welsh."""
    sent = _sent_with_arm(engine, trial_id, since, col(Message.template).like(f"{SURVEY}%"))
    replies = []
    for message_id, sent_at, template, arm, language in sent:
        chance = ANSWER_QUESTION if template == SURVEY else ANSWER_REMINDER
        if rng.random() >= chance:
            continue
        point = confidence_answer(rng, arm)
        forms = [str(point), f"{point} - fairly", WORDS["en"][point - 1]]
        if language == "cy":
            forms = [str(point), WORDS["cy"][point - 1], WORDS["cy"][point - 1]]
        body = rng.choice(forms)
        delay = timedelta(minutes=rng.randint(5, 36 * 60))  # before the reminder (48 hours)
        replies.append(Reply(sent_at + delay, message_id, body, "answers to the survey"))
    return replies


class ReplySender:
    """Posts replies to the inbound webhook as Twilio would, signed with the webhook token."""

    def __init__(self, engine: Engine, public_url: str, token: str, to_number: str) -> None:
        self.engine, self.url = engine, f"{public_url}/webhooks/twilio/inbound"
        self.to_number, self.token = to_number, token
        self.sent: dict[str, int] = {}
        self._count = 0

    def send(self, reply: Reply) -> None:
        with Session(self.engine) as session:
            message = session.get(Message, reply.message_id)
            assert message is not None
            participant = session.get(Participant, message.participant_id)
            assert participant is not None and participant.phone is not None
            phone = participant.phone
        self._count += 1
        request = self._request(phone, reply.body)
        with _DIRECT.open(request, timeout=10) as response:
            response.read()
        kind = reply.kind or (
            reply.body.split()[0].upper() if reply.body.isupper() else "free text"
        )
        self.sent[kind] = self.sent.get(kind, 0) + 1

    def _request(self, phone: str, body: str) -> urllib.request.Request:
        form = {
            "MessageSid": f"SM{self._count:032x}",
            "AccountSid": "AC" + "0" * 32,
            "From": phone,
            "To": self.to_number,
            "Body": body,
        }
        data = urllib.parse.urlencode(form).encode("utf-8")
        request = urllib.request.Request(self.url, data=data, method="POST")
        signature = RequestValidator(self.token).compute_signature(self.url, form)
        request.add_header("X-Twilio-Signature", signature)
        return request


class NotifyReplySender(ReplySender):
    """Posts replies as GOV.UK Notify's received-text callback: JSON, with the bearer token."""

    def __init__(self, engine: Engine, public_url: str, token: str, to_number: str) -> None:
        super().__init__(engine, public_url, token, to_number)
        self.url = f"{public_url}/webhooks/notify/inbound"

    def _request(self, phone: str, body: str) -> urllib.request.Request:
        received = {
            "id": str(uuid.UUID(int=self._count)),
            "source_number": phone.lstrip("+"),  # Notify's form: 447700900123
            "destination_number": self.to_number.lstrip("+"),
            "message": body,
        }
        request = urllib.request.Request(
            self.url, data=json.dumps(received).encode("utf-8"), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {self.token}")
        return request
