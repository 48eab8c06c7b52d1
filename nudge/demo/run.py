"""One demo run from start to finish, returning what happened and what the analysis found."""

from __future__ import annotations

import logging
import random
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from analysis.analyse import analyse_trial
from analysis.guardrails import run_guardrails
from analysis.outcomes import import_outcomes
from analysis.report import report_json
from experiments import trials
from experiments.loader import LoadedTrial, load_trial_text
from experiments.synthetic import ExportShape, write_export
from messages.intake import enrol_and_plan
from messages.providers.base import SmsProvider
from messages.providers.console import ConsoleProvider
from messages.providers.fake_callbacks import CallbackPoster
from messages.providers.notify import NotifyProvider
from nudge.accounts import add_user
from nudge.cli.runtime import Runtime
from nudge.clock import FixedClock
from nudge.config import Settings
from nudge.db import make_engine, upgrade
from nudge.demo.events import CONFIDENCE_EFFECT, NotifyReplySender, ReplySender
from nudge.demo.outcomes import TrueEffect, simulate_outcomes, site_true_effects
from nudge.demo.replication import DEMO_COST_OF_EVENT, Replication, run_replication
from nudge.demo.server import BackgroundServer
from nudge.demo.simulation import Simulated, Simulation
from nudge.demo.sites import (
    DemoSite,
    Login,
    add_sites,
    demo_sites,
    site_factors,
    sites_block,
    split_export,
)
from nudge.demo.workspace import Workspace
from nudge.models import Message, MessageStatus
from nudge.models.statuses import Timing
from nudge.web import create_app

if TYPE_CHECKING:
    from nudge.fakes.notify_server import FakeNotifyServer

log = logging.getLogger(__name__)
EXAMPLES = Path(__file__).resolve().parents[2] / "experiments" / "examples"
EXAMPLE = EXAMPLES / "witness-reminders.yaml"
ACTOR = "demo"
DEMO_EMAIL = "demo@example.org"
DEMO_INBOUND_NUMBER = "+447700900999"  # the fake Notify service's inbound number, fictional
# Launch on a Monday morning four weeks before the first hearings, which then run for six
# weeks across the change to summer time (28 March 2027).
LAUNCH = datetime(2027, 2, 22, 9, 0, tzinfo=ZoneInfo("Europe/London"))
FIRST_HEARING = LAUNCH.date() + timedelta(days=21)
HEARING_DAYS = 42


@dataclass(frozen=True)
class SiteRun:
    """What one site of a multi-site demo enrolled, and its true effects on attendance."""

    slug: str
    name: str
    factor: float  # its true effect of being reached, as a multiple of the whole trial's
    enrolled: int
    randomised: int
    true_effects: list[TrueEffect]


@dataclass(frozen=True)
class DemoResult:
    workspace: Workspace
    trial_id: str
    enrolled: int
    randomised: int
    simulated: Simulated
    true_effects: list[TrueEffect]
    report: dict[str, Any]
    logins: tuple[Login, ...]  # the accounts to log in with, each with this run's password
    texts: dict[str, int]  # final SMS statuses, and reasons for those not sent
    journey: dict[str, int]  # texts sent about a moved or vacated hearing, and after it
    confidence_effects: dict[str, float]  # the survey's true effect on each arm's mean answer
    breaches: list[str]  # the guardrail breaches recorded, in words
    guardrail_mail: str  # what became of the mail to the trial's contacts
    replication: Replication | None = None  # the second, closed trial the evidence page pools
    sites: tuple[SiteRun, ...] = ()  # with --sites: each site's people and true effects


