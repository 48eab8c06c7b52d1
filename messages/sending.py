"""Where a staged group's provider calls run: a thread of the worker, or a process of its own.

`dispatch` does the database work (claim, check, commit `sending`, record outcomes) and hands
each staged group to a `Sender`, which runs `send_group` on it: each text at its slot, in
order, on the injected clock. There is one way to send; the two senders differ only in where
that function runs.

- `ThreadSender` runs it on one thread of this process: for tests, the console provider, and
  anything holding state the worker reads back.
- `ProcessSender` runs it in a child process holding its own provider, built there by a
  picklable factory: the twilio client spends about as much CPU on each request as the worker
  spends checking and recording it, and in one process they take turns on one interpreter
  lock. In a child they run on two cores. It is `multiprocessing` (a `ProcessPoolExecutor` of
  one), not a protocol of our own: a group goes as a pickled `Outbound`, its outcomes come back
  as the future's result.

The child checks, before every text, that the worker that started it is still alive: a worker
killed mid-group never leaves a child sending after recovery has looked. A child that dies
leaves its group's texts ambiguous, for recovery to reconcile with the provider's records.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from multiprocessing import get_context
from typing import NamedTuple, Protocol, runtime_checkable

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from messages.providers.base import STOPS_RUN, OutgoingSms, SendReceipt, SmsProvider
from messages.throttle import LATE_S, reserve_lanes
from nudge.clock import Clock
from nudge.errors import ProviderError

LATE = timedelta(seconds=LATE_S)
LEASE = timedelta(minutes=2)


class Lane(NamedTuple):
    """The shared rate a text is sent under: its trial's, at up to `per_second`."""

    trial_id: str
    per_second: float


@dataclass(frozen=True)
class Outbound:
    """A staged group as the sender needs it: plain values, no database rows.

    `now` is when it was staged; `slots[i]` is when `texts[i]` may go, under `lanes[i]`."""

    now: datetime
    texts: list[OutgoingSms]
    lanes: list[Lane]
    slots: list[datetime]


class Outcome(NamedTuple):
    """One provider call's outcome and when: a receipt, a refusal, or None when not attempted."""

    result: SendReceipt | ProviderError | None
    at: datetime


Sent = tuple[list[Outcome], BaseException | None]
Reslot = Callable[[list[Lane], datetime], list[datetime]]


class Stop(Protocol):
    def is_set(self) -> bool: ...


@runtime_checkable
class Sender(Protocol):
    """Runs `send_group` on staged groups, one at a time, in the order submitted."""

    def begin(self) -> None:
        """A new dispatch run: forget a stop asked for by the last one."""
        ...

    def submit(self, group: Outbound) -> Future[Sent]: ...

    def stop(self) -> None:
        """Send nothing more of the group in hand: the run is ending."""
        ...

    def close(self) -> None: ...


def send_group(
    group: Outbound, stop: Stop, clock: Clock, provider: SmsProvider, reslot: Reslot
) -> Sent:
    """Each text in turn at its slot, and within LATE of it.

    A text that cannot go within LATE of its slot (the provider was slow, the machine busy) is
    given a new slot, with the rest of its group (`reslot`: the only database work here). An
    unexpected error ends the group: the text being sent is reported ambiguous (left `sending`
    for recovery to reconcile, as after a crash), and the rest are handed back unsent.
    """
    clock.sleep_until(group.now)  # a clock of another process catches up with the stager's
    outcomes, slots, stopped = list[Outcome](), list(group.slots), False
    try:
        for index, sms in enumerate(group.texts):
            if stopped or stop.is_set() or clock.now() - group.now > LEASE / 2:
                outcomes.append(Outcome(None, clock.now()))  # stopping, or a slow provider
                continue
            _at_slot(clock, group.lanes, slots, index, reslot)
            try:
                outcomes.append(Outcome(provider.send(sms), clock.now()))
            except ProviderError as error:
                outcomes.append(Outcome(error, clock.now()))
                stopped = error.code in STOPS_RUN  # the rest would be refused alike
    except BaseException as error:  # re-raised by the dispatching thread
        unsure = ProviderError("sending stopped by an unexpected error", ambiguous=True)
        outcomes.append(Outcome(unsure, clock.now()))
        outcomes.extend(Outcome(None, clock.now()) for _ in group.texts[len(outcomes) :])
        return outcomes, error
    return outcomes, None


