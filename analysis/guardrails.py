"""Guardrails: safety thresholds on a live trial, checked daily, with a one-sided clustered test.

These trials text victims and witnesses of crime. A framing that distresses people, or a sender
number carriers start blocking, must be noticed within a day. The definition's `guardrails`
(docs/trial-definition.md) lists the thresholds; `nudge worker` checks them once a day and
`nudge guardrails check TRIAL` on demand. For each treatment arm (and, for `max`, control too):

| metric | numerator | denominator |
|---|---|---|
| `opt_out_rate` | people who replied STOP | randomised people with a mobile number |
| `failed_rate` | texts failed or undelivered | the arm's texts the provider took or refused |
| `distress_rate` | people who replied with a triage word | people sent one of the arm's texts |
| `returned_letter_rate` | letters returned by the post | letters posted |
| `outcome` | people with the outcome's bad value | people with the outcome recorded |

(An outcome's bad value is 1 when it is `better: lower`, such as withdrawal, else 0.) A survey's
questions are not the arm's texts: every arm, control too, is asked them alike, so they are
measurement, not the intervention whose safety is watched.

**The test.** With `max`, H0: the arm's rate ≤ max; with `max_excess`, H0: the arm's rate minus
control's ≤ max_excess. z = (estimate − threshold) / SE, one-sided p = 1 − Φ(z), a breach when
p < the guardrail's alpha (0.05 unless set). People are correlated within a randomisation unit
(a case's witnesses get the same arm), so each arm's variance is the cluster-robust one of a
ratio estimator, m / (m − 1) · Σ_c (y_c − p n_c)² / (Σ_c n_c)² over its m units; it is never
taken below the binomial variance at (y + ½) / (n + 1), so that an arm in which every person
opted out, whose robust variance is 0, is still tested rather than certain. An arm with no one
in the denominator, or a comparison with a control that has none (control sends no texts), is
reported as not checkable, never as safe.

A breach is recorded once per arm and guardrail (`guardrail_breach`), audited, shown as a warning
on the trial's pages and mailed to the trial's contacts; later checks that still find it do not
mail again. What became of the mail (sent, not configured, failed) is kept on the breach, and
the warning says whether the contacts were told (analysis/guardrail_notice.py). Only rates and
counts leave this module: no name, number or reply text.
"""

from __future__ import annotations

import math
import smtplib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Select, and_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from sqlmodel import select as sqlmodel_select

from analysis.guardrail_notice import MailOutcome
from experiments import trials
from experiments.definition import Guardrail, TrialDefinition
from messages.pausing import pause, paused_arms
from messages.surveys import arm_message
from messages.triage import triage_words_in
from nudge import audit
from nudge.clock import Clock
from nudge.config import Settings
from nudge.errors import NudgeError
from nudge.mail import send_mail
from nudge.models import GuardrailBreach, GuardrailRun, MessageStatus, Trial, TrialStatus
from nudge.models.tables import ARMS, ASSIGNMENTS, MESSAGES, OUTCOMES, PEOPLE, REPLIES

TAKEN = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)
ATTEMPTED = (*TAKEN, MessageStatus.FAILED)
BAD_DELIVERY = (MessageStatus.UNDELIVERED, MessageStatus.FAILED)

METRIC_WORDS = {
    "opt_out_rate": "opt-out rate",
    "failed_rate": "failed or undelivered texts",
    "distress_rate": "replies showing distress or complaint",
    "returned_letter_rate": "returned letters",
    "outcome": "outcome",
}


@dataclass(frozen=True)
class Rate:
    events: int
    n: int
    units: int
    variance: float | None

    @property
    def value(self) -> float | None:
        return self.events / self.n if self.n else None


@dataclass(frozen=True)
class Finding:
    """One guardrail for one arm, as checked now."""

    key: str  # the guardrail's name: the metric, or outcome:<id>
    arm: str
    rate: Rate
    control: Rate | None  # with max_excess
    threshold: float
    excess: bool  # True: the threshold is on the difference from control
    z: float | None
    p_value: float | None
    breached: bool
    note: str | None = None  # why it could not be checked

    def words(self, titles: dict[str, str], labels: dict[str, str]) -> str:
        title = titles.get(self.arm, self.arm)
        what = labels.get(self.key, METRIC_WORDS.get(self.key, self.key))
        if self.note:
            return f"{title}, {what}: not checked ({self.note})."
        rate = f"{self.rate.value:.1%} ({self.rate.events:,} of {self.rate.n:,})"
        if self.excess and self.control is not None and self.control.value is not None:
            limit = f"more than {self.threshold:.1%} above control's {self.control.value:.1%}"
        else:
            limit = f"above {self.threshold:.1%}"
        verdict = "BREACHED" if self.breached else "within"
        return (
            f"{title}, {what}: {rate}; limit {limit}; {verdict} (one-sided p = {self.p_value:.3g})."
        )


