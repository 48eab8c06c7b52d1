"""`nudge dispatch` (send what is due, then exit) and `nudge worker` (keep doing so)."""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from messages.dispatch import DispatchResult, dispatch_due
from messages.providers.base import SmsProvider
from messages.providers.console import ConsoleProvider
from messages.providers.fake_callbacks import CallbackPoster
from messages.recovery import RecoveryResult, recover
from messages.sending import ProcessSender, Sender, ThreadSender, in_memory
from nudge.cli.runtime import Runtime, pass_runtime
from nudge.errors import ConfigError
from nudge.models import Reason

if TYPE_CHECKING:
    from messages.notify_letters import LetterRun

log = logging.getLogger(__name__)
GUARDRAIL_EVERY_MINUTES = 15


def provider_for(runtime: Runtime) -> SmsProvider:
    settings = runtime.settings
    if settings.sms_provider == "console":
        return ConsoleProvider(settings.outbox_dir, runtime.clock, _fake_callbacks(runtime))
    return _remote(runtime)()


def _remote(runtime: Runtime) -> Callable[[], SmsProvider]:
    """How to build the provider that sends over the network: here, and in the sending process."""
    return _notify(runtime) if runtime.settings.sms_provider == "notify" else _twilio(runtime)


def _notify(runtime: Runtime) -> Callable[[], SmsProvider]:
    settings = runtime.settings
    assert settings.notify_api_key and settings.notify_sms_template_id  # load_settings checks
    from messages.providers.notify import NotifyProvider

    return partial(
        NotifyProvider,
        settings.notify_api_key,
        settings.notify_sms_template_id,
        sender_id=settings.notify_sms_sender_id,
        base_url=settings.notify_base_url,
    )


def _twilio(runtime: Runtime) -> Callable[[], SmsProvider]:
    """How to build the Twilio provider: here, and in the sending process."""
    settings = runtime.settings
    if not settings.public_url:
        raise ConfigError(
            "NUDGE_SMS_PROVIDER=twilio needs NUDGE_PUBLIC_URL (this service's public address) "
            "so that Twilio can report delivery and replies such as STOP reach Nudge"
        )
    assert settings.twilio_account_sid and settings.twilio_auth_token  # load_settings checks
    from messages.providers.twilio import TwilioProvider  # the client is slow to import

    return partial(
        TwilioProvider,
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        base_url=settings.twilio_base_url,
    )


def send_letters(runtime: Runtime) -> LetterRun | None:
    """With NUDGE_LETTER_PROVIDER=notify, the letters due now through GOV.UK Notify (after the
    texts, on this process: a few a day, each its own PDF); with print, nothing."""
    settings = runtime.settings
    if settings.letter_provider != "notify":
        return None
    assert settings.notify_api_key  # load_settings checks
    from messages.notify_letters import send_due_letters
    from messages.providers.notify_letters import NotifyLetterProvider

    provider = NotifyLetterProvider(settings.notify_api_key, base_url=settings.notify_base_url)
    return send_due_letters(runtime.engine, runtime.clock, provider, worker=_worker_name())


def describe_letters(run: LetterRun) -> str:
    text = (
        f"letters through Notify: sent {run.sent}, retrying later {run.retried}, failed "
        f"{run.failed}, withheld {run.withheld}, awaiting look-up {run.ambiguous}"
    )
    if run.reasons:
        text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(run.reasons.items())) + ")"
    if run.stopped:
        text += f"; STOPPED: {run.stopped_because}; the letters not sent stay queued"
    if run.confirmed_sent or run.requeued or run.unsettled:
        text += (
            f"; recovered: {run.confirmed_sent} confirmed sent, {run.requeued} queued again, "
            f"{run.unsettled} to ask again"
        )
    return text


def _fake_callbacks(runtime: Runtime) -> CallbackPoster | None:
    settings = runtime.settings
    if not settings.fake_callbacks:
        return None
    if not settings.public_url:
        raise ConfigError(
            "NUDGE_FAKE_CALLBACKS=1 posts status callbacks to the app: set NUDGE_PUBLIC_URL to "
            "where it is served (for example http://127.0.0.1:5000)"
        )
    return CallbackPoster(settings.webhook_token)


@contextmanager
def opened(provider: SmsProvider) -> Iterator[SmsProvider]:
    """Use a provider, then let it finish its work (the console's queued fake callbacks).

    What is loaded by then (code, settings, the engine, the provider) lives while it is used,
    so the garbage collector is told not to rescan it meanwhile: its full passes over those
    objects cost a sending worker about a tenth of its CPU.
    """
    gc.freeze()
    try:
        yield provider
    finally:
        gc.unfreeze()  # in a long-lived caller (tests, a shell) it may all be garbage later
        close = getattr(provider, "close", None)
        if callable(close):
            close()


