"""A second, smaller trial for the demo's "What we know" page: a replication, closed.

After the example trial closes, a second area repeats its practical-information arm against
business as usual. It shares the attendance outcome and the `practical_information` tag, so
the evidence page pools the two closed trials. It runs quickly: half the demo's size, one
text seven days before the hearing (no letters, no court-list changes, no replies), sent by the
real dispatcher at each text's due time; outcomes are simulated as for the example
(nudge/demo/outcomes.py) and imported as staff would, then the trial is closed.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from analysis.analyse import analyse_trial
from analysis.outcomes import import_outcomes
from analysis.pooled import ClosedTrial, PooledGroup, pool_closed_trials
from analysis.report import report_json
from experiments import trials
from experiments.loader import LoadedTrial, load_trial_text
from experiments.synthetic import ExportShape, write_export
from messages.intake import enrol_and_plan
from messages.providers.base import SmsProvider
from nudge.cli.dispatching import run_once
from nudge.cli.runtime import Runtime
from nudge.clock import FixedClock
from nudge.demo.outcomes import simulate_outcomes
from nudge.models import Message, MessageStatus

log = logging.getLogger(__name__)
REPLICATION_ID = "witness-reminders-replication-2027"
# Launched on a Monday in June, after the example trial's outcomes are in and it has closed.
LAUNCH = datetime(2027, 6, 7, 9, 0, tzinfo=ZoneInfo("Europe/London"))
FIRST_HEARING = LAUNCH.date() + timedelta(days=21)
HEARING_DAYS = 21
SHARE_OF_SIZE = 2  # half the example's export
# The same illustrative figure as the demo's copy of the example (nudge/demo/run.py).
DEMO_COST_OF_EVENT = (
    '{amount: 250, source: "Illustrative figure for the demo only, not a published cost: '
    "put your area's costed figure for a witness who does not attend (for example from an "
    'ineffective-trial costing) and its source here"}'
)
DEFINITION = """\
# Made by `nudge demo`: a replication of the example's practical-information arm in a second
# area, for the demo's "What we know" page (nudge/demo/replication.py).
id: REPLICATION_ID
title: Practical reminders for witnesses, a replication
hypothesis: A practical-information SMS raises attendance compared with business as usual.
timezone: Europe/London
population:
  unit: case
  strata: [court]
  eligibility:
    - {field: role, in: [victim, witness]}
    - {field: age, min: 18}
    - {field: contact_sms, equals: true, label: did not agree to texts}
    - {field: safeguarding_flag, equals: false}
randomisation:
  method: permuted_blocks
  block_sizes: [2, 4]
  seed: 20270607
arms:
  - id: control
    title: Business as usual
    control: true
  - id: practical
    title: Practical information
    tags: [practical_information, sms, 7_days_before]
    messages:
      - {channel: sms, template: practical_7d, send: {days_before: 7, at: "18:00"}}
templates:
  practical_7d:
    en: "Hi {{ first_name }}, you are due at {{ court_name }} on {{ hearing_date }} at
      {{ hearing_time }}. Questions? Call {{ care_unit_phone }}. Reply STOP to opt out."
    cy: "Helo {{ first_name }}, mae disgwyl i chi fod yn {{ court_name }} ar {{ hearing_date }}
      am {{ hearing_time }}. Cwestiynau? Ffoniwch {{ care_unit_phone }}. Atebwch STOP i optio
      allan."
sending:
  quiet_hours: {start: "20:00", end: "09:00"}
  late: skip
  max_per_second: 10
  sms_from: "+447700900000"
  care_unit_phone: "0117 496 0000"
  help_text: "Witness Care Unit reminders. Call 0117 496 0000. Reply STOP to opt out."
outcomes:
  - {id: attended, primary: true, label: attendance,
     description: Attended court on the hearing date}
  - {id: withdrew, better: lower, label: withdrawal,
     description: Victim withdrew support for the prosecution,
     population: {field: role, equals: victim}}
analysis:
  alpha: 0.05
  correction: holm
  covariates: [age_band, vulnerable, prior_fta, role]
  columns:
    age_band: {type: categorical, label: age band}
    vulnerable: {type: flag, label: vulnerable or intimidated}
    prior_fta: {type: flag, label: previous failure to attend}
    role: categorical
    court: categorical
  minimum_detectable_effect: 0.1
  baseline_rate: 0.75
costs:
  currency: GBP
  sms_segment: 0.04
  cost_of_event:
    attended: COST_OF_EVENT
