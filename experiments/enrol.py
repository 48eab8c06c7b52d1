"""Enrolment: import the people due at court, check eligibility, randomise, all or nothing.

The file is streamed once inside one transaction, in batches, with bulk inserts; a bad row
anywhere means the caller rolls everything back (or, with skip_invalid, imports the rest).
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from experiments import trials
from experiments.allocation import Allocator
from experiments.csvfile import duplicate_columns, read_header
from experiments.definition import CANONICAL_UNITS, TrialDefinition
from experiments.eligibility import numeric_fields
from experiments.enrol_store import EnrolStore, Written
from experiments.rowcheck import Reject, checked_batches
from experiments.rows import (
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    RowRules,
)
from experiments.sites import import_site
from nudge import audit
from nudge.bulk import pipelined
from nudge.clock import Clock
from nudge.errors import ImportRejected, Problem, TrialStateError
from nudge.models import Arm, TrialStatus


@dataclass
class EnrolSummary:
    """What an import did (or, on a dry run, would do)."""

    source: str
    read: int = 0
    enrolled: int = 0
    joined_existing_unit: int = 0
    ineligible: Counter[str] = field(default_factory=Counter)
    already_enrolled: int = 0
    rejects: list[Reject] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    new_assignments: list[int] = field(default_factory=list)
    moved_hearings: list[int] = field(default_factory=list)
    changed_participants: list[int] = field(default_factory=list)
    milestone_columns: list[str] = field(default_factory=list)  # the trial's, in this file
    milestones_recorded: int = 0
    milestones_corrected: int = 0
    # Cases enrolled before this file whose milestones it recorded or corrected: their
    # messages timed from a milestone are planned again (messages/intake.py).
    milestone_cases: list[int] = field(default_factory=list)
    # Randomised among fewer arms, one or more being excluded from enrolment while paused:
    # participants and new units, by the arms closed (ids separated by commas).
    among_fewer: Counter[str] = field(default_factory=Counter)
    among_fewer_units: Counter[str] = field(default_factory=Counter)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    @property
    def randomised(self) -> int:
        return len(self.new_assignments)

    @property
    def updated(self) -> int:
        """People enrolled before whose contact details this file changed."""
        return len(self.changed_participants)

    @property
    def hearings_moved(self) -> int:
        return len(self.moved_hearings)

    def problems(self) -> list[Problem]:
        return [Problem(self.source, r.line, None, r.reason) for r in self.rejects]

    def add(self, written: Written) -> None:
        """Count in what one batch wrote."""
        self.enrolled += written.enrolled
        self.joined_existing_unit += written.joined_existing_unit
        self.ineligible.update(written.ineligible)
        self.already_enrolled += written.already_enrolled
        self.new_assignments.extend(written.new_assignments)
        self.moved_hearings.extend(written.moved_hearings)
        self.changed_participants.extend(written.changed_participants)
        self.milestones_recorded += written.milestones_recorded
        self.milestones_corrected += written.milestones_corrected
        self.milestone_cases.extend(written.milestone_cases)
        self.among_fewer.update(written.among_fewer)
        self.among_fewer_units.update(written.among_fewer_units)


def enrol_file(
    session: Session,
    clock: Clock,
    trial_id: str,
    path: Path,
    actor: str,
    *,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
    site: str | None = None,
) -> EnrolSummary:
    """Import one export into a live trial; raises ImportRejected when any row is bad.

    A multi-site trial's file is one site's (`site`, its organisation's short name, required
    then and refused otherwise): its people are that site's, randomised within it.

    The caller owns the transaction: it commits on success, and rolls back on an exception
    or for a dry run. Nothing is written outside the session.
    """
    trial = trials.lock_trial(session, trial_id)
    if trial.status != TrialStatus.LIVE:
        raise TrialStateError(
            f"trial '{trial_id}' is {trial.status}: people are enrolled only "
            f"into a launched trial (nudge trial launch {trial_id})"
        )
    definition = trials.current_definition(session, trial)
    importing_for = import_site(session, trial_id, site)
    summary = EnrolSummary(source=str(path))
    encoding, columns = read_header(path, definition.mapping)
    rules = _row_rules(definition, columns, path, clock)
    summary.columns = columns
    summary.milestone_columns = [column for column, _ in rules.milestone_columns]
    kept = CANONICAL_COLUMNS | rules.extra_columns | set(summary.milestone_columns)
    summary.ignored_columns = sorted(set(columns) - kept)
    arms = {
        a.key: a.id
        for a in session.exec(select(Arm).where(Arm.trial_id == trial_id))
        if a.id is not None
    }
    allocator = Allocator(session, trial_id, definition, arms)
    store = EnrolStore(
        session, clock, trial_id, definition, allocator, summary.source, importing_for
    )
    # On PostgreSQL the server stores each batch while the next is worked out (`pipelined`).
    with _collector_paused(), pipelined(session):
        # Each row's eligibility, unit, stratum and JSON (`store.derivation`) are worked out on
        # SQLite where the row is checked (a large file's reader process), as the writer's own
        # inserts make it the slower process; on PostgreSQL the server is the slowest, and the
        # reader's extra work would take from it, so the writer works them out (BENCHMARKS.md,
        # issue 23). The stored rows are the same either way (test_enrol_stored_rows).
        on_read = store.derivation if session.get_bind().dialect.name == "sqlite" else None
        for batch in checked_batches(path, encoding, columns, rules, on_read):
            summary.read += batch.read
            summary.rejects.extend(batch.rejects)
            if batch.rows:
                summary.add(store.write(batch.rows, batch.derived if on_read else None))
                summary.rejects.extend(store.take_rejects())
            if progress:
                progress(batch.read)
        store.finish()
    if importing_for is not None:
        summary.rejects.sort(key=lambda reject: reject.line)
    if summary.rejects and not skip_invalid:
        raise ImportRejected(
            f"{path}: {summary.rejected} row(s) rejected, so nothing was imported; fix them, "
            "or import the good rows with --skip-invalid",
            summary.problems(),
        )
    audit.record(
        session,
        clock,
        actor=actor,
        action="participants.enrolled",
        trial_id=trial_id,
        subject=path.name,
        details={
            **({"site": importing_for.slug} if importing_for else {}),
            "read": summary.read,
            "enrolled": summary.enrolled,
            "randomised": summary.randomised,
            "rejected": summary.rejected,
            "hearings_moved": summary.hearings_moved,
            "milestones_recorded": summary.milestones_recorded,
            "milestones_corrected": summary.milestones_corrected,
        },
    )
    return summary


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the batches are written.

    An import keeps what it learns (cases, units, allocations) to its end, hundreds of
    thousands of objects, and each batch makes tens of thousands more: the collector, run every
    few hundred allocations, walked the survivors again and again and found no cycles, about a
    fifth of the writer's CPU. Reference counting still frees everything else as before.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _row_rules(
    definition: TrialDefinition, columns: list[str], path: Path, clock: Clock
) -> RowRules:
    extra = frozenset(definition.participant_columns() - CANONICAL_COLUMNS)
    milestone_columns = definition.milestone_columns()
    required = [*REQUIRED_COLUMNS, *sorted(extra | milestone_columns.keys())]
    problems = [
        Problem(
            str(path),
            1,
            None,
            f"header: missing column '{name}'"
            + ("" if name in CANONICAL_COLUMNS else " (named in the trial definition)"),
        )
        for name in required
        if name not in columns
    ]
    problems += duplicate_columns(path, columns)
    if problems:
        raise ImportRejected(
            f"{path}: the header does not fit trial '{definition.id}'; nothing was imported",
            problems,
        )
    numeric = numeric_fields(definition.population.eligibility)
    must_have = set(definition.population.strata)
    if definition.population.unit not in CANONICAL_UNITS:
        must_have.add(definition.population.unit)
    unit = definition.population.unit
    return RowRules(
        ZoneInfo(definition.timezone),
        extra,
        frozenset(numeric),
        frozenset(must_have),
        unit_column=None if unit in CANONICAL_UNITS else unit,
        strata=tuple(definition.population.strata),
        milestone_columns=tuple(milestone_columns.items()),
        now=clock.now(),
    )
