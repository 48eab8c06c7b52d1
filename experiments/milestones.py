"""Case milestones (charged, verdict...): recorded with their history, read as current dates.

A milestone's date arrives on the enrolment file (a column the definition names) or later in
a milestones file (`nudge milestones update`). A date for a case and milestone that has none
is its first record; a different date replaces the current record, which is kept with its
`replaced_at`, and the new one is marked a correction; the same date again changes nothing,
so importing a file twice is harmless. Both paths write through `record_milestones`.

In a multi-site trial a milestones file may be one site's (`site`): its rows may name only
that site's cases, another site's reading as unknown (experiments/sites.py); with no site
it is the whole trial's, as the courts' central records are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlmodel import Session

from experiments import trials
from experiments.csvfile import CsvRecord, read_records, read_required_header
from experiments.definition import RESERVED_MILESTONES, TrialDefinition
from experiments.keys import normalise_key
from experiments.rows import MAX_REF, RowError, check_not_future, parse_occurred_at
from experiments.sites import ImportSite, not_yours, of_site, site_or_whole_trial
from nudge import audit
from nudge.bulk import Same, insert_rows
from nudge.clock import Clock
from nudge.errors import ImportRejected, Problem, TrialStateError
from nudge.models import CaseMilestone, TrialStatus
from nudge.models.tables import CASES, MILESTONES
from nudge.models.types import column_length, fitted

COLUMNS = ("case_ref", "milestone", "occurred_at")
CHUNK = 2000  # ids in one IN (...): well within every engine's limit on parameters
SOURCE_LENGTH = column_length(CaseMilestone, "source")


class MilestoneDate(NamedTuple):
    """A milestone's date for one case, as a file gives it."""

    case_id: int
    case_ref: str
    name: str
    occurred_at: datetime


@dataclass(frozen=True)
class MilestoneChange:
    """A date recorded: a milestone's first, or a correction of the date it replaced."""

    case_id: int
    case_ref: str
    name: str
    occurred_at: datetime
    previous: datetime | None  # the date it replaces; None for a first record

    @property
    def is_correction(self) -> bool:
        return self.previous is not None


@dataclass(frozen=True)
class Recorded:
    """What recording a file's dates did: the changes, and how many were already recorded."""

    changes: list[MilestoneChange] = field(default_factory=list)
    unchanged: int = 0

    @property
    def corrected(self) -> int:
        return sum(change.is_correction for change in self.changes)


def current_milestones(session: Session, case_ids: Iterable[int]) -> dict[int, dict[str, datetime]]:
    """Each case's milestones as now recorded (name -> aware UTC instant); every case asked
    about is a key, with an empty mapping when it has none."""
    ids = sorted(set(case_ids))
    found: dict[int, dict[str, datetime]] = {case_id: {} for case_id in ids}
    for start in range(0, len(ids), CHUNK):
        query = select(MILESTONES.c.case_id, MILESTONES.c.name, MILESTONES.c.occurred_at).where(
            MILESTONES.c.case_id.in_(ids[start : start + CHUNK]),
            MILESTONES.c.replaced_at.is_(None),
        )
        for case_id, name, occurred_at in session.execute(query):
            found[case_id][name] = occurred_at
    return found


def record_milestones(
    session: Session, trial_id: str, now: datetime, source: str, dates: Sequence[MilestoneDate]
) -> Recorded:
    """Record `dates` (at most one a case and milestone) in the caller's transaction."""
    current = _current_records(session, {date.case_id for date in dates})
    changes, replaced, unchanged = [], [], 0
    for date in dates:
        existing = current.get((date.case_id, date.name))
        if existing is None:
            changes.append(MilestoneChange(*date, previous=None))
        elif existing[1] != date.occurred_at:
            changes.append(MilestoneChange(*date, previous=existing[1]))
            replaced.append(existing[0])
        else:
            unchanged += 1
    # Replaced first: a case has one current record of a milestone (a unique index says so).
    for start in range(0, len(replaced), CHUNK):
        session.execute(
            update(MILESTONES)
            .where(MILESTONES.c.id.in_(replaced[start : start + CHUNK]))
            .values(replaced_at=now)
        )
    insert_rows(
        session,
        MILESTONES,
        {
            "trial_id": Same(trial_id),
            "case_id": [change.case_id for change in changes],
            "name": [change.name for change in changes],
            "occurred_at": [change.occurred_at for change in changes],
            "recorded_at": Same(now),
            "source": Same(fitted(source, SOURCE_LENGTH)),
            "is_correction": [change.is_correction for change in changes],
        },
    )
    return Recorded(changes, unchanged)


def _current_records(
    session: Session, case_ids: set[int]
) -> dict[tuple[int, str], tuple[int, datetime]]:
    """The record in force for each (case, milestone): (its id, its date)."""
    ids = sorted(case_ids)
    found = {}
    for start in range(0, len(ids), CHUNK):
        query = select(
            MILESTONES.c.case_id, MILESTONES.c.name, MILESTONES.c.id, MILESTONES.c.occurred_at
        ).where(
            MILESTONES.c.case_id.in_(ids[start : start + CHUNK]),
            MILESTONES.c.replaced_at.is_(None),
        )
        for case_id, name, record_id, occurred_at in session.execute(query):
            found[(case_id, name)] = (record_id, occurred_at)
    return found


