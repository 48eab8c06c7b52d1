"""Benchmark: status callbacks a second at the webhook, with the database busy dispatching.

    uv run python bench/webhooks.py [--people 12000] [--clients 20] [--seconds 20]

A real WSGI server (gunicorn, 2 sync workers: this machine has 2 cores) serves the app over a
fresh PostgreSQL database (the production engine) holding the example trial. Half its due texts
are already sent (each with a Twilio sid); the other half are sent during the run by a real
`nudge dispatch` to the local fake Twilio server (answering each create after 10 ms, so the
dispatch lasts the whole measurement). A load generator in this process (asyncio, one
connection per request, as gunicorn's sync workers close each one) keeps `--clients` requests
in flight for `--seconds`, in three phases: `/healthz` with dispatch running (the baseline:
the same server, no work beyond SELECT 1); status callbacks with no dispatch; status callbacks
with dispatch running. Each callback is what Twilio posts: form-encoded, signed with the
account's auth token (X-Twilio-Signature, computed before the run), `sent` then `delivered` for
each message in turn. Latency is the client's (including the wait for a free worker) and the
server's own (gunicorn's access log, %D).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import results_page  # noqa: E402
from results_page import free_port  # noqa: E402
from sqlalchemy import update  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from nudge.clock import FixedClock  # noqa: E402
from nudge.db import make_engine, upgrade  # noqa: E402
from nudge.models import Message  # noqa: E402
from tests.conftest import EXAMPLE, PINNED, create_postgres_database, drop_postgres_database  # noqa: E402
from tests.factories import enrol_due_texts, fast_example  # noqa: E402
from tests.fakes.twilio_server import control, nudge_env  # noqa: E402
from tests.fakes.twilio_state import FAKE_AUTH_TOKEN  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
PUBLIC = "https://nudge.example"
STATUS_PATH = "/webhooks/twilio/status"
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def seed(url: str, people: int, folder: Path) -> tuple[list[tuple[int, str]], int]:
    """Enrol; mark every other due text sent with a sid. The sent ones, and how many are left."""
    from datetime import UTC, datetime

    first_due = datetime(2027, 2, 25, 18, tzinfo=UTC)
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        definition = fast_example(folder, EXAMPLE)
        due = enrol_due_texts(session, FixedClock(PINNED), definition, people, first_due)
        sent = due[::2]
        session.execute(
            update(Message)
            .where(col(Message.id).in_(sent))
            .values(status="sent", sent_at=first_due, updated_at=first_due)
        )
        for message_id in sent:
            session.execute(
                update(Message)
                .where(col(Message.id) == message_id)
                .values(provider_id=f"SM{message_id:032x}")
            )
        session.commit()
        ids = session.exec(
            select(Message.id, Message.provider_id).where(col(Message.id).in_(sent))
        ).all()
    engine.dispose()
    return [(int(i or 0), str(sid)) for i, sid in ids], len(due) - len(sent)


def callbacks(sent: list[tuple[int, str]]) -> list[bytes]:
    """Each message's `sent` then `delivered` callback, signed, as raw HTTP request bodies."""
    validator = RequestValidator(FAKE_AUTH_TOKEN)
    requests = []
    for status in ("sent", "delivered"):
        for message_id, sid in sent:
            path = f"{STATUS_PATH}?m={message_id}"
            form = {
                "AccountSid": "ACfake",
                "MessageSid": sid,
                "MessageStatus": status,
                "To": "+447700900123",
            }
            signature = validator.compute_signature(f"{PUBLIC}{path}", form)
            body = urllib.parse.urlencode(form)
            requests.append(
                (
                    f"POST {path} HTTP/1.1\r\nHost: nudge.example\r\n"
                    f"X-Twilio-Signature: {signature}\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
                ).encode()
            )
    return requests


