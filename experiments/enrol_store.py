"""The database side of an import: cases, hearings, participants and assignments in bulk."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import cast

from sqlalchemy import exists, insert, select, update
from sqlmodel import Session

from experiments.allocation import OPEN_SEPARATOR, Allocator, UnitArm
from experiments.definition import CANONICAL_UNITS, SITE_COLUMN, TrialDefinition
from experiments.households import Member, assign_households
from experiments.milestones import MilestoneDate, record_milestones
from experiments.randomise import stratum_key
from experiments.rowcheck import Reject
from experiments.rows import Derivation, Derived, ParsedRow, stratum_values
from experiments.sites import ImportSite
from nudge.bulk import Encoded, IdReserver, Same, columns_of, insert_rows
from nudge.clock import Clock
from nudge.jsontext import encode_json
from nudge.models import HearingChange, HearingStatus
from nudge.models.tables import ASSIGNMENTS, CASES, CHANGES, HEARINGS, PEOPLE
from nudge.models.types import column_length, fitted

CASE_REF = attrgetter("case_ref")
# Fields of a checked row stored in the participant's column of the same name.
PARTICIPANT_FIELDS = (
    "participant_ref",
    "role",
    "first_name",
    "last_name",
    "phone",
    "address",
    "postcode",
    "language",
    "contact_sms",
    "contact_letter",
    "safeguarding_flag",
    "attributes",
)
# Contact details a later export may correct; the design fields (role, eligibility) stay put.
MUTABLE = (
    "first_name",
    "last_name",
    "phone",
    "address",
    "postcode",
    "language",
    "contact_sms",
    "contact_letter",
    "safeguarding_flag",
)
# Allocated units are written every this many batches, not all at the end: a large import's
# last step then writes one stretch of them, not hundreds of thousands after the reader is
# done. The strata's counters are written once, at the end (`Allocator.flush`).
UNITS_EVERY = 10


# A row of one site's file naming a case or a person of another site of the trial.
FOREIGN_CASE = (
    "case_ref: case '{}' already belongs to another site of this trial; case references must "
    "be unique across the trial's sites: ask the other site or prefix yours"
)
FOREIGN_PERSON = (
    "participant_ref: '{}' is already enrolled from another site of this trial; participant "
    "references must be unique across the trial's sites: ask the other site or prefix yours"
)


@dataclass
class CaseState:
    case_id: int
    hearing_id: int
    starts_at: datetime
    version: int
    status: str = HearingStatus.LISTED


@dataclass(frozen=True)
class Written:
    """What writing rows did: counts, and the ids message planning needs after the import."""

    enrolled: int = 0
    already_enrolled: int = 0
    joined_existing_unit: int = 0
    ineligible: Counter[str] = field(default_factory=Counter)
    moved_hearings: list[int] = field(default_factory=list)
    changed_participants: list[int] = field(default_factory=list)
    new_assignments: list[int] = field(default_factory=list)  # participants randomised
    milestones_recorded: int = 0
    milestones_corrected: int = 0
    milestone_cases: list[int] = field(default_factory=list)  # enrolled before, now changed
    # Randomised while arms were excluded from enrolment (paused_arm_enrolment: exclude), by
    # the arms closed then (their ids, separated by commas): participants, and new units.
    among_fewer: Counter[str] = field(default_factory=Counter)
    among_fewer_units: Counter[str] = field(default_factory=Counter)

    def __add__(self, other: Written) -> Written:
        """Both together: counts added, ids one list after the other."""
        return Written(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


class EnrolStore:
    """Writes one import's batches; caches what it learns so each case is looked up once."""

    def __init__(
        self,
        session: Session,
        clock: Clock,
        trial_id: str,
        definition: TrialDefinition,
        allocator: Allocator,
        source: str,
        site: ImportSite | None = None,
    ) -> None:
        self.session, self.trial_id, self.definition = session, trial_id, definition
        self.allocator, self.now = allocator, clock.now()
        population = definition.population
        # A multi-site trial is randomised within each site: its slug is the first stratum.
        self.site = site
        self.strata = tuple(population.strata)
        if site is not None:
            self.strata = (SITE_COLUMN, *self.strata)
        # Each row's eligibility, unit, stratum and JSON, worked out where `enrol_file` says;
        # in a site's file, with the site set on the row first.
        fixed = {SITE_COLUMN: site.slug} if site is not None else None
        # A trial with nobody in it yet has nothing to look up: every row is new.
        self.fresh = not session.execute(
            select(exists().where(PEOPLE.c.trial_id == trial_id))
        ).scalar()
        # Address and attributes are derived as JSON text; it is what this engine would write
        # only when its serializer is that one. The rows' own address and attributes must reach
        # the writer for it to compare a known person's address, or to tell households.
        dialect = session.get_bind().dialect
        self.json_as_text = getattr(dialect, "_json_serializer", None) is encode_json
        json_only = self.json_as_text and self.fresh and population.unit != "household"
        self.derivation = Derivation(
            population.eligibility, self.strata, population.unit, fixed, json_only=json_only
        )
        # Every case and person a site's file writes is that site's; nothing extra otherwise.
        self.site_id: dict[str, Same] = {}
        if site is not None:
            self.site_id = {"site_id": Same(site.organisation_id)}
        self.rejects: list[Reject] = []  # rows naming another site's case or person
        self.foreign_cases: set[str] = set()
        # Every case this import knows, by reference: its id. The cases enrolled before it
        # (read from the database) also have their hearing's state, which a new listing time
        # moves; the ones it adds need only their id (a file lists each case at one time:
        # rowcheck), and a million-row file adds hundreds of thousands.
        self.case_ids: dict[str, int] = {}
        self.cases: dict[str, CaseState] = {}
        self.households_bridged = 0  # newcomers linking households randomised apart
        self.units: dict[str, UnitArm] = {}
        self.source = fitted(f"enrol:{source}", column_length(HearingChange, "source"))
        self.milestone_source = f"enrol:{Path(source).name}"
        self.reads_milestones = bool(definition.milestone_columns())
        self.milestones_seen: set[str] = set()  # cases whose milestones this import recorded
        self.batches = 0
        self.reserve_ids = IdReserver(session)  # only this import inserts cases and people

    def write(
        self, rows: list[ParsedRow], derived: Sequence[Derived | None] | None = None
    ) -> Written:
        """Store one batch of checked rows; return what that did. `derived`, when given, is
        each row's `Derived` from `self.derivation` (None where the writer must work it out)."""
        if derived is None:
            worked_out = list(map(self.derivation, rows))
        else:
            worked_out = [
                self.derivation(row) if given is None else given
                for row, given in zip(rows, derived, strict=True)
            ]
        if self.site is not None:
            rows, worked_out = self._this_sites(rows, worked_out, self.site)
            if not rows:
                return Written()
        moved = self._cases(rows)
        milestones = self._milestones(rows) if self.reads_milestones else Written()
        if self.fresh:
            new_rows, new_derived, known = rows, worked_out, Written()
        else:
            new_rows, new_derived, known = self._existing_participants(rows, worked_out)
        added = self._new_participants(new_rows, new_derived) if new_rows else Written()
        self.batches += 1
        if self.batches % UNITS_EVERY == 0:
            self.allocator.write_units()
        return Written(moved_hearings=moved) + milestones + known + added

    def finish(self) -> None:
        self.allocator.flush()

    def take_rejects(self) -> list[Reject]:
        """The rows the last batches refused (another site's case or person), once."""
        taken, self.rejects = self.rejects, []
        return taken

    # sites --------------------------------------------------------------------------------
    def _this_sites(
        self, rows: list[ParsedRow], derived: list[Derived], site: ImportSite
    ) -> tuple[list[ParsedRow], list[Derived]]:
        """The rows this site may import (and their Derived); a row naming another site's case
        or person is refused. Each has its site among the attributes (`self.derivation`): a
        stratum, and a column of the analysis."""
        if self.fresh:
            return rows, derived
        refs = {row.case_ref for row in rows if row.case_ref not in self.case_ids}
        refs -= self.foreign_cases
        if refs:
            found = select(CASES.c.case_ref).where(
                CASES.c.trial_id == self.trial_id,
                CASES.c.case_ref.in_(refs),
                CASES.c.site_id.is_distinct_from(site.organisation_id),
            )
            self.foreign_cases.update(self.session.execute(found).scalars())
        people = {row.participant_ref for row in rows if row.case_ref not in self.foreign_cases}
        foreign_people: set[str] = set()
        if people:
            found = select(PEOPLE.c.participant_ref).where(
                PEOPLE.c.trial_id == self.trial_id,
                PEOPLE.c.participant_ref.in_(people),
                PEOPLE.c.site_id.is_distinct_from(site.organisation_id),
            )
            foreign_people.update(self.session.execute(found).scalars())
        kept, kept_derived = [], []
        for row, worked_out in zip(rows, derived, strict=True):
            if row.case_ref in self.foreign_cases:
                self.rejects.append(Reject(row.line, FOREIGN_CASE.format(row.case_ref), None))
            elif row.participant_ref in foreign_people:
                reason = FOREIGN_PERSON.format(row.participant_ref)
                self.rejects.append(Reject(row.line, reason, None))
            else:
                kept.append(row)
                kept_derived.append(worked_out)
        return kept, kept_derived

    # cases and hearings -------------------------------------------------------------------
    def _cases(self, rows: list[ParsedRow]) -> list[int]:
        """Insert the batch's new cases; move known ones listed at a new time (their ids)."""
        firsts: dict[str, ParsedRow] = {}
        for row in rows:
            firsts.setdefault(row.case_ref, row)
        unknown = [ref for ref in firsts if ref not in self.case_ids]
        moved = []
        if unknown and not self.fresh:
            self._load_cases(unknown)
            for ref in unknown:
                state = self.cases.get(ref)
                if state is not None and state.starts_at != firsts[ref].hearing_start:
                    self._move_hearing(state, firsts[ref])
                    moved.append(state.hearing_id)
        missing = [firsts[ref] for ref in unknown if ref not in self.case_ids]
        if missing:
            self._insert_cases(missing)
        return moved

    def _load_cases(self, refs: list[str]) -> None:
        query = (
            select(
                CASES.c.case_ref,
                CASES.c.id,
                HEARINGS.c.id,
                HEARINGS.c.starts_at,
                HEARINGS.c.version,
                HEARINGS.c.status,
            )
            .join(HEARINGS, HEARINGS.c.case_id == CASES.c.id)
            .where(CASES.c.trial_id == self.trial_id, CASES.c.case_ref.in_(refs))
        )
        for ref, case_id, hearing_id, starts_at, version, status in self.session.execute(query):
            self.cases[ref] = CaseState(case_id, hearing_id, starts_at, version, status)
            self.case_ids[ref] = case_id

    def _insert_cases(self, rows: list[ParsedRow]) -> None:
        case_ids = self.reserve_ids(CASES, len(rows))
        hearing_ids = self.reserve_ids(HEARINGS, len(rows))
        trial_id = Same(self.trial_id)
        refs = [row.case_ref for row in rows]
        insert_rows(
            self.session,
            CASES,
            {
                "id": case_ids,
                "trial_id": trial_id,
                "case_ref": refs,
                **self.site_id,
            },
        )
        insert_rows(
            self.session,
            HEARINGS,
            {
                "id": hearing_ids,
                "case_id": case_ids,
                "trial_id": trial_id,
                **columns_of(rows, ("court", "court_name")),
                "starts_at": [row.hearing_start for row in rows],
                "status": Same(HearingStatus.LISTED),
                "version": Same(1),
                "updated_at": Same(self.now),
            },
        )
        self.case_ids.update(zip(refs, case_ids, strict=True))

    def _move_hearing(self, state: CaseState, row: ParsedRow) -> None:
        """A known case listed at a new time: an adjournment, kept in the hearing's history."""
        previous_status, previous_start = state.status, state.starts_at
        state.version += 1
        state.starts_at = row.hearing_start
        self.session.execute(
            update(HEARINGS)
            .where(HEARINGS.c.id == state.hearing_id)
            .values(
                starts_at=row.hearing_start,
                status=HearingStatus.ADJOURNED,
                version=state.version,
                court_name=row.court_name,
                updated_at=self.now,
            )
        )
        self.session.execute(
            insert(CHANGES).values(
                hearing_id=state.hearing_id,
                previous_status=previous_status,
                previous_starts_at=previous_start,
                status=HearingStatus.ADJOURNED,
                starts_at=row.hearing_start,
                recorded_at=self.now,
                source=self.source,
            )
        )
        state.status = HearingStatus.ADJOURNED

    def _milestones(self, rows: list[ParsedRow]) -> Written:
        """Record each case's milestone dates once (its rows all give the same: rowcheck)."""
        dates = []
        for row in rows:
            if row.case_ref in self.milestones_seen:
                continue
            self.milestones_seen.add(row.case_ref)
            case_id = self.case_ids[row.case_ref]
            dates += [
                MilestoneDate(case_id, row.case_ref, *item) for item in row.milestones.items()
            ]
        if not dates:
            return Written()
        recorded = record_milestones(
            self.session, self.trial_id, self.now, self.milestone_source, dates
        )
        changed = dict.fromkeys(
            change.case_id
            for change in recorded.changes
            if change.case_ref in self.cases  # enrolled before this import
        )
        return Written(
            milestones_recorded=len(recorded.changes) - recorded.corrected,
            milestones_corrected=recorded.corrected,
            milestone_cases=list(changed),
        )

    # participants --------------------------------------------------------------------------
    def _existing_participants(
        self, rows: list[ParsedRow], derived: list[Derived]
    ) -> tuple[list[ParsedRow], list[Derived], Written]:
        """Update people enrolled before (contact details only); return the rows of new people
        (and their Derived), and how many were known and which of them changed."""
        by_key = {
            (row.participant_ref, self.case_ids[row.case_ref]): (row, worked_out)
            for row, worked_out in zip(rows, derived, strict=True)
        }
        query = select(
            PEOPLE.c.id,
            PEOPLE.c.participant_ref,
            PEOPLE.c.case_id,
            *(PEOPLE.c[name] for name in MUTABLE),
        ).where(
            PEOPLE.c.trial_id == self.trial_id,
            PEOPLE.c.case_id.in_({key[1] for key in by_key}),
            PEOPLE.c.participant_ref.in_({key[0] for key in by_key}),
        )
        found, changed = 0, []
        for stored in self.session.execute(query).mappings():
            pair = by_key.pop((stored["participant_ref"], stored["case_id"]), None)
            if pair is None:
                continue
            row = pair[0]
            found += 1
            changes = {
                name: getattr(row, name) for name in MUTABLE if getattr(row, name) != stored[name]
            }
            if changes:
                self.session.execute(
                    update(PEOPLE).where(PEOPLE.c.id == stored["id"]).values(**changes)
                )
                changed.append(stored["id"])
        known = Written(already_enrolled=found, changed_participants=changed)
        new = list(by_key.values())
        return [row for row, _ in new], [worked_out for _, worked_out in new], known

    def _new_participants(self, rows: list[ParsedRow], derived: list[Derived]) -> Written:
        """Enrol people new to the trial, and randomise the eligible ones."""
        ids = self.reserve_ids(PEOPLE, len(rows))
        failures = [worked_out.failure for worked_out in derived]
        stored: tuple[str, ...] = PARTICIPANT_FIELDS
        json: dict[str, Encoded] = {}
        if self.json_as_text:
            stored = tuple(name for name in stored if name not in ("address", "attributes"))
            json = {
                "address": Encoded([worked_out.address for worked_out in derived]),
                "attributes": Encoded([worked_out.attributes for worked_out in derived]),
            }
        insert_rows(
            self.session,
            PEOPLE,
            {
                "id": ids,
                "trial_id": Same(self.trial_id),
                **self.site_id,
                "case_id": list(map(self.case_ids.__getitem__, map(CASE_REF, rows))),
                **columns_of(rows, stored),
                **json,
                "eligible": [failed is None for failed in failures],
                "ineligible_rule": failures,
                "enrolled_at": Same(self.now),
            },
        )
        eligible = [
            (row, participant_id, worked_out)
            for row, participant_id, worked_out in zip(rows, ids, derived, strict=True)
            if worked_out.failure is None
        ]
        ineligible = Counter(failed for failed in failures if failed is not None)
        return Written(enrolled=len(rows), ineligible=ineligible) + self._randomise(eligible)

    # randomisation ------------------------------------------------------------------------
    def _randomise(self, eligible: list[tuple[ParsedRow, int, Derived]]) -> Written:
        """Allocate each new unit, in file order; members of a known unit join its arm."""
        if self.definition.population.unit == "household":
            # Households link people across cases and imports: only the writer, which sees the
            # database, can tell them (experiments/households.py).
            units = self._households([row for row, _, _ in eligible])
        else:
            # Derivation gives every eligible row its unit, but a household's.
            units = [cast(str, worked_out.unit) for _, _, worked_out in eligible]
            if self.site is not None and self.definition.population.unit not in CANONICAL_UNITS:
                # A column's value (an officer) names a unit of one site: another site's same
                # value is another unit, randomised in that site's own stratum.
                units = [f"{SITE_COLUMN}={self.site.slug}|{unit}" for unit in units]
        if not self.fresh:  # a trial with nobody in it yet has no unit to look up
            unknown = {unit for unit in units if unit not in self.units}
            if unknown:
                self.units.update(self.allocator.known_units(unknown))
        strata = self.strata
        arms, joined = [], 0
        fewer, fewer_units = Counter[str](), Counter[str]()
        for (row, _, worked_out), unit in zip(eligible, units, strict=True):
            arm = self.units.get(unit)
            if arm is None:
                stratum = worked_out.stratum
                if stratum is None:  # Derivation could not: raise its error for a new unit
                    values = stratum_values(row, strata)
                    stratum = stratum_key(dict(zip(strata, values, strict=True)), strata)
                arm = self.allocator.allocate(unit, stratum, self.now)
                self.units[unit] = arm
                if arm.open_arms:
                    fewer_units[self._closed(arm.open_arms)] += 1
            else:
                joined += 1
            if arm.open_arms:
                fewer[self._closed(arm.open_arms)] += 1
            arms.append(arm)
        participant_ids = [participant_id for _, participant_id, _ in eligible]
        # Left out while every arm was open (None): most imports never exclude an arm.
        opened = [arm.open_arms for arm in arms]
        open_arms = {"open_arms": opened} if any(opened) else {}
        insert_rows(
            self.session,
            ASSIGNMENTS,
            {
                "trial_id": Same(self.trial_id),
                "participant_id": participant_ids,
                "unit": units,
                **columns_of(arms, ("arm_id", "stratum", "block", "position")),
                **open_arms,
                "assigned_at": Same(self.now),
            },
        )
        return Written(
            joined_existing_unit=joined,
            new_assignments=participant_ids,
            among_fewer=fewer,
            among_fewer_units=fewer_units,
        )

    def _closed(self, open_arms: str) -> str:
        """The arms closed when these were open, in declared order, by id."""
        opened = set(open_arms.split(OPEN_SEPARATOR))
        closed = [arm.id for arm in self.definition.arms if arm.id not in opened]
        return OPEN_SEPARATOR.join(closed)

    def _households(self, rows: list[ParsedRow]) -> list[str]:
        """Each row's household unit (experiments/households.py), across cases and imports."""
        members = [Member(r.participant_ref, r.phone, r.address, r.postcode) for r in rows]
        found = assign_households(
            self.session, self.trial_id, members, self.definition.population.household_keys
        )
        self.households_bridged += found.bridged
        return found.units
