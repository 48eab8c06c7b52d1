"""Twilio failing at random, every way it can, over a few thousand texts: none dropped silently.

The fake Twilio server answers creates with 429, 500 and 503, hangs past the client's timeout
(with and without having recorded the text), drops connections, answers slowly and with
truncated JSON, all at random; a few numbers are refused for good. The real client sends;
the worker and its housekeeping run round after round on a simulated clock, ten minutes
apart, until nothing is left to do. Then every text is either sent (and accepted by Twilio
exactly once) or failed or cancelled with a reason (and accepted never).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from messages.dispatch import dispatch_due
from messages.providers.twilio import TwilioProvider
from messages.recovery import recover
from nudge.clock import FixedClock
from nudge.models import Message, Participant
from tests.conftest import EXAMPLE, PINNED
from tests.factories import enrol_due_texts, fast_example
from tests.fakes.twilio_server import FakeTwilioServer
from tests.fakes.twilio_state import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeTwilioState, Faults

FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)
PEOPLE = 3_000  # about 2,000 texts due at once
RATES = {
    "429": 0.04,
    "500": 0.04,
    "503": 0.02,
    "hang": 0.01,  # past the client's timeout, nothing recorded
    "lost_reply": 0.01,  # recorded, then the connection hangs and drops
    "drop": 0.02,  # the connection closes without a reply, nothing recorded
    "slow": 0.02,
    "malformed": 0.03,  # recorded, the reply cut in half
}
REFUSED = {"+447700900013": "21211", "+447700900014": "21610"}  # for good
PUBLIC = "https://nudge.example"


def test_random_provider_faults_end_every_text_sent_once_or_failed_with_a_reason(
    engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        definition = fast_example(tmp_path, EXAMPLE)
        due = set(enrol_due_texts(session, FixedClock(PINNED), definition, PEOPLE, FIRST_DUE))
    assert len(due) >= 1_900
    clock = FixedClock(FIRST_DUE)
    with FakeTwilioServer(FakeTwilioState(now=clock.now)) as fake:
        fake.state.faults = Faults(rates=RATES, seed=7, slow_seconds=0.2, hang_seconds=0.6)
        for number, code in REFUSED.items():
            fake.state.reject(number, code)
        twilio = TwilioProvider(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=fake.url, timeout=0.5)
        rounds = 0
        while _unfinished(engine, due) and rounds < 40:
            recover(engine, clock, twilio, PUBLIC)
            dispatch_due(engine, clock, twilio, worker="w", public_url=PUBLIC)
            clock.advance(timedelta(minutes=10))
            rounds += 1
        accepted = {m["sid"]: m["to"] for m in fake.state.messages}
        creates = fake.state.requests["POST Messages"]  # every attempt, faults included
    with Session(engine) as session:
        final = session.exec(select(Message).where(col(Message.id).in_(due))).all()
        phones = dict(session.exec(select(Participant.id, Participant.phone)).all())
    assert not _unfinished(engine, due), f"texts still in flight after {rounds} rounds"
    assert creates > len(due) * 1.1  # the faults really happened, and were retried
    outcomes = Counter((m.status, m.reason) for m in final)
    assert outcomes[("sent", None)] > len(due) * 0.9
    # Every text Twilio accepted is held by exactly one message marked sent, to its number, and
    # nothing else was accepted. Which of two identical texts to one number holds a record can
    # differ from the id in its StatusCallback (the fake's people share 1,000 numbers, and
    # recovery cannot tell identical texts apart); how many texts each number got cannot.
    held = [m for m in final if m.status == "sent"]
    assert len({m.provider_id for m in held}) == len(held)
    assert {m.provider_id for m in held} == set(accepted)
    for message in held:
        assert accepted[message.provider_id or ""] == phones[message.participant_id], message.id
    for message in final:
        if message.status != "sent":
            # failed (refused, or out of time), or cancelled: the 21610 opted the number out
            assert message.status in ("failed", "cancelled") and message.reason, message.id
    refused = {r for (s, r) in outcomes if s == "failed"}
    assert {"invalid_number", "opted_out"} <= refused


def _unfinished(engine: Engine, due: set[int]) -> int:
    with Session(engine) as session:
        return len(
            session.exec(
                select(Message.id).where(
                    col(Message.id).in_(due),
                    col(Message.status).in_(["scheduled", "claimed", "sending", "unknown"]),
                )
            ).all()
        )
