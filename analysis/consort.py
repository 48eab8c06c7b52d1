"""The CONSORT flow and enrolment over time of a trial in the database: aggregate counts only.

Set-based queries (a handful per trial, none per participant). Everything returned is a count
of people or messages by arm, rule, status or week; no reference, name or contact detail.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select
from sqlmodel import Session

from analysis.labels import Labels
from experiments.definition import TrialDefinition
from experiments.outcome_store import observed
from messages.surveys import arm_message
from nudge.models import MessageStatus, Reason
from nudge.models.tables import ARMS, ASSIGNMENTS, MESSAGES, OUTCOMES, PEOPLE

# Statuses a message can still leave; every other status is final (docs/messages.md).
PENDING = (
    MessageStatus.SCHEDULED,
    MessageStatus.CLAIMED,
    MessageStatus.SENDING,
    MessageStatus.UNKNOWN,
)
# The provider took it (a letter: posted).
ACCEPTED = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)
# As the analysis frame's `delivered`.
REACHED = (("sms", MessageStatus.DELIVERED), ("letter", MessageStatus.SENT))
FAILED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
NOT_SENT = (MessageStatus.CANCELLED, MessageStatus.SKIPPED)


@dataclass(frozen=True)
class MessageFlow:
    """What happened to one arm's messages (rows replaced by a re-plan are not counted, nor
    survey questions: measurement, asked of every arm alike)."""

    scheduled: int
    pending: int
    sent: int
    delivered: int
    failed: int
    opted_out: int
    not_sent: int
    participants_reached: int


@dataclass(frozen=True)
class ArmFlow:
    arm: str
    randomised: int
    units: int
    messages: MessageFlow
    outcome_observed: int


@dataclass(frozen=True)
class Flow:
    assessed: int
    ineligible: int
    # Keyed by the failed rule as stored (`age min 18.0`), in the order the rules are checked;
    # ineligible_reasons gives each key's reason in words ("age under 18 or not recorded").
    ineligible_by_rule: dict[str, int]
    ineligible_reasons: dict[str, str]
    randomised: int
    arms: tuple[ArmFlow, ...]


@dataclass(frozen=True)
class EnrolmentWeek:
    week_starting: str  # ISO date of the Monday, in the trial's timezone
    by_arm: dict[str, int]
    total: int


def trial_flow(session: Session, definition: TrialDefinition) -> Flow:
    """Assessed, ineligible by rule, randomised, messages and outcomes per arm."""
    trial_id = definition.id
    rules = Counter(
        {
            str(rule): int(count)
            for rule, count in session.execute(
                select(PEOPLE.c.ineligible_rule, func.count())
                .where(PEOPLE.c.trial_id == trial_id, PEOPLE.c.eligible.is_(False))
                .group_by(PEOPLE.c.ineligible_rule)
            )
        }
    )
    assessed = session.execute(
        select(func.count()).select_from(PEOPLE).where(PEOPLE.c.trial_id == trial_id)
    ).scalar_one()
    randomised = _by_arm(session, trial_id, func.count(), func.count(ASSIGNMENTS.c.unit.distinct()))
    messages = _messages_by_arm(session, trial_id)
    observed = _observed_by_arm(session, trial_id, definition.primary_outcome.id)
    arms = tuple(
        ArmFlow(
            arm=arm.id,
            randomised=randomised.get(arm.id, (0, 0))[0],
            units=randomised.get(arm.id, (0, 0))[1],
            messages=messages.get(arm.id, MessageFlow(0, 0, 0, 0, 0, 0, 0, 0)),
            outcome_observed=observed.get(arm.id, 0),
        )
        for arm in definition.arms
    )
    labels = Labels.of(definition)
    keys = sorted(rules, key=lambda key: (labels.exclusion_order(key), key))
    return Flow(
        assessed=int(assessed),
        ineligible=sum(rules.values()),
        ineligible_by_rule={key: rules[key] for key in keys},
        ineligible_reasons={key: labels.exclusion_reason(key) for key in keys},
        randomised=sum(a.randomised for a in arms),
        arms=arms,
    )


def _joined_to_arm(*columns: ColumnElement[Any]) -> Select[Any]:
    return (
        select(ARMS.c.key, *columns)
        .select_from(ASSIGNMENTS)
        .join(ARMS, ARMS.c.id == ASSIGNMENTS.c.arm_id)
    )


def _by_arm(
    session: Session, trial_id: str, *aggregates: ColumnElement[Any]
) -> dict[str, tuple[int, ...]]:
    query = _joined_to_arm(*aggregates)
    query = query.where(ASSIGNMENTS.c.trial_id == trial_id).group_by(ARMS.c.key)
    return {key: tuple(int(v) for v in values) for key, *values in session.execute(query)}


def _messages_by_arm(session: Session, trial_id: str) -> dict[str, MessageFlow]:
    """Message counts per arm by status, channel and reason, in one grouped query: the arms'
    own messages, not the survey questions every arm is asked alike."""
    reached = ((MESSAGES.c.channel == "sms") & (MESSAGES.c.status == MessageStatus.DELIVERED)) | (
        (MESSAGES.c.channel == "letter") & (MESSAGES.c.status == MessageStatus.SENT)
    )
    query = (
        select(
            ARMS.c.key,
            MESSAGES.c.status,
            MESSAGES.c.channel,
            MESSAGES.c.reason,
            func.count(),
        )
        .select_from(MESSAGES)
        .join(ASSIGNMENTS, ASSIGNMENTS.c.participant_id == MESSAGES.c.participant_id)
        .join(ARMS, ARMS.c.id == ASSIGNMENTS.c.arm_id)
        .where(
            MESSAGES.c.trial_id == trial_id,
            MESSAGES.c.status != MessageStatus.SUPERSEDED,
            arm_message(),
        )
        .group_by(ARMS.c.key, MESSAGES.c.status, MESSAGES.c.channel, MESSAGES.c.reason)
    )
    tallies: dict[str, Counter[str]] = {}
    # Grouped by the reason itself: PostgreSQL cannot match `reason = :p` in the SELECT to
    # the same comparison in GROUP BY, each having its own bound parameter.
    for arm, status, channel, reason, count in session.execute(query):
        opted_out = reason == Reason.OPTED_OUT
        tally = tallies.setdefault(arm, Counter())
        tally["scheduled"] += count
        tally["pending"] += count if status in PENDING else 0
        tally["sent"] += count if status in ACCEPTED else 0
        tally["delivered"] += count if (channel, status) in REACHED else 0
        tally["failed"] += count if status in FAILED else 0
        tally["opted_out"] += count if opted_out else 0
        tally["not_sent"] += count if status in NOT_SENT and not opted_out else 0
    people = (
        select(ARMS.c.key, func.count(MESSAGES.c.participant_id.distinct()))
        .select_from(MESSAGES)
        .join(ASSIGNMENTS, ASSIGNMENTS.c.participant_id == MESSAGES.c.participant_id)
        .join(ARMS, ARMS.c.id == ASSIGNMENTS.c.arm_id)
        .where(MESSAGES.c.trial_id == trial_id, reached, arm_message())
        .group_by(ARMS.c.key)
    )
    reached_by_arm = {str(arm): int(count) for arm, count in session.execute(people)}
    return {
        arm: MessageFlow(
            scheduled=tally["scheduled"],
            pending=tally["pending"],
            sent=tally["sent"],
            delivered=tally["delivered"],
            failed=tally["failed"],
            opted_out=tally["opted_out"],
            not_sent=tally["not_sent"],
            participants_reached=int(reached_by_arm.get(arm, 0)),
        )
        for arm, tally in tallies.items()
    }


def _observed_by_arm(session: Session, trial_id: str, outcome_key: str) -> dict[str, int]:
    """Randomised participants per arm whose primary outcome is observed (the value in force)."""
    query = (
        _joined_to_arm(func.count())
        .join(OUTCOMES, OUTCOMES.c.participant_id == ASSIGNMENTS.c.participant_id)
        .where(
            ASSIGNMENTS.c.trial_id == trial_id,
            OUTCOMES.c.outcome_key == outcome_key,
            OUTCOMES.c.replaced_at.is_(None),
            observed(),
        )
        .group_by(ARMS.c.key)
    )
    return {key: int(count) for key, count in session.execute(query)}


def enrolment_by_week(session: Session, definition: TrialDefinition) -> tuple[EnrolmentWeek, ...]:
    """Randomised participants per arm per week (weeks start on Monday, the trial's local time)."""
    zone = ZoneInfo(definition.timezone)
    query = _joined_to_arm(ASSIGNMENTS.c.assigned_at).where(ASSIGNMENTS.c.trial_id == definition.id)
    counts: Counter[tuple[date, str]] = Counter()
    for arm, assigned_at in session.execute(query):
        local = assigned_at.astimezone(zone).date()
        counts[(local - timedelta(days=local.weekday()), arm)] += 1
    weeks = sorted({week for week, _ in counts})
    if not weeks:
        return ()
    every = [weeks[0] + timedelta(weeks=i) for i in range((weeks[-1] - weeks[0]).days // 7 + 1)]
    return tuple(
        EnrolmentWeek(
            week.isoformat(),
            {arm.id: counts[(week, arm.id)] for arm in definition.arms},
            sum(counts[(week, arm.id)] for arm in definition.arms),
        )
        for week in every
    )
