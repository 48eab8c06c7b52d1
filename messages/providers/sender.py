"""Twilio's client in a process of its own, so a worker's database work runs beside its sends.

The official client spends about as much CPU on each request as the worker spends checking,
recording and committing it. In one process they take turns on one interpreter lock; with the
client in a child process they run on two cores, and the worker keeps pace with the client's
own loop. Nothing else changes: the worker still commits `sending` before it asks the child to
send, one text at a time, and records what the child says happened.

The child is started with the worker and dies with it: on Linux the kernel kills it the moment
its parent dies (PR_SET_PDEATHSIG), so a worker killed mid-send never leaves a child that sends
after recovery has looked; elsewhere it stops when its input closes. The child reports its
outcomes together, before each wait for a slot and at the end of the group (one wake-up of the
worker instead of one a text). A child that dies leaves the texts it had not reported
ambiguous: recovery reconciles them with Twilio's records. The next send starts a new child.
Requests and replies are one JSON object a line on the child's stdin and stdout; nothing it
writes to stderr names a number or a text.

    python -m messages.providers.sender   (started by SenderProcess, never by hand)
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from datetime import datetime
from typing import Any

from messages.providers.base import (
    MISSED_SLOT,
    STOPS_RUN,
    MissedSlot,
    OutgoingSms,
    SendReceipt,
    SentRecord,
)
from messages.providers.twilio import TIMEOUT_S, TwilioProvider
from nudge.errors import ProviderError

PR_SET_PDEATHSIG = 1


class SenderProcess:
    """An SmsProvider whose sends run in a child process holding a TwilioProvider.

    Looking up what Twilio holds for a number (recovery) stays in this process: it is rare.
    """

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, **options: Any) -> None:
        """The same arguments as TwilioProvider, which checks them here, before any child."""
        self.config = {"account_sid": account_sid, "auth_token": auth_token, **options}
        self.local = TwilioProvider(account_sid, auth_token, **options)
        self.child: subprocess.Popen[str] | None = None
        self.lock = threading.Lock()  # one request on the pipe at a time
        # Started here, on the thread that will outlive every send: Linux kills the child when
        # the *thread* that started it ends, and dispatch sends from a thread of its own.
        self._child()

    def send(self, sms: OutgoingSms) -> SendReceipt:
        [(outcome, _after)] = self.send_many([sms], None, None, None)
        if isinstance(outcome, ProviderError):
            raise outcome
        assert isinstance(outcome, SendReceipt)  # with no limits, nothing is skipped
        return outcome

    def send_many(
        self,
        texts: list[OutgoingSms],
        waits: list[float] | None,
        budget: float | None,
        late: float | None,
    ) -> list[tuple[SendReceipt | ProviderError | MissedSlot | None, float]]:
        """Hand the child the whole group; read one reply per text as each is sent."""
        request = {
            "texts": [asdict(t) for t in texts],
            "waits": waits,
            "budget": budget,
            "late": late,
        }
        outcomes: list[tuple[SendReceipt | ProviderError | MissedSlot | None, float]] = []
        with self.lock:
            started = time.monotonic()
            child = self._child()
            assert child.stdin is not None and child.stdout is not None
            try:
                child.stdin.write(json.dumps(request) + "\n")
                child.stdin.flush()
                for _text in texts:
                    line = child.stdout.readline()
                    if not line:
                        break
                    reply = json.loads(line)
                    outcomes.append((_outcome(reply), reply["after"]))
            except (BrokenPipeError, OSError):
                pass
            if len(outcomes) < len(texts):  # the child died: any unreported text may have gone
                self._discard()
                after = time.monotonic() - started
                died = "the sending process stopped during a send"
                unsure = ProviderError(died, transient=True, ambiguous=True)
                outcomes.extend((unsure, after) for _ in texts[len(outcomes) :])
        return outcomes

    def find_sent(self, to: str, since: datetime) -> list[SentRecord]:
        return self.local.find_sent(to, since)

    def close(self) -> None:
        with self.lock:
            child, self.child = self.child, None
        if child is None:
            return
        assert child.stdin is not None
        try:
            child.stdin.close()  # the child's signal to finish
        except OSError:
            pass
        try:
            child.wait(timeout=TIMEOUT_S * 2)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        _close_pipes(child)

    def _child(self) -> subprocess.Popen[str]:
        if self.child is None or self.child.poll() is not None:
            child = subprocess.Popen(
                [sys.executable, "-m", "messages.providers.sender"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
            assert child.stdin is not None
            child.stdin.write(json.dumps(self.config) + "\n")
            child.stdin.flush()
            self.child = child
        return self.child

    def _discard(self) -> None:
        child, self.child = self.child, None
        if child is None:
            return
        if child.poll() is None:
            child.kill()
        child.wait()
        _close_pipes(child)


def _close_pipes(child: subprocess.Popen[str]) -> None:
    for pipe in (child.stdin, child.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass  # a broken pipe to a dead child: nothing is left to flush


def _outcome(reply: dict[str, Any]) -> SendReceipt | ProviderError | MissedSlot | None:
    if "error" in reply:
        error = reply["error"]
        return ProviderError(
            error["message"],
            code=error["code"],
            transient=error["transient"],
            ambiguous=error["ambiguous"],
        )
    if reply.get("skipped"):
        return None
    if reply.get("missed"):
        return MISSED_SLOT
    return SendReceipt(reply["provider_id"], reply["status"])


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies; then check it has not already."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def serve() -> None:
    """The child: one reply line for each request line, until stdin closes."""
    _die_with_parent()
    provider = TwilioProvider(**json.loads(sys.stdin.readline()))
    for line in sys.stdin:
        request = json.loads(line)
        started = time.monotonic()
        waits = request["waits"] or [0.0] * len(request["texts"])
        replies: list[str] = []
        stopped = False  # refused credentials or a rate limit: the rest would be refused alike
        for text, wait in zip(request["texts"], waits, strict=True):
            if started + wait > time.monotonic() and not stopped:
                _report(replies)  # before waiting: the worker knows all that went so far
            limits = request["budget"], request["late"]
            if stopped:
                reply: dict[str, Any] = {"skipped": True}
            else:
                reply = _send_one(provider, OutgoingSms(**text), started, wait, *limits)
                stopped = reply.get("error", {}).get("code") in STOPS_RUN
            reply["after"] = time.monotonic() - started
            replies.append(json.dumps(reply) + "\n")
        _report(replies)


def _report(replies: list[str]) -> None:
    """Write the replies not yet written, in one go (the worker wakes once for them)."""
    if replies:
        sys.stdout.write("".join(replies))
        sys.stdout.flush()
        replies.clear()


def _send_one(
    provider: TwilioProvider,
    sms: OutgoingSms,
    started: float,
    wait: float,
    budget: float | None,
    late: float | None,
) -> dict[str, Any]:
    """One text at its time; not if the group's time is up (handed back to the queue) or its
    time went by more than `late` ago (to get a new slot)."""
    if budget is not None and time.monotonic() - started > budget:
        return {"skipped": True}
    delay = started + wait - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    elif late is not None and -delay > late:
        return {"missed": True}
    try:
        receipt = provider.send(sms)
    except ProviderError as error:
        return {
            "error": {
                "message": str(error),
                "code": error.code,
                "transient": error.transient,
                "ambiguous": error.ambiguous,
            }
        }
    return {"provider_id": receipt.provider_id, "status": receipt.status}


if __name__ == "__main__":
    serve()