def guardrail_key(guardrail: Guardrail) -> str:
    return f"outcome:{guardrail.outcome}" if guardrail.metric == "outcome" else guardrail.metric


def check_guardrails(session: Session, trial_id: str, definition: TrialDefinition) -> list[Finding]:
    """Every guardrail for every arm it applies to, from the data as it stands."""
    if definition.guardrails is None:
        return []
    control = definition.control_arm.id
    findings = []
    for guardrail in definition.guardrails.checks:
        rates = _rates(session, trial_id, definition, guardrail)
        arms = [a.id for a in definition.arms if guardrail.max is not None or a.id != control]
        for arm in arms:
            findings.append(_test(guardrail, arm, rates.get(arm), rates.get(control)))
    return findings


def _test(guardrail: Guardrail, arm: str, rate: Rate | None, control: Rate | None) -> Finding:
    key = guardrail_key(guardrail)
    excess = guardrail.max_excess is not None
    threshold = guardrail.max_excess if excess else guardrail.max
    assert threshold is not None
    rate = rate or Rate(0, 0, 0, None)
    if not rate.n or rate.variance is None:
        return Finding(key, arm, rate, control, threshold, excess, None, None, False, "no one yet")
    estimate, variance = rate.events / rate.n, rate.variance
    if excess:
        if control is None or not control.n or control.variance is None:
            note = "control has no one to compare with"
            return Finding(key, arm, rate, control, threshold, excess, None, None, False, note)
        estimate -= control.events / control.n
        variance += control.variance
    z = (estimate - threshold) / math.sqrt(variance)
    p = 0.5 * math.erfc(z / math.sqrt(2.0))  # the normal's upper tail, exact in the tail
    return Finding(key, arm, rate, control, threshold, excess, z, p, p < guardrail.alpha)


def clustered_rate(clusters: Iterable[tuple[int, int]]) -> Rate:
    """A rate over units (events, people per unit) with its cluster-robust variance, floored at
    the binomial variance at (y + 1/2) / (n + 1)."""
    pairs = [(y, n) for y, n in clusters if n]
    events = sum(y for y, _ in pairs)
    n = sum(m for _, m in pairs)
    if not n:
        return Rate(0, 0, 0, None)
    p = events / n
    m = len(pairs)
    robust = 0.0
    if m > 1:
        robust = m / (m - 1) * sum((y - p * k) ** 2 for y, k in pairs) / n**2
    shrunk = (events + 0.5) / (n + 1)
    floor = shrunk * (1 - shrunk) / n
    return Rate(events, n, m, max(robust, floor))


def _rates(
    session: Session, trial_id: str, definition: TrialDefinition, guardrail: Guardrail
) -> dict[str, Rate]:
    """arm -> Rate, from (arm, unit, event 0/1) per person or per text."""
    rows = _observations(session, trial_id, definition, guardrail)
    by_arm: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for arm, unit, event in rows:
        cell = by_arm[arm][unit]
        cell[0] += int(event)
        cell[1] += 1
    return {arm: clustered_rate((y, n) for y, n in units.values()) for arm, units in by_arm.items()}


def _people(trial_id: str) -> Select[tuple[str, str, int]]:
    a = ASSIGNMENTS.c
    return (
        select(ARMS.c.key, a.unit, PEOPLE.c.id)
        .join(ARMS, ARMS.c.id == a.arm_id)
        .join(PEOPLE, PEOPLE.c.id == a.participant_id)
        .where(a.trial_id == trial_id)
    )


