"""Benchmark: what Twilio failing at random costs, against the same texts sent without faults.

    uv run python bench/provider_faults.py [--people 3000] [--engine sqlite|postgresql]

tests/messages/test_provider_faults.py asserts that random provider faults end every text sent
once or failed with a reason, whatever the machine's speed; this measures how long that takes,
which a test on a shared machine cannot assert. Each run enrols `--people` in a fresh database
and sends the texts due at once through the test's own loop (recovery, then dispatch, round
after round on a simulated clock) against the fake Twilio server on a thread. The baseline,
measured in the same run, is the same loop with no faults; the faulty run has the test's
rates, seed and time-outs (0.5 s to send, so a hang costs the client half a second).

Reported: seconds from the first round to none in flight, rounds, create requests, sends
reported ambiguous and those recovery found in Twilio's records, and the seconds the client
must wait out (time-outs and slow replies) that no code can save.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from nudge.clock import FixedClock  # noqa: E402
from nudge.db import make_engine, upgrade  # noqa: E402
from tests.conftest import EXAMPLE, PINNED, create_postgres_database, drop_postgres_database  # noqa: E402
from tests.factories import enrol_due_texts, fast_example  # noqa: E402
from tests.fakes.twilio_server import FakeTwilioServer  # noqa: E402
from tests.fakes.twilio_state import FakeTwilioState  # noqa: E402
from tests.messages.sending import FIRST_DUE  # noqa: E402
from tests.messages.test_provider_faults import (  # noqa: E402
    RATES,
    Settled,
    faults_met,
    settle,
)

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
TIMEOUT_S, SLOW_S = 0.5, 0.2  # as the test sets them in `settle`


def run(engine_kind: str, people: int, rates: dict[str, float]) -> tuple[float, Settled, int]:
    """Seconds to settle `people`'s due texts meeting `rates`; the rounds; create requests."""
    with tempfile.TemporaryDirectory() as folder:
        if engine_kind == "sqlite":
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
        else:
            url = create_postgres_database(POSTGRES)
        engine = make_engine(url)
        try:
            upgrade(engine)
            trial = Path(folder) / uuid.uuid4().hex
            trial.mkdir()
            with Session(engine) as session:
                definition = fast_example(trial, EXAMPLE)
                due = set(
                    enrol_due_texts(session, FixedClock(PINNED), definition, people, FIRST_DUE)
                )
            with FakeTwilioServer(FakeTwilioState()) as fake:
                began = time.perf_counter()
                settled = settle(engine, fake, due, rates)
                seconds = time.perf_counter() - began
                creates = fake.state.requests["POST Messages"]
        finally:
            engine.dispose()
            if engine_kind == "postgresql":
                drop_postgres_database(POSTGRES, url)
    return seconds, settled, creates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    options = parser.parse_args()
    logging.disable(logging.WARNING)  # a line for each fault met would bury the figures
    base_s, base, base_creates = run(options.engine, options.people, {})
    fault_s, faulty, creates = run(options.engine, options.people, RATES)
    met = faults_met(creates)
    waited = (met["hang"] + met["lost_reply"]) * TIMEOUT_S + met["slow"] * SLOW_S
    print(f"{options.engine}, {options.people:,} people")
    print(f"{'run':<10}{'seconds':>9}{'rounds':>8}{'creates':>9}{'ambiguous':>11}{'found':>7}")
    for name, seconds, run_, made in (
        ("no faults", base_s, base, base_creates),
        ("faults", fault_s, faulty, creates),
    ):
        print(
            f"{name:<10}{seconds:>9.1f}{run_.rounds:>8}{made:>9}{run_.ambiguous:>11}"
            f"{run_.confirmed:>7}"
        )
    print(f"ratio {fault_s / base_s:.2f}; about {waited:.0f} s of it waiting out time-outs")
    print(f"and slow replies; without that wait, ratio {(fault_s - waited) / base_s:.2f}")


if __name__ == "__main__":
    main()