# The milestones file -----------------------------------------------------------------------
@dataclass
class MilestonesSummary:
    """What a milestones file did (or, on a dry run, would do)."""

    source: str
    zone: ZoneInfo
    read: int = 0
    changes: list[MilestoneChange] = field(default_factory=list)
    unchanged: int = 0

    @property
    def recorded(self) -> int:
        """Milestones recorded for the first time."""
        return sum(not change.is_correction for change in self.changes)

    @property
    def corrected(self) -> int:
        return sum(change.is_correction for change in self.changes)

    @property
    def case_ids(self) -> list[int]:
        """The cases whose milestones changed, each once, in file order."""
        return list(dict.fromkeys(change.case_id for change in self.changes))


def update_milestones(
    session: Session,
    clock: Clock,
    trial_id: str,
    path: Path,
    actor: str,
    site: str | None = None,
) -> MilestonesSummary:
    """Record a milestones file (case_ref, milestone, occurred_at); any bad row rejects the
    whole file and nothing changes. The caller commits, or rolls back for a dry run.

    `site`: in a multi-site trial, the site whose cases the file lists (a row naming another
    site's case is refused as unknown); None for the whole trial's file. Refused in a trial
    in one area."""
    trial = trials.lock_trial(session, trial_id)
    if trial.status != TrialStatus.LIVE:
        raise TrialStateError(
            f"trial '{trial_id}' is {trial.status}; milestones are recorded only in a live trial"
        )
    definition = trials.current_definition(session, trial)
    zone, now = ZoneInfo(definition.timezone), clock.now()
    own = site_or_whole_trial(session, trial_id, site)
    read, dates = _read_dates(session, definition, path, zone, now, own)
    summary = MilestonesSummary(source=str(path), zone=zone, read=read)
    recorded = record_milestones(session, trial_id, now, f"milestones:{path.name}", dates)
    summary.changes, summary.unchanged = recorded.changes, recorded.unchanged
    audit.record(
        session,
        clock,
        actor=actor,
        action="milestones.updated",
        trial_id=trial_id,
        subject=path.name,
        details={
            "read": summary.read,
            "recorded": summary.recorded,
            "corrected": summary.corrected,
            "unchanged": summary.unchanged,
            **({} if own is None else {"site": own.slug}),
        },
    )
    return summary


def _read_dates(
    session: Session,
    definition: TrialDefinition,
    path: Path,
    zone: ZoneInfo,
    now: datetime,
    own: ImportSite | None,
) -> tuple[int, list[MilestoneDate]]:
    """How many rows the file has, and their dates; ImportRejected with every problem found.
    A file of `own` site's may name only its cases."""
    encoding, columns = read_required_header(path, COLUMNS)
    records = list(read_records(path, encoding, columns))
    refs = {normalise_key(r.values["case_ref"]) for r in records if isinstance(r, CsvRecord)}
    cases = _case_ids(session, definition.id, refs, own)
    rows = _FileRows(
        definition.id, definition.milestone_names, zone, now, cases, not_yours(own, "cases")
    )
    dates, problems = [], []
    for record in records:
        if isinstance(record, Problem):
            problems.append(record)
            continue
        try:
            dates.append(rows.checked(record))
        except RowError as exc:
            problems.append(Problem(str(path), record.line, None, str(exc)))
    if problems:
        raise ImportRejected(
            f"{path}: {len(problems)} row(s) rejected, so nothing was changed", problems
        )
    return len(records), dates


def _case_ids(
    session: Session, trial_id: str, refs: set[str], own: ImportSite | None
) -> dict[str, int]:
    """The ids of the cases among `refs` that are enrolled in the trial (and `own` site's)."""
    wanted = sorted(ref for ref in refs if ref)
    found = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(CASES.c.case_ref, CASES.c.id).where(
            CASES.c.trial_id == trial_id, CASES.c.case_ref.in_(wanted[start : start + CHUNK])
        )
        query = of_site(query, CASES.c.site_id, own)
        found.update({ref: case_id for ref, case_id in session.execute(query)})
    return found


@dataclass
class _FileRows:
    """Checks a milestones file's rows, each alone and against the rows before it."""

    trial_id: str
    declared: tuple[str, ...]
    zone: ZoneInfo
    now: datetime
    cases: dict[str, int]
    not_yours: str  # after "not a case enrolled in this trial" when the file is one site's
    seen: dict[tuple[str, str], int] = field(default_factory=dict)

    def checked(self, record: CsvRecord) -> MilestoneDate:
        values = record.values
        ref = normalise_key(values["case_ref"])
        if not ref:
            raise RowError("case_ref", "missing")
        if len(ref) > MAX_REF:
            raise RowError("case_ref", f"longer than {MAX_REF} characters")
        case_id = self.cases.get(ref)
        if case_id is None:
            raise RowError(
                "case_ref", f"'{ref}' is not a case enrolled in this trial{self.not_yours}"
            )
        name = self._milestone(values["milestone"])
        if (ref, name) in self.seen:
            raise RowError(
                "milestone",
                f"{name} of case '{ref}' is already on line {self.seen[(ref, name)]}; give each "
                "case's milestone once",
            )
        self.seen[(ref, name)] = record.line
        text = values["occurred_at"]
        occurred_at = parse_occurred_at(text, self.zone, "occurred_at")
        check_not_future(occurred_at, text, "occurred_at", self.now, self.zone)
        return MilestoneDate(case_id, ref, name, occurred_at)

    def _milestone(self, text: str) -> str:
        name = normalise_key(text).lower()
        if not name:
            raise RowError("milestone", "missing")
        if name in RESERVED_MILESTONES:
            raise RowError(
                "milestone",
                f"'{text}' is the hearing itself: its date changes with nudge hearings update",
            )
        if name not in self.declared:
            declared = ", ".join(self.declared) if self.declared else "none"
            raise RowError(
                "milestone",
                f"'{text}' is not a milestone of trial '{self.trial_id}' (it declares: {declared})",
            )
        return name