@contextmanager
def sending(runtime: Runtime, provider: SmsProvider) -> Iterator[Sender]:
    """Where the provider calls run: Twilio's or Notify's client in a process of its own, on
    the other core (its CPU a request is about the worker's own); the console on a thread."""
    settings = runtime.settings
    if settings.sms_provider == "console" or in_memory(settings.database_url):
        sender: Sender = ThreadSender(runtime.engine, runtime.clock, provider)
    else:
        sender = ProcessSender(settings.database_url, runtime.clock, _remote(runtime))
    try:
        yield sender
    finally:
        sender.close()


@contextmanager
def single_sqlite_worker(runtime: Runtime) -> Iterator[None]:
    """SQLite has one writer: refuse a second dispatcher instead of letting them collide."""
    if not runtime.settings.is_sqlite:
        yield
        return
    database = runtime.settings.database_url.split("///", 1)[-1] or "memory"
    path = Path(f"{database}.dispatch.lock")
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another worker is already sending from {database}; with SQLite "
                "only one may run at a time (use PostgreSQL for several)"
            ) from None
        yield


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_once(
    runtime: Runtime, provider: SmsProvider, sender: Sender | None = None
) -> tuple[RecoveryResult, DispatchResult]:
    """Recover, then dispatch: `provider` looks up what was sent; the sends go through
    `sender`, or a thread of this process."""
    public = runtime.settings.public_url
    recovered = recover(runtime.engine, runtime.clock, provider, public)
    sent = dispatch_due(
        runtime.engine,
        runtime.clock,
        sender or provider,
        worker=_worker_name(),
        public_url=public,
    )
    return recovered, sent


def _describe(recovered: RecoveryResult, sent: DispatchResult) -> str:
    text = (
        f"sent {sent.sent}, retrying later {sent.retried}, failed {sent.failed}, withheld "
        f"{sent.withheld}, awaiting reconciliation {sent.ambiguous}"
    )
    if sent.reasons:
        text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(sent.reasons.items())) + ")"
    if sent.stopped:
        text += f"; STOPPED: {sent.stopped_because}; the texts not sent stay queued"
    if recovered.released or recovered.confirmed_sent or recovered.requeued or recovered.unknown:
        text += (
            f"; recovered: {recovered.released} claims released, "
            f"{recovered.confirmed_sent} confirmed sent, {recovered.requeued} queued "
            f"again, {recovered.unknown} unknown"
        )
    return text


@click.command("dispatch")
@pass_runtime
def dispatch(runtime: Runtime) -> None:
    """Send every text that is due now, then exit."""
    with (
        opened(provider_for(runtime)) as provider,
        sending(runtime, provider) as sender,
        single_sqlite_worker(runtime),
    ):
        recovered, sent = run_once(runtime, provider, sender)
        letters = send_letters(runtime)
    click.echo(_describe(recovered, sent))
    if letters is not None:
        click.echo(describe_letters(letters))
    if Reason.CREDENTIALS_REFUSED in (sent.stopped, letters and letters.stopped):
        raise SystemExit(1)  # nothing more can go until someone fixes the settings


@click.command("worker")
@click.option(
    "--every",
    default=5,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="Seconds between dispatch runs.",
)
@pass_runtime
def worker(runtime: Runtime, every: int) -> None:
    """Keep sending: dispatch and housekeeping every few seconds, and each live trial's
    guardrails once a day, until stopped."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    with (
        opened(provider_for(runtime)) as provider,
        sending(runtime, provider) as sender,
        single_sqlite_worker(runtime),
    ):
        scheduler = BlockingScheduler(timezone="UTC")

        def tick() -> None:
            recovered, sent = run_once(runtime, provider, sender)
            if sent.stopped:  # the provider refused us: say so at every run until fixed
                log.error("dispatch: %s", _describe(recovered, sent))
            elif sent.sent or sent.failed or recovered.requeued or recovered.unknown:
                log.info("dispatch: %s", _describe(recovered, sent))
            letters = send_letters(runtime)
            if letters is not None and (letters.stopped or letters.failed):
                log.error("dispatch: %s", describe_letters(letters))
            elif letters is not None and (letters.sent or letters.withheld or letters.requeued):
                log.info("dispatch: %s", describe_letters(letters))

        def guardrails() -> None:
            from analysis.guardrails import run_due_guardrails

            checked = run_due_guardrails(runtime.engine, runtime.clock, runtime.settings, "worker")
            if checked:
                log.info("guardrails: checked %d trial(s) for today", checked)

        scheduler.add_job(tick, "interval", seconds=every, max_instances=1, coalesce=True)
        # Each live trial's guardrails once a day (its local day); looking every quarter of an
        # hour means a worker started mid-day still checks that day.
        scheduler.add_job(
            guardrails,
            "interval",
            minutes=GUARDRAIL_EVERY_MINUTES,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        click.echo(f"worker {_worker_name()} sending every {every}s; stop with Ctrl-C")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            scheduler.shutdown(wait=False)
