"""A trial's results, computed once per change of its data and shared by every process.

The cache row holds the results JSON and the *fingerprint* of the data it was computed from.
The fingerprint is read before the data and recomputed on each request:

- the definition version in force (`trial.current_version`);
- the number of participants, assignments and outcome rows of the trial. These tables are
  append-only for most of what the results use: enrolment only adds people and assignments,
  and an outcome correction adds a row and retires the old one. So each such change raises a
  count;
- the number of the trial's enrolment and hearing-update audit events: a later export may
  correct a person's language and contact choices in place (experiments/enrol_store.py
  MUTABLE), and a plan may use those as strata, covariates or subgroups. Every import writes
  its audit event in the transaction that makes its changes, so the count rises with them;
- the trial's messages counted by status, with the statuses a message can still leave
  (scheduled, claimed, sending, unknown) counted as one. Every other status is final and a
  message only moves forward into one (docs/messages.md; callbacks never move a message back).
  So any committed change the results can see moves a message into a final status, and the
  count of the highest final status reached rises: no mix of concurrent changes cancels out;
- the analysis date, only once some outcome has a date: follow-up of a dated outcome ends on
  it (analysis/time_to_event.py), so such results change with the day even when no data does.
  A trial without outcome dates keeps its results across days.

Why not "max(updated_at)": timestamps come from each writer's clock when it writes, not when it
commits, so a write that commits late with an earlier stamp would leave a stale cache forever.
Why not a version counter bumped by every writer: it would put one hot row lock in every
callback, dispatch and import transaction (and edits in all of them). Counts need no writer to
cooperate and are correct under concurrent writers on both engines: on PostgreSQL (read
committed) each later statement sees at least what the fingerprint saw, on SQLite the read
transaction's snapshot covers both; a result computed from newer data than its fingerprint is
only recomputed once more, never served stale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from analysis.concurrent import every_arm_open, excluded_any
from analysis.consort import PENDING, enrolment_by_week, trial_flow
from analysis.frame import frame_from_db
from analysis.over_time import results_over_time
from analysis.population import in_population
from analysis.report import build_report, report_json
from analysis.time_to_event import analysis_date
from experiments.definition import SITE_COLUMN, TrialDefinition
from nudge.clock import Clock
from nudge.models import (
    Organisation,
    ResultsCache,
    Trial,
    TrialSite,
)
from nudge.models.tables import (
    ASSIGNMENTS,
    AUDIT,
    CACHE,
    CASES,
    HEARINGS,
    MESSAGES,
    OUTCOMES,
    PEOPLE,
)

# Bump when the shape of the cached body changes, so old rows are recomputed after a deploy.
BODY_FORMAT = 4
# Audit actions of imports that may change, in place, participant fields the results use.
DATA_CHANGES = ("participants.enrolled", "hearings.updated")


@dataclass(frozen=True)
class Results:
    body: dict[str, Any]
    fingerprint: str
    computed_at: datetime
    from_cache: bool


def fingerprint(session: Session, trial: Trial, as_of: date | None = None) -> str:
    """A digest of what the results depend on; it changes with any committed change to them,
    and with `as_of` (the analysis date) once some outcome has a date."""
    counts = session.execute(
        select(
            *(
                select(func.count()).select_from(table).where(table.c.trial_id == trial.id)
                .scalar_subquery()
                for table in (PEOPLE, ASSIGNMENTS, OUTCOMES)
            ),
            select(func.count()).select_from(AUDIT).where(
                AUDIT.c.trial_id == trial.id, AUDIT.c.action.in_(DATA_CHANGES)
            ).scalar_subquery(),
        )
    ).one()  # fmt: skip
    messages = MESSAGES
    status = case((messages.c.status.in_(PENDING), "pending"), else_=messages.c.status)
    by_status = session.execute(
        select(status, func.count())
        .where(messages.c.trial_id == trial.id)
        .group_by(status)
        .order_by(status)
    ).all()
    parts = [BODY_FORMAT, trial.id, trial.current_version, list(counts)]
    parts.append([list(r) for r in by_status])
    if as_of is not None and _has_dates(session, trial.id):
        parts.append(as_of.isoformat())
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _has_dates(session: Session, trial_id: str) -> bool:
    dated = or_(OUTCOMES.c.occurred_on.is_not(None), OUTCOMES.c.charged_on.is_not(None))
    query = select(OUTCOMES.c.id).where(OUTCOMES.c.trial_id == trial_id, dated).limit(1)
    return session.execute(query).first() is not None


def results_for(
    session: Session, clock: Clock, trial: Trial, definition: TrialDefinition
) -> Results:
    """The trial's results: from the cache when the fingerprint matches, else computed and kept."""
    trial_id = trial.id
    as_of = analysis_date(clock.now(), definition.timezone, trial.closed_at)
    current = fingerprint(session, trial, as_of)
    cached = session.get(ResultsCache, trial_id)
    if cached is not None and cached.fingerprint == current:
        return Results(json.loads(cached.body), current, cached.computed_at, True)
    body = compute_body(session, definition, as_of)
    now = clock.now()
    _store(session, trial_id, current, now, json.dumps(body, allow_nan=False))
    return Results(body, current, now, False)


