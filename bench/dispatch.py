"""Benchmark: texts a second through `nudge dispatch` against the local fake Twilio (or Notify).

Each scenario enrols a fresh database, starts a fresh fake Twilio server in its own process,
and runs the real `nudge dispatch` (claims, last-moment checks, the shared throttle at 1000 a
second, the real twilio client) in one or two worker processes. The baseline, measured in the
same run against a fresh server, is a bare loop of `client.messages.create` with the same
parameters in as many processes: the most any sender can get from this server on this machine.

Each scenario runs `--repeat` times (3 unless told), each dispatch run between two bare loops;
a run's ratio is against the mean of the two, and the median ratio is reported with the range.
The machine is shared, and its speed was seen to move by half within minutes.

Rates are measured on the server's side, from when it accepted each message: over the span in
which every sender was sending (from the last sender's first message to the first sender's
last), so the seconds Python needs to start are not counted for either side.

A scenario `engine:workers:ms` makes the server answer each create after `ms` milliseconds, as
Twilio does from far away (100-300 ms from the UK). With no delay the client's loop is bound by
CPU, and on two cores two workers plus the server and PostgreSQL saturate the machine: whether
workers scale is then seen with a delay, where the machine is not the limit.

A fourth field, `engine:workers:ms:notify`, runs the same against the local fake GOV.UK Notify
with the real Notify client, and its bare loop is `send_sms_notification` in a loop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes import notify_server  # noqa: E402
from tests.fakes.notify_state import FAKE_API_KEY, FAKE_TEMPLATE_ID  # noqa: E402
from tests.fakes.twilio_server import control, nudge_env  # noqa: E402
from tests.fakes.twilio_state import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN  # noqa: E402

EXAMPLE = ROOT / "experiments" / "examples" / "witness-reminders.yaml"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)
PINNED = datetime(2027, 1, 10, 12, tzinfo=UTC)
BODY = (
    "Nudge reminder: you are due at Bristol Crown Court on Thursday 4 March at 10am. "
    "Questions? Call the Witness Care Unit on 0117 496 0000."
)


@contextmanager
def fake_twilio(latency_ms: float = 0.0, provider: str = "twilio") -> Iterator[str]:
    """A fresh fake Twilio (or Notify) server in its own process, answering each create after
    `latency_ms` (Twilio's own answer takes 100-300 ms from the UK); its URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", f"tests.fakes.{provider}_server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        if latency_ms:
            control(url, "/_fake/faults", {"delay": latency_ms / 1000})
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def span_rate(url: str) -> tuple[int, float]:
    """Accepted messages, and the rate while every sender was sending, from the server's log."""
    log = control(url, "/_fake/stats?messages=0")["accepted_log"]
    by_client: dict[str, list[float]] = defaultdict(list)
    for at, client in log:
        by_client[client].append(at)
    senders = [times for times in by_client.values() if len(times) >= len(log) * 0.05]
    start, end = max(min(t) for t in senders), min(max(t) for t in senders)
    within = sum(start <= at <= end for at, _ in log)
    return len(log), within / (end - start)


def enrolled_database(engine_kind: str, folder: Path, people: int) -> tuple[str, int]:
    """A fresh database with the example trial (1000 texts a second) and `people` enrolled."""
    from sqlmodel import Session

    from nudge.clock import FixedClock
    from nudge.db import make_engine, upgrade
    from tests.conftest import create_postgres_database
    from tests.factories import enrol_due_texts, fast_example

    if engine_kind == "sqlite":
        url = f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
    else:
        url = create_postgres_database(POSTGRES)
    engine = make_engine(url)
    upgrade(engine)
    trial_folder = folder / uuid.uuid4().hex
    trial_folder.mkdir()
    with Session(engine) as session:
        definition = fast_example(trial_folder, EXAMPLE)
        due = enrol_due_texts(session, FixedClock(PINNED), definition, people, FIRST_DUE)
    engine.dispose()
    return url, len(due)


def drop(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    from tests.conftest import drop_postgres_database

    drop_postgres_database(POSTGRES, url)


def run_dispatch(db_url: str, workers: int, twilio_url: str, provider: str = "twilio") -> None:
    settings = (
        notify_server.nudge_env(twilio_url) if provider == "notify" else nudge_env(twilio_url)
    )
    env = {
        **os.environ,
        "NUDGE_DATABASE_URL": db_url,
        "NUDGE_NOW": FIRST_DUE.isoformat(),
        **settings,
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "nudge", "dispatch"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=1800)
        if proc.returncode != 0 or not out.startswith("sent "):
            raise SystemExit(f"nudge dispatch failed: {out}{err}")


def run_bare(count: int, senders: int, twilio_url: str, provider: str = "twilio") -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--bare", twilio_url, str(count // senders), provider],
            cwd=ROOT,
        )
        for _ in range(senders)
    ]
    for proc in procs:
        if proc.wait(timeout=1800) != 0:
            raise SystemExit("the bare loop failed")