def _observations(
    session: Session, trial_id: str, definition: TrialDefinition, guardrail: Guardrail
) -> list[tuple[str, str, bool]]:
    people = _people(trial_id)
    if guardrail.metric == "opt_out_rate":
        stopped = (
            select(REPLIES.c.participant_id)
            .where(REPLIES.c.kind == "stop", REPLIES.c.participant_id.is_not(None))
            .distinct()
            .scalar_subquery()
        )
        query = people.where(PEOPLE.c.phone.is_not(None)).add_columns(PEOPLE.c.id.in_(stopped))
        return [(arm, unit, bool(hit)) for arm, unit, _, hit in session.execute(query)]
    if guardrail.metric == "failed_rate":
        query = (
            people.join(MESSAGES, MESSAGES.c.participant_id == PEOPLE.c.id)
            .where(MESSAGES.c.channel == "sms", MESSAGES.c.status.in_(ATTEMPTED), arm_message())
            .add_columns(MESSAGES.c.status.in_(BAD_DELIVERY))
        )
        return [(arm, unit, bool(bad)) for arm, unit, _, bad in session.execute(query)]
    if guardrail.metric == "returned_letter_rate":
        query = (
            people.join(MESSAGES, MESSAGES.c.participant_id == PEOPLE.c.id)
            .where(
                MESSAGES.c.channel == "letter",
                MESSAGES.c.status.in_((MessageStatus.SENT, MessageStatus.RETURNED)),
            )
            .add_columns(MESSAGES.c.status == MessageStatus.RETURNED)
        )
        return [(arm, unit, bool(back)) for arm, unit, _, back in session.execute(query)]
    if guardrail.metric == "distress_rate":
        return _distress(session, trial_id, definition)
    key = guardrail.outcome
    better = next(o.better for o in definition.outcomes if o.id == key)
    query = people.join(
        OUTCOMES,
        and_(
            OUTCOMES.c.participant_id == PEOPLE.c.id,
            OUTCOMES.c.outcome_key == key,
            OUTCOMES.c.replaced_at.is_(None),
            OUTCOMES.c.value.is_not(None),
        ),
    ).add_columns(OUTCOMES.c.value)
    bad = better == "lower"
    return [(arm, unit, bool(value) == bad) for arm, unit, _, value in session.execute(query)]


def _distress(
    session: Session, trial_id: str, definition: TrialDefinition
) -> list[tuple[str, str, bool]]:
    texted = (
        select(MESSAGES.c.participant_id)
        .where(
            MESSAGES.c.trial_id == trial_id,
            MESSAGES.c.channel == "sms",
            MESSAGES.c.status.in_(TAKEN),
            arm_message(),
        )
        .distinct()
        .scalar_subquery()
    )
    people = {
        pid: (arm, unit)
        for arm, unit, pid in session.execute(_people(trial_id).where(PEOPLE.c.id.in_(texted)))
    }
    flagged: set[int] = set()
    words = definition.triage_words
    replies = select(REPLIES.c.participant_id, REPLIES.c.body).where(
        REPLIES.c.participant_id.in_(texted)
    )
    for pid, body in session.execute(replies):
        if pid not in flagged and triage_words_in(body, words):
            flagged.add(pid)
    return [(arm, unit, pid in flagged) for pid, (arm, unit) in people.items()]


@dataclass(frozen=True)
class GuardrailCheck:
    """One check of a trial: every finding, the breaches new to it, and what became of the mail."""

    findings: list[Finding]
    new: list[GuardrailBreach]
    mail: str  # "sent", "not configured", "no new breach" or the failure in words