async def one(port: int, request: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    response = await reader.read()
    writer.close()
    return time.perf_counter() - started, int(response.split(b" ", 2)[1])


async def load(port: int, requests: list[bytes], clients: int, seconds: float) -> list[float]:
    """Keep `clients` requests in flight for `seconds`, taking `requests` in order, round
    again when they run out (Twilio retries a callback it thinks was lost: the same work)."""
    latencies: list[float] = []
    failures: list[int] = []
    stop, queue = time.perf_counter() + seconds, itertools.cycle(requests)

    async def client() -> None:
        while time.perf_counter() < stop:
            latency, status = await one(port, next(queue))
            (latencies.append(latency) if status in (200, 204) else failures.append(status))

    await asyncio.gather(*(client() for _ in range(clients)))
    if failures:
        raise SystemExit(f"{len(failures)} request(s) failed, e.g. HTTP {failures[0]}")
    return latencies


def start(command: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, **kwargs)  # type: ignore[call-overload, no-any-return]


def gunicorn(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        "NUDGE_DATABASE_URL": url,
        "NUDGE_NOW": PINNED.isoformat(),
        "NUDGE_PUBLIC_URL": PUBLIC,
        "NUDGE_SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": "ACfake",
        "TWILIO_AUTH_TOKEN": FAKE_AUTH_TOKEN,
    }
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
        "--access-logfile", str(log), "--access-logformat", "%(U)s %(s)s %(D)s",
        "--backlog", "256", "--timeout", "300", "nudge.web:create_app()",
    ]  # fmt: skip
    server = start(command, env, stderr=subprocess.DEVNULL)
    healthz = HEALTHZ
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if asyncio.run(one(port, healthz))[1] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


def server_times(log: Path, path: str) -> list[float]:
    return results_page.server_times(log, path, ("200", "204"))  # a callback answers 204


def report(name: str, latencies: list[float], served: list[float], seconds: float) -> None:
    results_page.report(name, latencies, served, seconds, width=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=12_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    url = create_postgres_database(POSTGRES)
    try:
        with tempfile.TemporaryDirectory(prefix="nudge-bench-") as folder:
            work = Path(folder)
            work.chmod(0o755)
            sent, left = seed(url, args.people, work)
            print(f"{len(sent)} texts sent before the run, {left} for dispatch during it")
            requests = callbacks(sent)
            port, log = free_port(), work / "access.log"
            server = gunicorn(url, port, log)
            fake = start(
                [sys.executable, "-m", "tests.fakes.twilio_server", "--port", "0"],
                {},
                stdout=subprocess.PIPE,
            )
            try:
                assert fake.stdout is not None
                twilio = fake.stdout.readline().decode().split()[-1]
                control(twilio, "/_fake/faults", {"delay": 0.01})
                half = len(requests) // 2
                quiet = asyncio.run(load(port, requests[:half], args.clients, args.seconds))
                report(
                    "callbacks, no dispatch", quiet, server_times(log, STATUS_PATH), args.seconds
                )
                env = {
                    **nudge_env(twilio, PUBLIC),
                    "NUDGE_DATABASE_URL": url,
                    "NUDGE_NOW": "2027-02-25T18:00:00+00:00",
                }
                dispatch = start(
                    [sys.executable, "-m", "nudge", "dispatch"], env, stdout=subprocess.DEVNULL
                )
                time.sleep(5)  # past its start-up: sending
                baseline = asyncio.run(load(port, [HEALTHZ], args.clients, args.seconds / 2))
                report(
                    "/healthz, dispatch running",
                    baseline,
                    server_times(log, "/healthz"),
                    args.seconds / 2,
                )
                before = len(server_times(log, STATUS_PATH))
                busy = asyncio.run(load(port, requests[half:], args.clients, args.seconds))
                still = dispatch.poll() is None
                report(
                    "callbacks, dispatch running",
                    busy,
                    server_times(log, STATUS_PATH)[before:],
                    args.seconds,
                )
                sending = control(twilio, "/_fake/stats?messages=0")["accepted"]
                print(f"dispatch sent {sending} texts meanwhile; still sending at the end: {still}")
                dispatch.terminate()
                dispatch.wait(timeout=60)
            finally:
                fake.terminate()
                fake.wait(timeout=30)
                server.send_signal(signal.SIGINT)
                server.wait(timeout=30)
    finally:
        drop_postgres_database(POSTGRES, url)


if __name__ == "__main__":
    main()