""".replace("REPLICATION_ID", REPLICATION_ID).replace("COST_OF_EVENT", DEMO_COST_OF_EVENT)


@dataclass(frozen=True)
class Replication:
    """What the replication did, and what the two closed trials say together, for the summary."""

    trial_id: str
    randomised: int
    texts_sent: int
    pooled: PooledGroup | None = None  # practical information on attendance, both trials


def run_replication(
    runtime: Runtime,
    provider: SmsProvider,
    settle: Callable[[], None],
    files: Path,
    earlier: dict[str, dict[str, Any]],
    *,
    size: int,
    seed: int,
    actor: str,
    organisation: str | None = None,
) -> Replication:
    """Create, launch, enrol, send, observe and close the replication on the demo's clock;
    then pool it with the `earlier` closed trials (trial id → results JSON). `organisation`:
    the one it belongs to (its short name; the only one when None)."""
    clock = runtime.clock
    assert isinstance(clock, FixedClock)
    engine = runtime.engine
    clock.set(max(LAUNCH, clock.now()))
    path = files / "replication.yaml"
    path.write_text(DEFINITION, encoding="utf-8")
    loaded = load_trial_text(DEFINITION, str(path), files)
    assert isinstance(loaded, LoadedTrial), f"the replication must validate: {loaded}"
    with Session(engine, expire_on_commit=False) as session:
        trials.create_trial(session, clock, loaded, trials.Actor(actor), organisation)
        trials.launch_trial(session, clock, REPLICATION_ID, trials.Actor(actor))
        session.commit()
    export = files / "replication-export.csv"
    # Other fictional people than the example's: a seed of their own.
    shape = ExportShape(FIRST_HEARING, HEARING_DAYS)
    write_export(export, max(60, size // SHARE_OF_SIZE), shape, seed + 7919)
    with Session(engine, expire_on_commit=False) as session:
        enrolment = enrol_and_plan(session, clock, REPLICATION_ID, export, actor)
        session.commit()
    sent = 0
    while (due := _next_due(runtime)) is not None:
        clock.set(max(due, clock.now()))
        _, result = run_once(runtime, provider)
        settle()
        sent += result.sent
    clock.advance(timedelta(days=7))  # the court's outcomes, a week after the last hearing
    outcomes = files / "replication-outcomes.csv"
    draws = random.Random(f"{seed}:replication outcomes")
    with Session(engine, expire_on_commit=False) as session:
        simulate_outcomes(session, REPLICATION_ID, outcomes, draws)
        import_outcomes(session, clock, REPLICATION_ID, outcomes, actor)
        trials.close_trial(session, clock, REPLICATION_ID, trials.Actor(actor), "outcomes in")
        session.commit()
    log.info(
        "replication %s: %d randomised, %d texts sent, outcomes imported, closed",
        REPLICATION_ID,
        enrolment.summary.randomised,
        sent,
    )
    pooled = pooled_practical(engine, {**earlier, REPLICATION_ID: replication_report(engine)})
    return Replication(REPLICATION_ID, enrolment.summary.randomised, sent, pooled)


def pooled_practical(engine: Engine, reports: dict[str, dict[str, Any]]) -> PooledGroup | None:
    """What the "What we know" page shows first: the practical-information arms' effect on
    attendance pooled over the closed trials whose reports are given (researcher's figures)."""
    with Session(engine) as session:
        closed = []
        for trial_id, report in reports.items():
            trial = trials.get_trial(session, trial_id)
            closed.append(
                ClosedTrial(
                    trial_id,
                    trial.title,
                    trial.closed_at.date() if trial.closed_at else None,
                    trials.current_definition(session, trial),
                    {"report": report},
                )
            )
    evidence = pool_closed_trials(closed)
    wanted = ("attended", "practical_information")
    return next((g for g in evidence.groups if (g.outcome, g.tag) == wanted), None)


def replication_report(engine: Engine) -> dict[str, Any]:
    """The replication's results JSON, as `nudge analyse` gives it."""
    with Session(engine) as session:
        return report_json(analyse_trial(session, REPLICATION_ID).report)


def _next_due(runtime: Runtime) -> datetime | None:
    with Session(runtime.engine) as session:
        return session.exec(
            select(func.min(Message.next_attempt_at)).where(
                Message.trial_id == REPLICATION_ID, Message.status == MessageStatus.SCHEDULED
            )
        ).one()
