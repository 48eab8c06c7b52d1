"""Twilio failing at random, every way it can, over a few thousand texts: none dropped silently.

The fake Twilio server answers creates with 429, 500 and 503, hangs past the client's timeout
(with and without having recorded the text), drops connections, answers slowly and with
truncated JSON, all at random; a few numbers are refused for good. The real client sends;
the worker and its housekeeping run round after round on a simulated clock, ten minutes
apart, until nothing is left to do. Then every text is either sent (and accepted by Twilio
exactly once) or, to a number Twilio refused for good, failed or cancelled with a reason (and
accepted never).

Nothing here depends on the machine's speed. Sending has a short time-out (0.5 s), so hangs are
cheap; an ordinary reply that a busy machine delays past it is one more ambiguous send, which
recovery settles like the rest. Recovery asks Twilio with the production time-out: a list that
cannot be read leaves a text `unknown` for staff (test_twilio_dispatch.py), which a slow reply
must not fake here. How long the faults cost is measured in bench/provider_faults.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from messages.recovery import recover
from nudge.clock import FixedClock
from nudge.models import Message, Participant
from tests.conftest import EXAMPLE, PINNED
from tests.factories import enrol_due_texts, fast_example
from tests.fakes.twilio_server import FakeTwilioServer
from tests.fakes.twilio_state import FakeTwilioState, Faults
from tests.messages.sending import FIRST_DUE, PUBLIC, send_due, twilio_provider

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
AMBIGUOUS = ("hang", "lost_reply", "drop", "malformed")  # the request may have reached Twilio
RECORDED = ("lost_reply", "malformed")  # ... and did: recovery must find it, never resend it
REFUSED = {"+447700900013": "21211", "+447700900014": "21610"}  # for good
SEED = 7


def test_random_provider_faults_end_every_text_sent_once_or_failed_with_a_reason(
    engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        definition = fast_example(tmp_path, EXAMPLE)
        due = set(enrol_due_texts(session, FixedClock(PINNED), definition, PEOPLE, FIRST_DUE))
    assert len(due) >= 1_900
    with FakeTwilioServer(FakeTwilioState()) as fake:
        settled = settle(engine, fake, due, RATES)
        accepted = {m["sid"]: m["to"] for m in fake.state.messages}
        creates = fake.state.requests["POST Messages"]  # every attempt, faults included
    with Session(engine) as session:
        final = session.exec(select(Message).where(col(Message.id).in_(due))).all()
        phones = dict(session.exec(select(Participant.id, Participant.phone)).all())
    assert not _unfinished(engine, due), f"texts still in flight after {settled.rounds} rounds"
    met = faults_met(creates)
    assert creates > len(due) * 1.1 and all(met[kind] for kind in RATES)  # they all happened
    # Every send without a clear reply was reported as ambiguous (a reply slowed past the
    # time-out only adds to them), and every one Twilio had recorded was found, not resent.
    assert settled.ambiguous >= sum(met[kind] for kind in AMBIGUOUS)
    assert settled.confirmed >= sum(met[kind] for kind in RECORDED)
    # Every text Twilio accepted is held by exactly one message marked sent, to its number, and
    # nothing else was accepted. Which of two identical texts to one number holds a record can
    # differ from the id in its StatusCallback (the fake's people share 1,000 numbers, and
    # recovery cannot tell identical texts apart); how many texts each number got cannot.
    held = [m for m in final if m.status == "sent"]
    assert len({m.provider_id for m in held}) == len(held)
    assert {m.provider_id for m in held} == set(accepted)
    for message in held:
        assert accepted[message.provider_id or ""] == phones[message.participant_id], message.id
    # Every other text went to a number refused for good: failed (refused), or cancelled (the
    # 21610 opted the number out), with a reason. No fault made Nudge give up on a text.
    for message in final:
        if message.status != "sent":
            assert phones[message.participant_id] in REFUSED, message.id
            assert message.status in ("failed", "cancelled") and message.reason, message.id
    refused = {m.reason for m in final if m.status == "failed"}
    assert refused == {"invalid_number", "opted_out"}


@dataclass
class Settled:
    rounds: int = 0
    ambiguous: int = 0  # sends reported as ambiguous
    confirmed: int = 0  # of those, found in Twilio's records by recovery


def settle(
    engine: Engine, fake: FakeTwilioServer, due: set[int], rates: dict[str, float]
) -> Settled:
    """Send `due` through `fake` meeting `rates` of faults: recovery then dispatch, round after
    round ten minutes apart on a simulated clock, until none is in flight (40 rounds at most)."""
    clock = FixedClock(FIRST_DUE)
    fake.state.faults = Faults(rates=rates, seed=SEED, slow_seconds=0.2, hang_seconds=2)
    for number, code in REFUSED.items():
        fake.state.reject(number, code)
    sending, asking = twilio_provider(fake, clock, timeout=0.5), twilio_provider(fake, clock)
    settled = Settled()
    while _unfinished(engine, due) and settled.rounds < 40:
        settled.confirmed += recover(engine, clock, asking, PUBLIC).confirmed_sent
        settled.ambiguous += send_due(engine, clock, sending).ambiguous
        clock.advance(timedelta(minutes=10))
        settled.rounds += 1
    return settled


def faults_met(creates: int) -> Counter[str]:
    """The faults the fake's first `creates` create requests met: its draws, replayed."""
    faults = Faults(rates=RATES, seed=SEED)
    return Counter(faults.next() for _ in range(creates))


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
