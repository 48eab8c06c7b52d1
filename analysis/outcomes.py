"""Outcome import: one row per participant, one column per outcome, all or nothing.

Each outcome's cells are read by its type (experiments/outcome_values.py): yes or no for a
binary outcome, a number for a scale (or its points' words), a count or a measurement. Every
bad cell of a row is reported at its line and column, with what to write instead.

A blank cell means "not observed in this file" and changes nothing; a different value for an
outcome already observed is a correction: the old row gets `replaced_at` and a new row is
added, so the history of every value is kept (experiments/outcome_store.py, the rules a
survey's answers are stored by too). People enrolled but not randomised (ineligible)
may be in the file: their outcomes are recorded, counted apart, and never analysed.

An outcome may come with dates: the day its event happened (`withdrew_on`) and the charge
(`charged_on`); see analysis/outcome_dates.py. A changed date is a correction like a changed
value.

In a multi-site trial a file may be one site's (`site`): its rows may name only that site's
people, another site's reading as unknown (experiments/sites.py); with no site it is the
whole trial's, as the courts' central records are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from analysis.outcome_dates import (
    DateColumns,
    charged_days,
    is_date_column,
    observe,
    read_date_columns,
)
from experiments import trials
from experiments.csvfile import CsvRecord, duplicate_columns, read_header, read_records
from experiments.definition import Outcome as OutcomeDefinition
from experiments.definition import TrialDefinition
from experiments.keys import normalise_key
from experiments.outcome_store import (
    Change,
    Current,
    NewOutcome,
    Observation,
    change_of,
    current_values,
    write_outcomes,
)
from experiments.outcome_values import Reading, read_value
from experiments.rows import RowError
from experiments.sites import ImportSite, not_yours, of_site, site_or_whole_trial
from nudge import audit
from nudge.clock import Clock
from nudge.errors import ImportRejected, Problem, TrialStateError
from nudge.models import Outcome, TrialStatus
from nudge.models.tables import ASSIGNMENTS, CASES, PEOPLE
from nudge.models.types import column_length, fitted

KEY_COLUMNS = ("participant_ref", "case_ref")


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


@dataclass
class _Plan:
    """The writes an import will make, decided before any is made."""

    inserts: list[NewOutcome] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def import_outcomes(
    session: Session,
    clock: Clock,
    trial_id: str,
    path: Path,
    actor: str,
    site: str | None = None,
) -> OutcomeSummary:
    """Record the outcomes in FILE; raises ImportRejected (nothing written) if any row is bad.

    `site`: in a multi-site trial, the site whose people the file holds (a row naming another
    site's person is refused as unknown); None for the whole trial's file. Refused in a trial
    in one area. The caller owns the transaction: it commits on success, rolls back for a
    dry run.
    """
    trial = trials.lock_trial(session, trial_id)
    if trial.status == TrialStatus.DRAFT:
        raise TrialStateError(
            f"trial '{trial_id}' is a draft: nobody is randomised yet, so there are no "
            "outcomes to record"
        )
    definition = trials.current_definition(session, trial)
    own = site_or_whole_trial(session, trial_id, site)
    encoding, columns = read_header(path, definition.mapping)
    outcome_columns, dates = _check_header(path, columns, definition)
    types = {o.id: o for o in definition.outcomes if o.id in outcome_columns}
    summary = OutcomeSummary(
        source=str(path), outcome_columns=outcome_columns, date_columns=dates.names
    )
    people = _people(session, trial_id, own)
    unknown = "is not in this trial" + not_yours(own, "people")
    charged = charged_days(session, trial_id, definition) or {}
    current = current_values(session, trial_id)
    now, source = clock.now(), fitted(f"outcomes:{path.name}", column_length(Outcome, "source"))
    today = now.astimezone(ZoneInfo(definition.timezone)).date()
    plan = _Plan()
    seen: dict[tuple[str, str], int] = {}
    for record in read_records(path, encoding, columns):
        summary.read += 1
        if isinstance(record, Problem):
            plan.problems.append(record)
            continue
        readings, bad = _values(record, types)
        try:
            person = _person(record, people, seen, unknown)
            if not bad:
                stored = _stored(current, person.participant_id, outcome_columns)
                values = observe(
                    record, readings, dates, stored, today, charged.get(person.participant_id)
                )
        except RowError as exc:
            bad.insert(0, exc)
        if bad:
            plan.problems += [Problem(str(path), record.line, None, str(e)) for e in bad]
            continue
        changes = _apply_row(person, values, current, summary)
        for key, observed, old_id in changes:
            plan.inserts.append(NewOutcome.of(person.participant_id, key, observed))
            if old_id is not None:
                plan.replaced.append(old_id)
    if plan.problems:
        summary.rejected = len({p.line for p in plan.problems})
        raise ImportRejected(
            f"{path}: {summary.rejected} row(s) rejected, so nothing was recorded; fix them "
            "and import the file again",
            plan.problems,
        )
    write_outcomes(
        session, plan.inserts, plan.replaced, trial_id=trial_id, source=source, recorded_at=now
    )
    audit.record(
        session,
        clock,
        actor=actor,
        action="outcomes.imported",
        trial_id=trial_id,
        subject=path.name,
        details=_audit_details(summary, own),
    )
    return summary


def _audit_details(summary: OutcomeSummary, own: ImportSite | None) -> dict[str, object]:
    """Counts and column names, never a reference; `dates` only when the file had any, and
    `site` only when it was one site's."""
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
    if own is not None:
        details["site"] = own.slug
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


def _people(
    session: Session, trial_id: str, own: ImportSite | None
) -> dict[tuple[str, str], _Person]:
    """Everyone enrolled in the trial (only `own` site's people when the file is one site's)
    by (participant_ref, case_ref), in one query."""
    query = (
        select(PEOPLE.c.participant_ref, CASES.c.case_ref, PEOPLE.c.id, ASSIGNMENTS.c.id)
        .join(CASES, CASES.c.id == PEOPLE.c.case_id)
        .outerjoin(ASSIGNMENTS, ASSIGNMENTS.c.participant_id == PEOPLE.c.id)
        .where(PEOPLE.c.trial_id == trial_id)
    )
    query = of_site(query, PEOPLE.c.site_id, own)
    return {
        (ref, case): _Person(participant_id, assignment is not None)
        for ref, case, participant_id, assignment in session.execute(query)
    }


def _stored(current: Current, participant_id: int, keys: list[str]) -> dict[str, Observation]:
    """What is in force for one participant's outcomes in the file, by outcome."""
    return {
        key: current[(participant_id, key)][1] for key in keys if (participant_id, key) in current
    }


def _person(
    record: CsvRecord,
    people: dict[tuple[str, str], _Person],
    seen: dict[tuple[str, str], int],
    unknown: str,
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
        raise RowError("participant_ref", f"'{ref}' in case '{case}' {unknown}")
    return person


def _values(
    record: CsvRecord, outcomes: dict[str, OutcomeDefinition]
) -> tuple[dict[str, Reading], list[RowError]]:
    """The observed outcomes of one row (blank cells are not observed, so left out), and a
    RowError for each cell that does not fit its outcome's type."""
    observed: dict[str, Reading] = {}
    bad = []
    for column, outcome in outcomes.items():
        try:
            value = read_value(outcome, record.values[column])
        except ValueError as exc:
            bad.append(RowError(column, str(exc)))
            continue
        if value is not None:
            observed[column] = value
    return observed, bad


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
        old_id, existing = current.get((person.participant_id, key), (None, None))
        change = change_of(existing, value)
        if change is Change.RECORDED:
            summary.recorded += 1
        elif change is Change.CORRECTED:
            summary.corrected += 1
        else:
            summary.unchanged += 1
        if change is not Change.UNCHANGED:
            changes.append((key, value, old_id))
    return changes