def _at_slot(
    clock: Clock, lanes: list[Lane], slots: list[datetime], index: int, reslot: Reslot
) -> None:
    """Wait for text `index`'s slot; one missed by more than LATE is given a new slot, and so
    are the texts after it in the group (`slots` is updated in place)."""
    clock.sleep_until(slots[index])
    if clock.now() - slots[index] > LATE:
        slots[index:] = reslot(lanes[index:], clock.now())  # the missed slots are never used
        clock.sleep_until(slots[index])


def reserve(engine: Engine, lanes: list[Lane], now: datetime) -> list[datetime]:
    """Each text's send slot under its trial's shared rate, committed: one reservation per
    trial, taken in one order by every worker."""
    with Session(engine) as session:
        slots = reserve_lanes(session, lanes, now)
        session.commit()
    return slots


def in_memory(database_url: str) -> bool:
    """An SQLite database in this process's memory: no other process can reach it."""
    url = make_url(database_url)
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


class ThreadSender:
    """`send_group` on one thread of this process."""

    def __init__(self, engine: Engine, clock: Clock, provider: SmsProvider) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="nudge-send")
        self._stop = threading.Event()
        self._run = partial(
            send_group,
            stop=self._stop,
            clock=clock,
            provider=provider,
            reslot=partial(reserve, engine),
        )

    def begin(self) -> None:
        self._stop.clear()

    def submit(self, group: Outbound) -> Future[Sent]:
        return self._pool.submit(self._run, group)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._pool.shutdown()


class ProcessSender:
    """`send_group` in a child process with a provider of its own, built there by
    `make_provider` (picklable: a class and its arguments, say), and its own copy of `clock`.

    The child starts with the first group and serves every run until `close`. A pinned clock
    is kept in step both ways: each group takes the stager's time with it, and the time of its
    last outcome comes back (`Outcome.at`), which the dispatcher's clock then moves to.
    """

    def __init__(
        self, database_url: str, clock: Clock, make_provider: Callable[[], SmsProvider]
    ) -> None:
        if in_memory(database_url):
            raise ValueError("a sending process cannot share an in-memory SQLite database")
        self._context = get_context("spawn")  # never fork a process with threads
        self._stop = self._context.Event()
        self._start = (database_url, clock, make_provider, self._stop, os.getpid())
        self._pool: ProcessPoolExecutor | None = None

    def begin(self) -> None:
        self._stop.clear()

    def submit(self, group: Outbound) -> Future[Sent]:
        if self._pool is None:
            self._pool = self._new_pool()
        try:
            return self._pool.submit(_send_in_child, group)
        except BrokenProcessPool:  # the last child died: its texts are already ambiguous
            self._pool.shutdown(wait=False)
            self._pool = self._new_pool()
            return self._pool.submit(_send_in_child, group)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            1, mp_context=self._context, initializer=_start_child, initargs=self._start
        )


def died(group: Outbound, error: BaseException) -> Sent:
    """What a group's sending says when the process sending it died: every text may have
    gone, so every one is ambiguous."""
    unsure = ProviderError("the sending process stopped during a send", ambiguous=True)
    return [Outcome(unsure, group.now)] * len(group.texts), error


@dataclass
class _Child:
    clock: Clock
    provider: SmsProvider
    stop: Stop
    reslot: Reslot


_child: _Child | None = None


class _Orphaned:
    """Stop when asked, or when the worker that started this process is gone."""

    def __init__(self, stop: Stop, parent: int) -> None:
        self.stop, self.parent = stop, parent

    def is_set(self) -> bool:
        return os.getppid() != self.parent or self.stop.is_set()


def _start_child(
    database_url: str,
    clock: Clock,
    make_provider: Callable[[], SmsProvider],
    stop: Stop,
    parent: int,
) -> None:
    """In the child: build the provider, and end this process if the worker dies while it
    waits for work (a worker killed by SIGKILL cannot tell it to)."""
    global _child
    engines: list[Engine] = []

    def reslot(lanes: list[Lane], now: datetime) -> list[datetime]:
        if not engines:  # rare: only when a slot is missed
            from nudge.db import make_engine

            engines.append(make_engine(database_url))
        return reserve(engines[0], lanes, now)

    _child = _Child(clock, make_provider(), _Orphaned(stop, parent), reslot)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _send_in_child(group: Outbound) -> Sent:
    assert _child is not None, "started by ProcessSender"
    sent = send_group(group, _child.stop, _child.clock, _child.provider, _child.reslot)
    outcomes, failure = sent
    if failure is not None and not _picklable(failure):
        return outcomes, RuntimeError(f"{type(failure).__name__}: {failure}")
    return sent


def _picklable(error: BaseException) -> bool:
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return False
    return True