def run_guardrails(
    session: Session, clock: Clock, trial_id: str, settings: Settings, actor: str
) -> GuardrailCheck:
    """Check TRIAL now; record and audit new breaches (committed), then mail them."""
    trial = trials.get_trial(session, trial_id)
    definition = trials.current_definition(session, trial)
    if definition.guardrails is None:
        raise NudgeError(
            f"trial '{trial_id}' declares no guardrails: add guardrails (contacts and checks) "
            "to its definition (docs/trial-definition.md)"
        )
    findings = check_guardrails(session, trial_id, definition)
    known = {
        (row.arm_key, row.guardrail)
        for row in session.exec(
            sqlmodel_select(GuardrailBreach).where(GuardrailBreach.trial_id == trial_id)
        )
    }
    titles = {arm.id: arm.title for arm in definition.arms}
    labels = {f"outcome:{o.id}": o.label or o.id for o in definition.outcomes}
    rules = {guardrail_key(g): g for g in definition.guardrails.checks}
    paused = paused_arms(session, trial_id, list(titles))
    new = []
    for finding in findings:
        if not finding.breached or (finding.arm, finding.key) in known:
            continue
        assert finding.p_value is not None and finding.rate.value is not None
        control = finding.control.value if finding.control is not None else None
        row = GuardrailBreach(
            trial_id=trial_id,
            arm_key=finding.arm,
            guardrail=finding.key,
            detected_at=clock.now(),
            rate=finding.rate.value,
            events=finding.rate.events,
            n=finding.rate.n,
            control_rate=control,
            threshold=finding.threshold,
            excess=finding.excess,
            p_value=finding.p_value,
            words=finding.words(titles, labels),
        )
        session.add(row)
        audit.record(
            session,
            clock,
            actor=actor,
            action="guardrail.breached",
            trial_id=trial_id,
            subject=f"{finding.arm} {finding.key}",
            details={
                "rate": round(finding.rate.value, 6),
                "threshold": finding.threshold,
                "excess": finding.excess,
                "p_value": finding.p_value,
            },
        )
        new.append(row)
        if rules[finding.key].pause and finding.arm not in paused:
            reason = f"guardrail breached: {row.words}"
            pause(session, clock, trial_id, finding.arm, reason, "guardrail")
            paused.add(finding.arm)
    session.commit()
    mail = _mail(session, clock, trial_id, definition, settings, new, actor)
    return GuardrailCheck(findings, new, mail)


def _mail(
    session: Session,
    clock: Clock,
    trial_id: str,
    definition: TrialDefinition,
    settings: Settings,
    new: list[GuardrailBreach],
    actor: str,
) -> str:
    if not new:
        return "no new breach"
    assert definition.guardrails is not None
    if settings.smtp_url is None or settings.mail_from is None:
        outcome = "not configured: NUDGE_SMTP_URL and NUDGE_MAIL_FROM are not set"
        kept = MailOutcome.NOT_CONFIGURED
    else:
        where = f"{settings.public_url}/trials/{trial_id}/results" if settings.public_url else ""
        body = "\n\n".join(
            [
                f"A safety guardrail of the trial '{definition.title}' ({trial_id}) was breached "
                f"on the check of {clock.now():%Y-%m-%d %H:%M} UTC:",
                *(f"- {row.words}" for row in new),
                "The data monitoring committee should now decide whether the arm goes on"
                " (an arm the plan pauses on breach is paused: nudge trial resume). "
                "This mail carries rates only, no personal data."
                + (f"\n\nThe trial's results: {where}" if where else ""),
            ]
        )
        subject = f"Nudge: safety guardrail breached in {trial_id}"
        try:
            send_mail(
                settings.smtp_url, settings.mail_from, definition.guardrails.contacts, subject, body
            )
            outcome, kept = "sent", MailOutcome.SENT
        except (OSError, smtplib.SMTPException) as exc:
            outcome, kept = f"failed: {type(exc).__name__}: {exc}", MailOutcome.FAILED
    for row in new:
        row.mail = kept  # the warning on the trial's pages is worded by it
        session.add(row)
    audit.record(
        session,
        clock,
        actor=actor,
        action="guardrail.mailed" if outcome == "sent" else "guardrail.mail_failed",
        trial_id=trial_id,
        details={"breaches": len(new), "outcome": outcome},
    )
    session.commit()
    return outcome


def run_due_guardrails(engine: Engine, clock: Clock, settings: Settings, actor: str) -> int:
    """Check every live trial with guardrails not yet checked on its local day; the number
    checked. A day's row is taken first, so two workers never both check a trial."""
    checked = 0
    with Session(engine) as session:
        live = session.exec(sqlmodel_select(Trial.id).where(Trial.status == TrialStatus.LIVE)).all()
    for trial_id in live:
        with Session(engine) as session:
            trial = trials.get_trial(session, trial_id)
            definition = trials.current_definition(session, trial)
            if definition.guardrails is None:
                continue
            day = clock.now().astimezone(ZoneInfo(definition.timezone)).date()
            run = GuardrailRun(trial_id=trial_id, day=day, checked_at=clock.now())
            session.add(run)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                continue
            result = run_guardrails(session, clock, trial_id, settings, actor)
            run.breaches = len(result.new)
            session.add(run)
            session.commit()
            checked += 1
    return checked
