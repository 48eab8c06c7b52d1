"""Outcome import: one row per participant, one 0/1 column per outcome, all or nothing.

A blank cell means "not observed in this file" and changes nothing; a different value for an
outcome already observed is a correction: the old row gets `replaced_at` and a new row is
added, so the history of every value is kept. People enrolled but not randomised (ineligible)
may be in the file: their outcomes are recorded, counted apart, and never analysed.

An outcome may come with dates: the day its event happened (`withdrew_on`) and the charge
(`charged_on`); see analysis/outcome_dates.py. A changed date is a correction like a changed
value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlmodel import Session

from analysis.outcome_dates import (
    DateColumns,
    Observation,
    charged_days,
    is_date_column,
    observe,
    read_date_columns,
)
from experiments import trials
from experiments.csvfile import CsvRecord, duplicate_columns, read_header, read_records
from experiments.definition import TrialDefinition
from experiments.eligibility import parse_flag
from experiments.keys import normalise_key
from experiments.rows import RowError
from nudge import audit
from nudge.bulk import Same, columns_of, insert_rows
from nudge.clock import Clock
from nudge.errors import ImportRejected, Problem, TrialStateError
from nudge.models import Outcome, TrialStatus
from nudge.models.tables import ASSIGNMENTS, CASES, OUTCOMES, PEOPLE
from nudge.models.types import column_length, fitted

KEY_COLUMNS = ("participant_ref", "case_ref")
UPDATE_BATCH = 5000


@dataclass
class OutcomeSummary:
    """What an import did (or would do). Counts of values, except `read` (rows)."""

    source: str
    read: int = 0
    recorded: int = 0
    corrected: int = 0
    unchanged: int = 0
    rejected: int = 0
    not_randomised: int = 0
    outcome_columns: list[str] = field(default_factory=list)
    date_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Person:
    participant_id: int
    randomised: bool


class _NewValue(NamedTuple):
    """One `outcome` row to add, less what the import shares; fields named as its columns."""

    participant_id: int
    outcome_key: str
    value: bool
    occurred_on: date | None
    charged_on: date | None


@dataclass
class _Plan:
    """The writes an import will make, decided before any is made."""

    inserts: list[_NewValue] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def import_outcomes(
    session: Session, clock: Clock, trial_id: str, path: Path, actor: str
) -> OutcomeSummary:
    """Record the outcomes in FILE; raises ImportRejected (nothing written) if any row is bad.

    The caller owns the transaction: it commits on success, rolls back for a dry run.
    """
    trial = trials.lock_trial(session, trial_id)
    if trial.status == TrialStatus.DRAFT:
        raise TrialStateError(
            f"trial '{trial_id}' is a draft: nobody is randomised yet, so there are no "
            "outcomes to record"
        )
    definition = trials.current_definition(session, trial)
    encoding, columns = read_header(path, definition.mapping)
    outcome_columns, dates = _check_header(path, columns, definition)
    summary = OutcomeSummary(
        source=str(path), outcome_columns=outcome_columns, date_columns=dates.names
    )
    people = _people(session, trial_id)
    charged = charged_days(session, trial_id, definition) or {}
    current = _current_values(session, trial_id)
    now, source = clock.now(), fitted(f"outcomes:{path.name}", column_length(Outcome, "source"))
    today = now.astimezone(ZoneInfo(definition.timezone)).date()
    plan = _Plan()
    seen: dict[tuple[str, str], int] = {}
    for record in read_records(path, encoding, columns):
        summary.read += 1
        if isinstance(record, Problem):
            plan.problems.append(record)
            continue
        try:
            person = _person(record, people, seen)
            stored = _stored(current, person.participant_id, outcome_columns)
            values = observe(
                record,
                _values(record, outcome_columns),
                dates,
                stored,
                today,
                charged.get(person.participant_id),
            )
        except RowError as exc:
            plan.problems.append(Problem(str(path), record.line, None, str(exc)))
            continue
        changes = _apply_row(person, values, current, summary)
        for key, observed, old_id in changes:
            plan.inserts.append(
                _NewValue(
                    participant_id=person.participant_id, outcome_key=key, **observed._asdict()
                )
            )
            if old_id is not None:
                plan.replaced.append(old_id)
    if plan.problems:
        summary.rejected = len({p.line for p in plan.problems})
        raise ImportRejected(
            f"{path}: {summary.rejected} row(s) rejected, so nothing was recorded; fix them "
            "and import the file again",
            plan.problems,
        )
    _write(session, plan, trial_id, source, now)
    audit.record(
        session,
        clock,
        actor=actor,
        action="outcomes.imported",
        trial_id=trial_id,
        subject=path.name,
        details=_audit_details(summary),
    )
    return summary


def _audit_details(summary: OutcomeSummary) -> dict[str, object]:
    """Counts and column names, never a reference; `dates` only when the file had any."""
    details: dict[str, object] = {
        "read": summary.read,
        "recorded": summary.recorded,
        "corrected": summary.corrected,
        "unchanged": summary.unchanged,
        "not_randomised": summary.not_randomised,
        "outcomes": summary.outcome_columns,
    }
    if summary.date_columns:
        details["dates"] = summary.date_columns
    return details


def _check_header(
    path: Path, columns: list[str], definition: TrialDefinition
) -> tuple[list[str], DateColumns]:
    """The file's outcome and date columns; a missing key column or an unknown or unusable
    column rejects the file."""
    known = [o.id for o in definition.outcomes]
    problems = [
        Problem(str(path), 1, None, f"header: missing column '{name}'")
        for name in KEY_COLUMNS
        if name not in columns
    ]
    problems += [
        Problem(
            str(path),
            1,
            None,
            f"header: column '{name}' is not an outcome of trial '{definition.id}' "
            f"(its outcomes: {', '.join(known)})",
        )
        for name in columns
        if name not in KEY_COLUMNS and name not in known and not is_date_column(name, known)
    ]
    problems += duplicate_columns(path, columns)
    dates, date_problems = read_date_columns(path, columns, known)
    problems += date_problems
    outcome_columns = [c for c in known if c in columns]
    if not outcome_columns and not problems:
        problems.append(
            Problem(str(path), 1, None, f"header: no outcome column (one of: {', '.join(known)})")
        )
    if problems:
        raise ImportRejected(
            f"{path}: the header does not fit trial '{definition.id}'; nothing was recorded",
            problems,
        )
    return outcome_columns, dates


def _people(session: Session, trial_id: str) -> dict[tuple[str, str], _Person]:
    """Everyone enrolled in the trial by (participant_ref, case_ref), in one query."""
    query = (
        select(PEOPLE.c.participant_ref, CASES.c.case_ref, PEOPLE.c.id, ASSIGNMENTS.c.id)
        .join(CASES, CASES.c.id == PEOPLE.c.case_id)
        .outerjoin(ASSIGNMENTS, ASSIGNMENTS.c.participant_id == PEOPLE.c.id)
        .where(PEOPLE.c.trial_id == trial_id)
    )
    return {
        (ref, case): _Person(participant_id, assignment is not None)
        for ref, case, participant_id, assignment in session.execute(query)
    }


Current = dict[tuple[int, str], tuple[int, Observation]]


def _current_values(session: Session, trial_id: str) -> Current:
    """What is in force for each (participant, outcome): (row id, value and dates)."""
    outcomes = OUTCOMES.c
    query = select(
        outcomes.participant_id,
        outcomes.outcome_key,
        outcomes.id,
        outcomes.value,
        outcomes.occurred_on,
        outcomes.charged_on,
    ).where(
        outcomes.trial_id == trial_id,
        outcomes.replaced_at.is_(None),
        outcomes.value.is_not(None),
    )
    return {
        (participant_id, key): (row_id, Observation(bool(value), occurred_on, charged_on))
        for participant_id, key, row_id, value, occurred_on, charged_on in session.execute(query)
    }


def _stored(current: Current, participant_id: int, keys: list[str]) -> dict[str, Observation]:
    """What is in force for one participant's outcomes in the file, by outcome."""
    return {
        key: current[(participant_id, key)][1] for key in keys if (participant_id, key) in current
    }


