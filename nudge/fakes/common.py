"""What the fake providers (nudge/fakes/notify_server.py, tests/fakes/twilio_server.py) share.

Faults a send request meets (a script, then at random), the bookkeeping every fake's state
keeps (a lock, request counts, the faults), the quiet threaded HTTP server on a loopback port
with its handler's common parts (the fault sequence of a send, JSON replies, no request
logging), and the queue whose thread posts callbacks one at a time, in order. Each fake keeps
what is its provider's own: its fault kinds and error replies, authentication, validation,
and how a callback is signed.
"""

from __future__ import annotations

import json
import queue
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

# What every fake's faults can be besides its own error replies: "slow" waits `slow_seconds`
# and then succeeds; "hang" waits `hang_seconds` and drops the connection, "drop" drops it at
# once (neither records the send); "lost_reply" records it, waits `hang_seconds` and drops the
# connection; "malformed" records it and replies 201 with truncated JSON.
SHARED_FAULTS = ("ok", "slow", "hang", "drop", "lost_reply", "malformed")


@dataclass
class Faults:
    """Which faults send requests meet: a script first (one entry a request), then at random.

    `delay` slows every send (a slow server, so a test can kill a worker mid-batch);
    `slow_seconds` is the extra wait of a "slow" fault; `hang_seconds` how long "hang" and
    "lost_reply" keep the connection open before dropping it (longer than the client's
    timeout). Each fake subclasses it with `KINDS`, the faults it knows.
    """

    KINDS: ClassVar[tuple[str, ...]] = SHARED_FAULTS

    script: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    delay: float = 0.0
    slow_seconds: float = 1.0
    hang_seconds: float = 3.0

    def __post_init__(self) -> None:
        unknown = {*self.script, *self.rates} - set(self.KINDS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; choose from {self.KINDS}")
        if sum(self.rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        self._random = random.Random(self.seed)

    def next(self) -> str:
        if self.script:
            return self.script.pop(0)
        draw, total = self._random.random(), 0.0
        for kind, rate in sorted(self.rates.items()):
            total += rate
            if draw < total:
                return kind
        return "ok"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        allowed = {"script", "rates", "seed", "delay", "slow_seconds", "hang_seconds"}
        if set(data) - allowed:
            raise ValueError(f"unknown fault settings {sorted(set(data) - allowed)}")
        return cls(**data)


F = TypeVar("F", bound=Faults)


class FakeState(Generic[F]):
    """What every fake's state keeps: a lock (the server handles each request on its own
    thread), request counts by kind and in total, and the faults sends meet."""

    def __init__(self, faults: F) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.faults = faults

    def count(self, what: str) -> None:
        with self.lock:
            self.requests[what] += 1
            self.requests["total"] += 1

    def next_fault(self) -> tuple[str, F]:
        """The fault the next send meets, and the faults it came from (for their timings)."""
        with self.lock:
            return self.faults.next(), self.faults


class CallbackQueue:
    """Posts callbacks one at a time, in the order queued, from a thread of its own; counts
    those posted and those that failed. A fake's subclass queues its provider's payloads and
    builds each request as the provider does (`_request`)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.posted = self.failed = 0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)

    def wait_idle(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _request(self, url: str, payload: dict[str, Any]) -> urllib.request.Request:
        raise NotImplementedError

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            url, payload = item
            request = self._request(url, payload)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
                self.posted += 1
            except (urllib.error.URLError, OSError):
                self.failed += 1
            finally:
                self.queue.task_done()
        self.queue.task_done()


C = TypeVar("C", bound=CallbackQueue)


class QuietServer(ThreadingHTTPServer):
    """A threaded HTTP server that does not report a client that hung up."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # a client gone is not news


class FakeServer(Generic[C]):
    """A fake on a free loopback port, serving on a thread until `stop` (or the with-block),
    with its callback queue (if it posts callbacks) running beside it. The handler reaches
    the fake as `self.server.fake`."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], *, port: int, callbacks: C | None
    ) -> None:
        self.callbacks = callbacks
        self.httpd = QuietServer(("127.0.0.1", port), handler)
        self.httpd.fake = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def start(self) -> Self:
        self.thread.start()
        if self.callbacks is not None:
            self.callbacks.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.thread.join()
        self.httpd.server_close()
        if self.callbacks is not None:
            self.callbacks.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(server: FakeServer[Any]) -> None:
    """Run a fake as a process: say where it listens (what a parent process waits to read),
    serve until SIGTERM, then stop."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stdout.write(f"listening on {server.url}\n")
    sys.stdout.flush()
    server.start()
    try:
        server.thread.join()
    finally:
        server.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """What the fakes' handlers share: keep-alive, no request logging (request lines carry
    phone numbers in their query strings), JSON replies, and a send's fault sequence."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs offer
    disable_nagle_algorithm = True  # headers and body go in separate writes
    content_type = "application/json"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode("utf-8")

    def _create_meeting_fault(
        self,
        state: FakeState[Any],
        refuse: Callable[[str], None],
        create: Callable[[str], dict[str, Any]],
    ) -> None:
        """A send, meeting the next fault first: `refuse` raises the provider's error reply for
        a fault that is one; `create` records the send (given the client's address) and
        returns the reply, which "lost_reply" and "malformed" then fail."""
        fault, faults = state.next_fault()
        time.sleep(faults.delay)
        refuse(fault)
        if fault in ("hang", "drop"):
            time.sleep(faults.hang_seconds if fault == "hang" else 0)
            self.close_connection = True
            return
        time.sleep(faults.slow_seconds if fault == "slow" else 0)
        host, port = self.client_address[:2]
        reply = create(f"{host}:{port}")
        if fault == "lost_reply":
            time.sleep(faults.hang_seconds)
            self.close_connection = True
            return
        body = json.dumps(reply)
        self._send(201, body[: len(body) // 2] if fault == "malformed" else body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload))

    def _send(self, status: int, body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(data)))
        self._more_headers(status)
        self.end_headers()
        self.wfile.write(data)

    def _more_headers(self, status: int) -> None:
        """Headers a provider adds to a reply with this status, after the length."""