# What the demo adds to its own copy of the example (the example itself stays as it is): a
# confidence survey two days after the hearing, and a guardrail on opt-outs.
CONFIDENCE_OUTCOME = (
    "  - {id: confidence, type: scale, scale: {min: 1, max: 5, labels: "
    "{1: not at all confident, 5: very confident}}, label: confidence}\n"
)
DEMO_KEYS = """
# Added by `nudge demo` to its copy of experiments/examples/witness-reminders.yaml.
surveys:
  - id: confidence
    outcome: confidence
    text:
      en: "How confident do you feel about the justice system now?
        Reply 1 (not at all) to 5 (very)."
      cy: "Pa mor hyderus ydych chi'n teimlo am y system gyfiawnder nawr?
        Atebwch 1 (dim o gwbl) i 5 (iawn)."
    send: {days_after: 2, of: hearing, at: "10:00"}
    reminder: {after_hours: 48}
    closes: {days_after_sent: 7}
guardrails:
  contacts: [dmc@example.org]
  checks:
    - {metric: opt_out_rate, max: 0.05}
"""


# What each treatment arm tests, and what a non-attendance costs: so the demo's "What we know"
# page pools the example with its replication (nudge/demo/replication.py), and its results
# show the net saving per 1,000 people.
DEMO_TAGS = {
    "  - id: practical\n": "    tags: [practical_information, sms, 7_days_before]\n",
    "  - id: social_norm\n": "    tags: [social_norm, sms, letter]\n",
}
DEMO_COSTS = f"""costs:
  currency: GBP
  sms_segment: 0.04
  letter: 0.85
  cost_of_event:
    attended: {DEMO_COST_OF_EVENT}
"""


def write_demo_definition(path: Path, sites: tuple[DemoSite, ...] = ()) -> Path:
    """The example with the confidence outcome added to its outcomes, its arms tagged, a cost of
    a non-attendance, and the survey and the guardrail appended, written to `path` (its letters
    are still read beside the example); with `sites`, their `sites:` too."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("outcomes:\n")
    end = start + 1
    while end < len(lines) and lines[end].startswith("  - "):
        end += 1
    lines = [*lines[:end], CONFIDENCE_OUTCOME, *lines[end:]]
    for arm, tags in DEMO_TAGS.items():
        lines.insert(lines.index(arm) + 1, tags)
    costs = next(i for i, line in enumerate(lines) if line.startswith("costs: {"))
    lines[costs] = DEMO_COSTS
    text = "".join(lines) + DEMO_KEYS + (sites_block(sites) if sites else "")
    path.write_text(text, encoding="utf-8")
    return path


# The journey's texts the summary counts, keyed by the row's timing (after: of the hearing).
JOURNEY = (Timing.HEARING_MOVED, Timing.HEARING_VACATED, Timing.AFTER)


def text_outcomes(session: Session, trial_id: str) -> dict[str, int]:
    """How the trial's texts ended: by status, and by reason for cancelled or skipped ones."""
    rows = session.exec(
        select(Message.status, Message.reason, func.count())
        .where(Message.trial_id == trial_id, Message.channel == "sms")
        .group_by(col(Message.status), col(Message.reason))
    ).all()
    counts: Counter[str] = Counter()
    for status, reason, count in rows:
        key = (
            f"{status} ({reason})"
            if status in (MessageStatus.CANCELLED, MessageStatus.SKIPPED) and reason
            else status
        )
        counts[key] += count
    return dict(counts)


def journey_texts(session: Session, trial_id: str) -> dict[str, int]:
    """How many texts went to the provider about a hearing's move, its vacating, and after it."""
    rows = session.exec(
        select(Message.timing, func.count())
        .where(
            Message.trial_id == trial_id,
            Message.channel == "sms",
            Message.anchor == "hearing",
            col(Message.timing).in_(JOURNEY),
            col(Message.sent_at).is_not(None),
            col(Message.template).not_like("survey:%"),  # measurement, asked in every arm
        )
        .group_by(col(Message.timing))
    ).all()
    counts = {str(timing): 0 for timing in JOURNEY}
    counts.update({timing: count for timing, count in rows})
    return counts


