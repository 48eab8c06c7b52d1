"""Benchmark: the results page served from cache under concurrent load, against /healthz.

    uv run python bench/results_page.py [--people 600] [--clients 50] [--seconds 20]

A real WSGI server (gunicorn, 2 sync workers: this machine has 2 cores) serves the app on a
loopback port over a fresh SQLite database seeded with a trial (enrolments, messages in every
state, outcomes). One request fills the results cache; then a load generator in this process
(asyncio, one connection per request, as gunicorn's sync workers close each one) keeps
`--clients` requests in flight for `--seconds`, first against /healthz (the baseline: the same
server, no database work beyond SELECT 1), then against the results page, logged in as a lead
(disclosure control applied, the slower path). It reports client-side latency (which includes
waiting for a free worker) and the server's own time per request from gunicorn's access log
(%D), which is the time to render the page.
"""

from __future__ import annotations

import argparse
import asyncio
import http.cookiejar
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from nudge.accounts import add_user  # noqa: E402
from nudge.clock import FixedClock  # noqa: E402
from nudge.db import make_engine, upgrade  # noqa: E402
from tests.conftest import PINNED  # noqa: E402
from tests.trial_factories import TRIAL, seed_trial  # noqa: E402

PASSWORD = "correct horse battery"
AGENT = "nudge-bench/1"
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy


def seed(url: str, people: int, workdir: Path) -> None:
    engine = make_engine(url)
    upgrade(engine)
    clock = FixedClock(PINNED)
    with Session(engine, expire_on_commit=False) as session:
        add_user(session, clock, "lee@example.org", "lead", PASSWORD, "bench")
        session.commit()
        seed_trial(session, clock, workdir, people=people)
    engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NUDGE_DATABASE_URL": url, "NUDGE_NOW": PINNED.isoformat()}
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
        "--access-logfile", str(log), "--access-logformat", "%(U)s %(s)s %(D)s",
        "--backlog", "256", "--timeout", "300", "nudge.web:create_app()",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline, last = time.monotonic() + 300, None
    while time.monotonic() < deadline:
        try:
            with DIRECT.open(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return server
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"gunicorn did not start: {last}")


def log_in(base: str) -> str:
    """Log in as the lead; return the session cookie header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar)
    )
    opener.addheaders = [("User-Agent", AGENT)]
    page = opener.open(f"{base}/login").read().decode()
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert found, "no CSRF token on the login page"
    form = {"email": "lee@example.org", "password": PASSWORD, "csrf_token": found.group(1)}
    opener.open(f"{base}/login", urllib.parse.urlencode(form).encode()).read()
    first = opener.open(f"{base}/trials/{TRIAL}/results").read()  # fills the cache
    assert b"Participant flow" in first, "not logged in"
    return "; ".join(f"{c.name}={c.value}" for c in jar)


async def one_request(port: int, path: str, cookie: str) -> tuple[float, int]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {AGENT}\r\n"
        f"Cookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    status = int(response.split(b" ", 2)[1])
    return time.perf_counter() - started, status


async def load(port: int, path: str, cookie: str, clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    failures = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal failures
        while time.perf_counter() < stop:
            latency, status = await one_request(port, path, cookie)
            if status == 200:
                latencies.append(latency)
            else:
                failures += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    if failures:
        raise SystemExit(f"{failures} request(s) to {path} did not return 200")
    return latencies


def server_times(log: Path, path: str, answered: tuple[str, ...] = ("200",)) -> list[float]:
    """Seconds per answered request as gunicorn logged them (%D is microseconds)."""
    times = []
    for line in log.read_text().splitlines():
        logged_path, status, micros = line.split()
        if logged_path == path and status in answered:
            times.append(int(micros) / 1e6)
    return times


def quantiles(values: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def report(
    name: str, latencies: list[float], served: list[float], seconds: float, width: int = 14
) -> None:
    p50, p95, p99 = quantiles(latencies)
    s50, s95, s99 = quantiles(served)
    print(
        f"{name:<{width}} {len(latencies) / seconds:8.1f} req/s   client p50/p95/p99 "
        f"{1000 * p50:6.1f} {1000 * p95:6.1f} {1000 * p99:6.1f} ms   server "
        f"{1000 * s50:6.1f} {1000 * s95:6.1f} {1000 * s99:6.1f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=600)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nudge-bench-") as folder:
        workdir = Path(folder)
        # gunicorn's workers could not open a database in a 0700 directory here (even as root)
        workdir.chmod(0o755)
        url = f"sqlite:///{workdir / 'nudge.db'}"
        seed(url, args.people, workdir)
        port, log = free_port(), workdir / "access.log"
        server = start_server(url, port, log)
        try:
            cookie = log_in(f"http://127.0.0.1:{port}")
            results_path = f"/trials/{TRIAL}/results"
            for name, path in (("/healthz", "/healthz"), ("results page", results_path)):
                latencies = asyncio.run(load(port, path, cookie, args.clients, args.seconds))
                report(name, latencies, server_times(log, path)[1:], args.seconds)
        finally:
            server.send_signal(signal.SIGINT)  # quick shutdown: the load is over
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