def _person(
    record: CsvRecord, people: dict[tuple[str, str], _Person], seen: dict[tuple[str, str], int]
) -> _Person:
    ref = normalise_key(record.values["participant_ref"])
    case = normalise_key(record.values["case_ref"])
    for column, value in (("participant_ref", ref), ("case_ref", case)):
        if not value:
            raise RowError(column, "missing")
    if (ref, case) in seen:
        raise RowError(
            "participant_ref", f"'{ref}' in case '{case}' is already on line {seen[(ref, case)]}"
        )
    seen[(ref, case)] = record.line
    person = people.get((ref, case))
    if person is None:
        raise RowError("participant_ref", f"'{ref}' in case '{case}' is not in this trial")
    return person


def _values(record: CsvRecord, outcome_columns: list[str]) -> dict[str, bool]:
    """The observed outcomes of one row (blank cells are not observed, so left out)."""
    observed = {}
    for column in outcome_columns:
        text = record.values[column]
        try:
            value = parse_flag(text)
        except ValueError:
            raise RowError(
                column, f"'{text}' is not yes or no (1/0, true/false; blank if not observed)"
            ) from None
        if value is not None:
            observed[column] = value
    return observed


def _apply_row(
    person: _Person,
    values: dict[str, Observation],
    current: Current,
    summary: OutcomeSummary,
) -> list[tuple[str, Observation, int | None]]:
    """The new rows one participant needs: (outcome, observation, id of the row it replaces)."""
    if values and not person.randomised:
        summary.not_randomised += 1
    changes: list[tuple[str, Observation, int | None]] = []
    for key, value in values.items():
        existing = current.get((person.participant_id, key))
        if existing is None:
            summary.recorded += 1
            changes.append((key, value, None))
        elif existing[1] != value:
            summary.corrected += 1
            changes.append((key, value, existing[0]))
        else:
            summary.unchanged += 1
    return changes


def _write(session: Session, plan: _Plan, trial_id: str, source: str, now: datetime) -> None:
    for start in range(0, len(plan.replaced), UPDATE_BATCH):
        batch = plan.replaced[start : start + UPDATE_BATCH]
        session.execute(update(OUTCOMES).where(OUTCOMES.c.id.in_(batch)).values(replaced_at=now))
    shared = {"trial_id": Same(trial_id), "source": Same(source), "recorded_at": Same(now)}
    insert_rows(session, OUTCOMES, {**columns_of(plan.inserts, _NewValue._fields), **shared})