def _store(session: Session, trial_id: str, digest: str, now: datetime, text: str) -> None:
    """Insert or replace the trial's row; a concurrent writer's lock only costs the caching."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"trial_id": trial_id, "fingerprint": digest, "computed_at": now, "body": text}
    statement = insert(CACHE).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[CACHE.c.trial_id],
        set_={k: statement.excluded[k] for k in ("fingerprint", "computed_at", "body")},
    )
    try:
        session.execute(statement)
        session.commit()
    except OperationalError:
        session.rollback()  # busy: the next request computes and stores it


def compute_body(
    session: Session, definition: TrialDefinition, as_of: date | None = None
) -> dict[str, Any]:
    """Everything the results pages and downloads show, as plain JSON (aggregates only);
    outcomes with dates are followed in time up to `as_of`."""
    frame = frame_from_db(session, definition.id)
    names = site_names(session, definition.id) if definition.sites else None
    report = report_json(build_report(frame, definition, as_of=as_of, site_names=names))
    # After an arm was excluded from enrolment, what compares every arm at once uses only the
    # people allocated while every arm was open (analysis/concurrent.py).
    together = every_arm_open(frame) if excluded_any(frame) else frame
    return {
        "format": BODY_FORMAT,
        "trial": definition.id,
        "report": report,
        "flow": _flow_json(session, definition),
        "enrolment": [asdict(week) for week in enrolment_by_week(session, definition)],
        "randomised_at": randomised_at(session, definition),
        "over_time": asdict(
            results_over_time(together, hearing_times(session, definition.id, together), definition)
        ),
        "balance_counts": balance_counts(frame, report["balance"]["differences"], definition),
        "subgroup_counts": subgroup_counts(together, definition),
        # Only in a multi-site trial: kept out of the body of every other trial.
        **({"site_counts": site_counts(together, definition)} if definition.sites else {}),
    }


def site_names(session: Session, trial_id: str) -> dict[str, str]:
    """A multi-site trial's sites: organisation slug → the name its results go under."""
    query = (
        select(Organisation.slug, TrialSite.name)  # type: ignore[call-overload]
        .join(TrialSite, TrialSite.organisation_id == Organisation.id)
        .where(TrialSite.trial_id == trial_id)
    )
    return {str(slug): str(name) for slug, name in session.execute(query).all()}


def _flow_json(session: Session, definition: TrialDefinition) -> dict[str, Any]:
    """The participant flow, each arm marked with whether its design sends it any message: a
    zero count of messages in an arm that gets none is zero by design, not a small count."""
    flow = asdict(trial_flow(session, definition))
    planned = {arm.id: bool(arm.messages) for arm in definition.arms}
    for arm in flow["arms"]:
        arm["gets_messages"] = planned[arm["arm"]]
    return flow


def hearing_times(session: Session, trial_id: str, frame: pd.DataFrame) -> pd.Series:
    """Each frame row's hearing start (UTC), when its outcome happened; NaT if unknown.

    Rows are matched by (participant_ref, case_ref), which is unique within a trial.
    """
    people, cases, hearings = PEOPLE, CASES, HEARINGS
    query = (
        select(people.c.participant_ref, cases.c.case_ref, hearings.c.starts_at)
        .join(cases, cases.c.id == people.c.case_id)
        .join(hearings, hearings.c.case_id == cases.c.id)
        .where(people.c.trial_id == trial_id)
    )
    found = pd.DataFrame.from_records(
        session.execute(query).all(), columns=["participant_ref", "case_ref", "starts_at"]
    )
    known = pd.to_datetime(found["starts_at"], utc=True)
    if frame.empty or "case_ref" not in frame:
        return pd.Series(pd.NaT, index=frame.index, dtype=known.dtype)
    keys = pd.MultiIndex.from_frame(found[["participant_ref", "case_ref"]])
    wanted = pd.MultiIndex.from_frame(frame[["participant_ref", "case_ref"]].astype(str))
    position = keys.get_indexer(wanted)
    values = known.to_numpy()[position]
    return pd.Series(values, index=frame.index).where(position >= 0)


