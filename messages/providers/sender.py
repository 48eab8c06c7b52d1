"""Twilio's client in a process of its own, so a worker's database work runs beside its sends.

The official client spends about as much CPU on each request as the worker spends checking,
recording and committing it. In one process they take turns on one interpreter lock; with the
client in a child process they run on two cores (bench/dispatch.py measures the difference).
Nothing else changes: dispatch still waits for each text's slot on its own clock, commits
`sending`, calls `send` for one text and records the answer. The child only ever sends the
text it was just handed, so pacing and the rate limit stay with dispatch.

The child is a `multiprocessing` process that reads texts from its end of a pipe and answers
each with a receipt or a refusal. It ends when its pipe closes, which is also what happens
when its worker dies however it dies: a killed worker leaves at most the one text in flight
to finish, and that row is already `sending`, for recovery to reconcile. A child that dies
mid-send leaves that text ambiguous in the same way; the next send starts a new child.
"""

from __future__ import annotations

import multiprocessing
import threading
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from messages.providers.base import OutgoingSms, SendReceipt, SentRecord
from messages.providers.twilio import TIMEOUT_S, TwilioProvider
from nudge.errors import ProviderError

# A fresh interpreter, not a fork: the worker has threads and open database connections.
SPAWN = multiprocessing.get_context("spawn")


class SenderProcess:
    """An SmsProvider whose sends run in a child process holding a TwilioProvider.

    Looking up what Twilio holds for a number (recovery) stays in this process: it is rare.
    """

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, **options: Any) -> None:
        """The same arguments as TwilioProvider, which checks them here, before any child."""
        self.config = {"account_sid": account_sid, "auth_token": auth_token, **options}
        self.local = TwilioProvider(account_sid, auth_token, **options)
        self.lock = threading.Lock()  # one text on the pipe at a time
        self.child: BaseProcess | None = None
        self.pipe: Connection | None = None
        self._start()

    def send(self, sms: OutgoingSms) -> SendReceipt:
        with self.lock:
            if self.child is None or not self.child.is_alive():
                self._start()
            assert self.pipe is not None
            try:
                self.pipe.send(sms)
                answer: SendReceipt | ProviderError = self.pipe.recv()
            except (EOFError, OSError):
                self._stop(kill=True)
                raise ProviderError(
                    "the sending process stopped during a send", transient=True, ambiguous=True
                ) from None
        if isinstance(answer, ProviderError):
            raise answer
        return answer

    def find_sent(self, to: str, since: datetime) -> list[SentRecord]:
        return self.local.find_sent(to, since)

    def close(self) -> None:
        with self.lock:
            self._stop(kill=False)

    def _start(self) -> None:
        self._stop(kill=True)
        ours, theirs = SPAWN.Pipe()
        child = SPAWN.Process(target=serve, args=(theirs, self.config), name="nudge-twilio")
        child.start()
        theirs.close()  # the child's end lives in the child alone: its death closes the pipe
        self.child, self.pipe = child, ours

    def _stop(self, *, kill: bool) -> None:
        """Close the pipe (the child's signal to finish) and wait for the child to end."""
        child, pipe, self.child, self.pipe = self.child, self.pipe, None, None
        if pipe is not None:
            pipe.close()
        if child is None:
            return
        if kill:
            child.kill()
        child.join(TIMEOUT_S * 2)
        if child.is_alive():
            child.kill()
            child.join()
        child.close()


def serve(pipe: Connection, config: dict[str, Any]) -> None:
    """The child: send each text it is handed and answer with what happened, until the pipe
    closes. Its log lines, like the provider's, never name a number or a text."""
    provider = TwilioProvider(**config)
    while True:
        try:
            sms = pipe.recv()
        except (EOFError, OSError):
            return  # the worker is done with us, or gone
        try:
            answer: SendReceipt | ProviderError = provider.send(sms)
        except ProviderError as error:
            answer = error
        try:
            pipe.send(answer)
        except OSError:
            return