def run_demo(
    workspace: Workspace,
    server: BackgroundServer,
    *,
    size: int,
    seed: int,
    provider: str = "console",
    sites: int = 0,
) -> DemoResult:
    """Create, launch, enrol, send for weeks, observe, analyse: everything but serving.

    `provider`: `console` (texts to the outbox with fake callbacks, letters in print runs) or
    `notify` (texts and letters through the official Notify client to a local fake Notify,
    whose callbacks reach the demo's app with their bearer token). `sites`: 0 for the trial in
    one area, else that many fictional organisations run it (nudge/demo/sites.py)."""
    places = demo_sites(sites) if sites else ()
    # One stream of draws for each kind of event, so that sending one more text (and drawing
    # whether its reply comes) does not reshuffle the court lists or the outcomes.
    kinds = ("court lists", "replies", "outcomes", "opt-outs", "surveys")
    courts, answers, outcome_draws, opt_outs, surveys = (
        random.Random(f"{seed}:{kind}") for kind in kinds
    )
    clock = FixedClock(LAUNCH)
    notify = _fake_notify(server.url, clock) if provider == "notify" else None
    settings = workspace.settings(server.url, notify=notify)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    app = create_app(settings)
    app.extensions["nudge"]["clock"] = clock  # the web app lives on the simulated clock too
    server.start(app)
    runtime = Runtime(_settings=settings, _engine=engine, _clock=clock, actor=ACTOR)
    definition = write_demo_definition(workspace.files / EXAMPLE.name, places)
    loaded = load_trial_text(definition.read_text(encoding="utf-8"), str(definition), EXAMPLES)
    assert isinstance(loaded, LoadedTrial), f"the demo's trial must validate: {loaded}"
    trial_id = loaded.definition.id
    zone = ZoneInfo(loaded.definition.timezone)
    owner = places[0].slug if places else None
    with Session(engine, expire_on_commit=False) as session:
        logins = add_sites(session, clock, places, ACTOR)
        trials.create_trial(session, clock, loaded, trials.Actor(ACTOR), organisation=owner)
        trials.launch_trial(session, clock, trial_id, trials.Actor(ACTOR))
        session.commit()
    log.info("trial %s created and launched (%s)", trial_id, loaded.definition.title)
    for place in places:
        log.info("site %s: %s", place.slug, place.name)
    export = workspace.files / "export.csv"
    shape = ExportShape(FIRST_HEARING, HEARING_DAYS, failing_share=0.02)
    write_export(export, size, shape, seed)
    files = split_export(export, places, workspace.files) if places else {None: export}
    enrolled: dict[str | None, tuple[int, int]] = {}
    for site, path in files.items():
        with Session(engine, expire_on_commit=False) as session:
            enrolment = enrol_and_plan(session, clock, trial_id, path, ACTOR, site=site)
            session.commit()
        summary = enrolment.summary
        enrolled[site] = (summary.enrolled, summary.randomised)
        log.info(
            "enrolled %d people from %s: %d randomised, %d messages planned",
            summary.enrolled,
            path.name,
            summary.randomised,
            enrolment.outbox.planned,
        )
    sms_from = loaded.definition.sending.sms_from or ""
    sending = _sending(settings, clock, engine, server.url, sms_from, notify)
    simulation = Simulation(
        runtime,
        sending.provider,
        sending.settle,
        sending.replies,
        trial_id,
        zone,
        workspace.files,
        workspace.letters,
        courts,
        answers,
        opt_outs,
        surveys,
        tuple(place.slug for place in places),
    )
    try:
        simulated = simulation.run()
    except BaseException:
        sending.close()
        raise
    log.info(
        "simulation over after %d days: %d texts sent, %d letters posted",
        simulated.days,
        simulated.texts_sent,
        simulated.letters_posted,
    )
    clock.advance(timedelta(days=7))  # the court's outcomes arrive a week after the last hearing
    outcomes = workspace.files / "outcomes.csv"
    factors = site_factors(places) if places else {}
    with Session(engine, expire_on_commit=False) as session:
        by_site: dict[str, list[TrueEffect]] = {}
        if places:
            true_effects, by_site = site_true_effects(
                session, trial_id, outcomes, outcome_draws, factors
            )
        else:
            true_effects = simulate_outcomes(session, trial_id, outcomes, outcome_draws)
        recorded = import_outcomes(session, clock, trial_id, outcomes, ACTOR)
        session.commit()
    log.info("outcomes imported from %s: %d values recorded", outcomes.name, recorded.recorded)
    with Session(engine, expire_on_commit=False) as session:
        check = run_guardrails(session, clock, trial_id, settings, ACTOR)
    breaches = [row.words for row in check.new]
    log.info("guardrails checked: %d breach(es); mail %s", len(breaches), check.mail)
    with Session(engine, expire_on_commit=False) as session:
        report = report_json(analyse_trial(session, trial_id).report)
        texts = text_outcomes(session, trial_id)
        journey = journey_texts(session, trial_id)
        if not places:  # with sites, each site's own staff log in (nudge/demo/sites.py)
            password = secrets.token_urlsafe(12)
            add_user(session, clock, DEMO_EMAIL, "researcher", password, ACTOR)
            logins = [Login(DEMO_EMAIL, password, "researcher")]
        # Every hearing is over and every outcome is in: the trial closes with final results.
        trials.close_trial(session, clock, trial_id, trials.Actor(ACTOR), "outcomes in")
        session.commit()
    log.info("analysis done; trial %s closed", trial_id)
    try:  # the replication in a second area sends through the same provider
        replication = run_replication(
            runtime,
            sending.provider,
            sending.settle,
            workspace.files,
            {trial_id: report},
            size=size,
            seed=seed,
            actor=ACTOR,
            organisation=owner,
        )
    finally:
        sending.close()
    return DemoResult(
        workspace,
        trial_id,
        sum(n for n, _ in enrolled.values()),
        sum(n for _, n in enrolled.values()),
        simulated,
        true_effects,
        report,
        tuple(logins),
        texts,
        journey,
        {arm: effect for arm, effect in CONFIDENCE_EFFECT.items() if arm != "control"},
        breaches,
        check.mail,
        replication,
        tuple(
            SiteRun(p.slug, p.name, factors[p.slug], *enrolled[p.slug], by_site[p.slug])
            for p in places
        ),
    )


