"""What happens around a trial while it runs: court-list changes and people's replies.

Court lists go through the real `update_hearings_and_replan` service (as `nudge hearings
update` does); replies go to the real inbound webhook over HTTP, signed as Twilio signs them.
"""

from __future__ import annotations

import logging
import random
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from messages.intake import update_hearings_and_replan
from nudge.clock import Clock
from nudge.csvout import write_rows
from nudge.models import Case, Hearing, HearingStatus, Message, Participant

log = logging.getLogger(__name__)
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# What people reply to a text, and how often (the rest do not reply).
REPLIES = (("STOP", 0.012), ("CONFIRM", 0.03), ("Can I bring my mum?", 0.004))


@dataclass(frozen=True)
class Moves:
    moved: int
    vacated: int
    replanned: int
    cancelled: int


def court_list_update(
    engine: Engine, clock: Clock, trial_id: str, path: Path, rng: random.Random, zone: ZoneInfo
) -> Moves:
    """Adjourn about 8% of the hearings still ahead by one to four weeks; vacate about 2%."""
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        ahead = session.exec(
            select(Case.case_ref, Hearing)
            .join(Hearing, col(Hearing.case_id) == Case.id)
            .where(
                Case.trial_id == trial_id,
                Hearing.status == HearingStatus.LISTED,
                col(Hearing.starts_at) > now + timedelta(days=2),
            )
            .order_by(col(Hearing.id))
        ).all()
        rows = []
        for case_ref, hearing in ahead:
            draw = rng.random()
            if draw < 0.08:
                local = hearing.starts_at.astimezone(zone) + timedelta(weeks=rng.randint(1, 4))
                rows.append((case_ref, local.strftime("%Y-%m-%dT%H:%M"), HearingStatus.ADJOURNED))
            elif draw < 0.10:
                rows.append((case_ref, "", HearingStatus.VACATED))
        with path.open("w", newline="", encoding="utf-8") as handle:
            write_rows(handle, ["case_ref", "hearing_start", "status"], rows)
        update = update_hearings_and_replan(session, clock, trial_id, path, "demo:court-list")
        session.commit()
    summary, outbox = update.summary, update.outbox
    moves = Moves(
        len(summary.moved), len(summary.ended), outbox.superseded_and_replanned, outbox.cancelled
    )
    log.info(
        "court list %s: %d hearing(s) adjourned, %d vacated; %d message(s) re-planned, "
        "%d cancelled",
        path.name,
        moves.moved,
        moves.vacated,
        moves.replanned,
        moves.cancelled,
    )
    return moves


@dataclass(frozen=True, order=True)
class Reply:
    at: datetime
    message_id: int
    body: str


def replies_to(engine: Engine, trial_id: str, since: datetime, rng: random.Random) -> list[Reply]:
    """Draw who answers the texts sent since `since`, what they say, and when."""
    with Session(engine) as session:
        sent = session.exec(
            select(Message.id, Message.sent_at)
            .where(
                Message.trial_id == trial_id,
                Message.channel == "sms",
                col(Message.sent_at) >= since,
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


class ReplySender:
    """Posts replies to the inbound webhook as Twilio would, signed with the webhook token."""

    def __init__(self, engine: Engine, public_url: str, token: str, to_number: str) -> None:
        self.engine, self.url = engine, f"{public_url}/webhooks/twilio/inbound"
        self.to_number = to_number
        self.validator = RequestValidator(token)
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
        form = {
            "MessageSid": f"SM{self._count:032x}",
            "AccountSid": "AC" + "0" * 32,
            "From": phone,
            "To": self.to_number,
            "Body": reply.body,
        }
        data = urllib.parse.urlencode(form).encode("utf-8")
        request = urllib.request.Request(self.url, data=data, method="POST")
        request.add_header("X-Twilio-Signature", self.validator.compute_signature(self.url, form))
        with _DIRECT.open(request, timeout=10) as response:
            response.read()
        kind = reply.body.split()[0].upper() if reply.body.isupper() else "free text"
        self.sent[kind] = self.sent.get(kind, 0) + 1