def bare_loop(twilio_url: str, count: int) -> None:
    """The baseline: the client's create call in a loop, the same parameters as a real send."""
    from twilio.rest import Client

    from messages.providers.twilio import TIMEOUT_S, RebasedHttpClient

    client = Client(
        FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, http_client=RebasedHttpClient(twilio_url, TIMEOUT_S)
    )
    for n in range(count):
        client.messages.create(
            to=f"+447700900{n % 1000:03d}",
            body=BODY,
            from_="+447700900000",
            status_callback=f"https://nudge.example/webhooks/twilio/status?m={n}",
            validity_period=36_000,
        )


def bare_notify_loop(notify_url: str, count: int) -> None:
    """The Notify baseline: the client's send in a loop, the same parameters as a real send."""
    from notifications_python_client.notifications import NotificationsAPIClient

    client = NotificationsAPIClient(FAKE_API_KEY, base_url=notify_url, timeout=15.0)
    for n in range(count):
        client.send_sms_notification(
            phone_number=f"+447700900{n % 1000:03d}",
            template_id=FAKE_TEMPLATE_ID,
            personalisation={"body": BODY},
            reference=str(n),
        )


def scenario(
    engine_kind: str,
    workers: int,
    people: int,
    folder: Path,
    latency_ms: float,
    repeat: int,
    provider: str = "twilio",
) -> dict[str, float]:
    """`repeat` dispatch runs, each on a fresh database, between bare loops: each run's ratio
    is against the mean of the bare loops just before and just after it, and the median of
    those is the scenario's figure (this machine is shared: its speed moves within minutes)."""

    def bare() -> float:
        with fake_twilio(latency_ms, provider) as url:
            run_bare(due, workers, url, provider)
            return span_rate(url)[1]

    runs: list[tuple[float, float]] = []
    db_url, due = enrolled_database(engine_kind, folder, people)
    before = bare()
    for index in range(repeat):
        if index:
            db_url, _ = enrolled_database(engine_kind, folder, people)
        try:
            with fake_twilio(latency_ms, provider) as url:
                run_dispatch(db_url, workers, url, provider)
                accepted, nudge = span_rate(url)
        finally:
            drop(db_url)
        if accepted != due:
            raise SystemExit(f"{accepted} accepted for {due} due: not exactly once")
        after = bare()
        runs.append((nudge, (before + after) / 2))
        before = after
    ratios = sorted(nudge / bare_rate for nudge, bare_rate in runs)
    return {
        "due": due,
        "nudge": statistics.median(nudge for nudge, _ in runs),
        "bare": statistics.median(bare_rate for _, bare_rate in runs),
        "ratio": statistics.median(ratios),
        "lowest": ratios[0],
        "highest": ratios[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4000, help="people enrolled per scenario")
    parser.add_argument(
        "--scenarios",
        default="sqlite:1,postgresql:1,postgresql:2,postgresql:1:20,postgresql:2:20",
        help="engine:workers[:provider latency in ms[:notify]],...",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="dispatch runs per scenario (median reported)"
    )
    args = parser.parse_args()
    print(
        f"{'provider':<9}{'engine':<12}{'workers':>8}{'latency':>9}{'texts':>7}{'nudge/s':>9}{'bare/s':>8}"
        f"{'ratio':>7}  range"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for item in args.scenarios.split(","):
            engine_kind, workers, *rest = item.split(":")
            ms = float(rest[0]) if rest else 0.0
            provider = rest[1] if len(rest) > 1 else "twilio"
            result = scenario(
                engine_kind, int(workers), args.people, Path(tmp), ms, args.repeat, provider
            )
            print(
                f"{provider:<9}{engine_kind:<12}{workers:>8}{ms:>7.0f}ms{result['due']:>7.0f}"
                f"{result['nudge']:>9.0f}{result['bare']:>8.0f}{result['ratio']:>7.2f}"
                f"  {result['lowest']:.2f}-{result['highest']:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        loop = bare_notify_loop if sys.argv[4:] == ["notify"] else bare_loop
        loop(sys.argv[2], int(sys.argv[3]))
    else:
        main()
