"""The weeks of a trial on a simulated clock: the clock jumps to each next thing that is due.

What is due: a planned message (the real dispatcher sends the texts; the letters go in the
day's print run, exactly as `nudge letters batch` makes it for staff, or with `--provider
notify` through the local fake Notify as the worker sends them), a court-list update, or a
person's reply. Nothing is sent early: the
clock is set to a message's own due time, which planning has already moved out of quiet
hours, and the dispatcher's throttle advances it by the pacing it would really wait.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from messages.letter_batch import run_batch
from messages.providers.base import SmsProvider
from nudge.cli.dispatching import run_once, send_letters
from nudge.cli.runtime import Runtime
from nudge.clock import FixedClock
from nudge.demo.events import (
    Reply,
    ReplySender,
    court_list_update,
    extra_opt_outs,
    replies_to,
    survey_answers,
)
from nudge.models import Message, MessageStatus, Organisation

log = logging.getLogger(__name__)
COURT_LIST_DAYS = (11, 25)  # days after launch on which the court sends a changed list


@dataclass
class Simulated:
    """What the weeks of sending did, for the summary."""

    texts_sent: int = 0
    letters_posted: int = 0
    court_lists: int = 0
    replies: Counter[str] = field(default_factory=Counter)
    days: int = 0


@dataclass
class _Day:
    """One simulated day's activity, for one progress line."""

    date: date
    texts: int = 0
    letters: int = 0
    replies: int = 0

    def report(self) -> None:
        if self.texts or self.letters or self.replies:
            log.info(
                "%s: %d text(s) sent, %d letter(s) posted, %d repl(ies) received",
                self.date.strftime("%a %d %b %Y"),
                self.texts,
                self.letters,
                self.replies,
            )


@dataclass
class Simulation:
    runtime: Runtime
    provider: SmsProvider
    settle: Callable[[], None]  # waits for the provider's callbacks to reach the app
    replies: ReplySender
    trial_id: str
    zone: ZoneInfo
    files: Path
    letters: Path
    rng: random.Random  # the court lists' draws
    reply_rng: random.Random  # who replies to a text, what and when
    opt_out_rng: random.Random  # the extra STOPs one arm's framing draws
    survey_rng: random.Random  # who answers the survey, what and when
    sites: tuple[str, ...] = ()  # a multi-site trial's sites: each gets its own court lists

    @property
    def clock(self) -> FixedClock:
        clock = self.runtime.clock
        assert isinstance(clock, FixedClock)
        return clock

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    def run(self) -> Simulated:
        start, done = self.clock.now(), Simulated()
        lists = [start + timedelta(days=d) for d in COURT_LIST_DAYS]
        pending: list[Reply] = []
        day = _Day(start.astimezone(self.zone).date())
        while True:
            due = self._next_message_due()
            candidates = [t for t in (due, lists[0] if lists else None) if t is not None]
            candidates += [pending[0].at] if pending else []
            if not candidates:
                break
            self.clock.set(max(min(candidates), self.clock.now()))
            now = self.clock.now()
            if now.astimezone(self.zone).date() != day.date:
                day.report()
                day = _Day(now.astimezone(self.zone).date())
            if lists and lists[0] <= now:
                done.court_lists += 1
                path = self.files / f"court-list-{done.court_lists}.csv"
                court_list_update(
                    self.engine, self.clock, self.trial_id, path, self.rng, self.zone, self.sites
                )
                lists.pop(0)
            while pending and pending[0].at <= now:
                self.replies.send(heapq.heappop(pending))
                day.replies += 1
            letters = self._print_letters(now)
            sent = self._dispatch(now)
            day.letters, day.texts = day.letters + letters, day.texts + sent
            done.letters_posted += letters
            done.texts_sent += sent
            if sent:
                for reply in (
                    replies_to(self.engine, self.trial_id, now, self.reply_rng)
                    + extra_opt_outs(self.engine, self.trial_id, now, self.opt_out_rng)
                    + survey_answers(self.engine, self.trial_id, now, self.survey_rng)
                ):
                    heapq.heappush(pending, reply)
        day.report()
        done.replies = Counter(self.replies.sent)
        done.days = (self.clock.now() - start).days
        return done

    def _print_letters(self, now: datetime) -> int:
        """The print run of each posting day with a letter due by now (the throttle may have
        carried the clock past midnight): printed, then marked posted."""
        if self.runtime.settings.letter_provider == "notify":  # sent, not printed
            sent = send_letters(self.runtime)
            self.settle()
            return sent.sent if sent is not None else 0
        with Session(self.engine) as session:
            first = session.exec(
                select(func.min(Message.due_at)).where(
                    Message.trial_id == self.trial_id,
                    Message.channel == "letter",
                    Message.status == MessageStatus.SCHEDULED,
                    Message.next_attempt_at <= now,
                )
            ).one()
        if first is None:
            return 0
        posted, day = 0, first.astimezone(self.zone).date()
        while day <= now.astimezone(self.zone).date():
            sites: list[int | None] = [*self._site_ids()] or [None]
            for site in sites:  # a multi-site trial's: a print run per site
                with Session(self.engine, expire_on_commit=False) as session:
                    summary = run_batch(
                        session, self.clock, self.trial_id, day, self.letters, site_id=site
                    )
                if summary.pdf is not None:
                    log.debug(
                        "  posted %d letter(s), printed in %s", summary.letters, summary.pdf.name
                    )
                posted += summary.letters
            day += timedelta(days=1)
        return posted

    def _site_ids(self) -> list[int | None]:
        """The organisation ids of the trial's sites, in their order; [] in one area."""
        if not self.sites:
            return []
        with Session(self.engine) as session:
            ids = dict(
                session.exec(
                    select(Organisation.slug, Organisation.id).where(
                        col(Organisation.slug).in_(self.sites)
                    )
                ).all()
            )
        return [ids[slug] for slug in self.sites]

    def _dispatch(self, now: datetime) -> int:
        _, result = run_once(self.runtime, self.provider)
        self.settle()
        if result.sent or result.failed:
            log.debug(
                "  %02d:%02d sent %d text(s), %d withheld%s",
                now.astimezone(self.zone).hour,
                now.astimezone(self.zone).minute,
                result.sent,
                result.withheld,
                "".join(f", {n} {r}" for r, n in sorted(result.reasons.items())),
            )
        return result.sent

    def _next_message_due(self) -> datetime | None:
        with Session(self.engine) as session:
            return session.exec(
                select(func.min(Message.next_attempt_at)).where(
                    Message.trial_id == self.trial_id, Message.status == MessageStatus.SCHEDULED
                )
            ).one()