def randomised_at(session: Session, definition: TrialDefinition) -> dict[str, Any] | None:
    """The first and last day anyone was randomised (trial's timezone) and in how many imports.

    Each enrolment import randomises everyone in it at one instant, so distinct instants count
    the imports that randomised someone.
    """
    assignments = ASSIGNMENTS
    first, last, imports = session.execute(
        select(
            func.min(assignments.c.assigned_at),
            func.max(assignments.c.assigned_at),
            func.count(assignments.c.assigned_at.distinct()),
        ).where(assignments.c.trial_id == definition.id)
    ).one()
    if first is None:
        return None
    zone = ZoneInfo(definition.timezone)
    return {
        "first_day": first.astimezone(zone).date().isoformat(),
        "last_day": last.astimezone(zone).date().isoformat(),
        "imports": int(imports),
    }


def subgroup_counts(
    frame: pd.DataFrame, definition: TrialDefinition
) -> dict[str, dict[str, dict[str, dict[str, list[int]]]]]:
    """Analysed people and events per arm within each subgroup level: outcome → variable →
    level → arm → [n, events]. Disclosure control needs them; the report gives only level n.
    """
    counted: dict[str, dict[str, dict[str, dict[str, list[int]]]]] = {}
    for outcome in definition.outcomes:
        data = frame.loc[in_population(frame, outcome.population) & frame[outcome.id].notna()]
        by_variable = counted.setdefault(outcome.id, {})
        for variable in definition.analysis.subgroups:
            if variable not in data:
                continue
            by_variable[variable] = _cells(data, variable, outcome.id)
    return counted


def site_counts(
    frame: pd.DataFrame, definition: TrialDefinition
) -> dict[str, dict[str, dict[str, list[int]]]]:
    """Analysed people and events per arm at each site, for the primary outcome (the only one
    shown by site): outcome → site slug → arm → [n, events], for disclosure control."""
    outcome = definition.primary_outcome
    if SITE_COLUMN not in frame:
        return {outcome.id: {}}
    data = frame.loc[in_population(frame, outcome.population) & frame[outcome.id].notna()]
    return {outcome.id: _cells(data, SITE_COLUMN, outcome.id)}


def _cells(data: pd.DataFrame, variable: str, outcome: str) -> dict[str, dict[str, list[int]]]:
    labels = data[variable].map(_level_label, na_action="ignore")
    groups = data.groupby([labels, data["arm"].astype(str)], observed=True)[outcome]
    levels: dict[str, dict[str, list[int]]] = {}
    for (level, arm), values in groups:
        levels.setdefault(str(level), {})[str(arm)] = [len(values), int(values.sum())]
    return levels


def _level_label(value: object) -> str:
    """A subgroup level as the report names it (a whole number without its '.0')."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def balance_counts(
    frame: pd.DataFrame, rows: list[dict[str, Any]], definition: TrialDefinition
) -> list[dict[str, int] | None]:
    """For each balance row of a 0/1 covariate or a level: people with it and observed, by arm.

    Disclosure control needs them: a proportion and its n reveal a count. None for a numeric
    covariate, whose mean reveals no count.
    """
    control = definition.control_arm.id
    arms = frame["arm"].astype(str) if len(frame) else pd.Series(dtype=str)
    counted: list[dict[str, int] | None] = []
    for row in rows:
        values = frame[row["covariate"]]
        if row["level"] is not None:
            observed = values.notna()
            has = values.astype("string") == row["level"]
        elif set(values.dropna().unique()) <= {0.0, 1.0}:
            observed, has = values.notna(), values == 1.0
        else:
            counted.append(None)
            continue
        counts = {}
        for name, arm in (("arm", row["arm"]), ("control", control)):
            chosen = observed & (arms == arm)
            counts[f"{name}_n"] = int(chosen.sum())
            counts[f"{name}_count"] = int((chosen & has.fillna(False)).sum())
        counted.append(counts)
    return counted