@dataclass(frozen=True)
class _Sending:
    """Where the demo's texts go, how to wait for their callbacks, and who replies."""

    provider: SmsProvider
    settle: Callable[[], None]
    replies: ReplySender
    close: Callable[[], None]


def _fake_notify(public_url: str, clock: FixedClock) -> FakeNotifyServer:
    """A local Notify-compatible server on a free port, on the demo's clock, posting its
    receipts and returned-letter reports to the demo's app with a bearer token of this run."""
    from nudge.fakes.notify_server import FakeNotifyServer
    from nudge.fakes.notify_state import FakeNotifyState

    fake = FakeNotifyServer(
        FakeNotifyState(now=clock.now),
        callback_url=f"{public_url}/webhooks/notify/status",
        callback_token=secrets.token_hex(32),
        returned_letter_url=f"{public_url}/webhooks/notify/returned-letter",
    ).start()
    log.info("texts and letters go through a local fake GOV.UK Notify at %s", fake.url)
    return fake


def _sending(
    settings: Settings,
    clock: FixedClock,
    engine: Engine,
    public_url: str,
    sms_from: str,
    notify: FakeNotifyServer | None,
) -> _Sending:
    if notify is None:
        console = ConsoleProvider(
            settings.outbox_dir, clock, CallbackPoster(settings.webhook_token)
        )
        replies = ReplySender(engine, public_url, settings.webhook_token, sms_from)
        return _Sending(console, console.drain, replies, console.close)
    assert settings.notify_api_key and settings.notify_sms_template_id
    assert notify.callbacks is not None and settings.notify_callback_token
    texts = NotifyProvider(
        settings.notify_api_key,
        settings.notify_sms_template_id,
        sender_id=settings.notify_sms_sender_id,
        base_url=settings.notify_base_url,
    )
    token = settings.notify_callback_token
    replies = NotifyReplySender(engine, public_url, token, sms_from or DEMO_INBOUND_NUMBER)
    return _Sending(texts, notify.callbacks.wait_idle, replies, notify.stop)
