"""The database side of an import: cases, hearings, participants and assignments in bulk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select, update
from sqlmodel import Session

from experiments.allocation import Allocator, UnitArm
from experiments.definition import TrialDefinition
from experiments.eligibility import CompiledRules
from experiments.randomise import stratum_key
from experiments.rows import ParsedRow, values_getter
from nudge.bulk import insert_rows, reserve_ids
from nudge.clock import Clock
from nudge.models import HearingChange, HearingStatus
from nudge.models.tables import ASSIGNMENTS, CASES, CHANGES, HEARINGS, PEOPLE
from nudge.models.types import column_length, fitted

if TYPE_CHECKING:
    from experiments.enrol import EnrolSummary

HEARING_COLUMNS = (
    "id",
    "case_id",
    "trial_id",
    "court",
    "court_name",
    "starts_at",
    "status",
    "version",
    "updated_at",
)
CHANGE_COLUMNS = (
    "hearing_id",
    "previous_status",
    "previous_starts_at",
    "status",
    "starts_at",
    "recorded_at",
    "source",
)
PARTICIPANT_COLUMNS = (
    "id",
    "trial_id",
    "participant_ref",
    "case_id",
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
    "eligible",
    "ineligible_rule",
    "enrolled_at",
)
ASSIGNMENT_COLUMNS = (
    "trial_id",
    "participant_id",
    "arm_id",
    "unit",
    "stratum",
    "block",
    "position",
    "assigned_at",
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


@dataclass
class CaseState:
    case_id: int
    hearing_id: int
    starts_at: datetime
    version: int
    status: str = HearingStatus.LISTED


class EnrolStore:
    """Writes one import's batches; caches what it learns so each case is looked up once."""

    def __init__(
        self,
        session: Session,
        clock: Clock,
        trial_id: str,
        definition: TrialDefinition,
        allocator: Allocator,
        summary: EnrolSummary,
    ) -> None:
        self.session, self.trial_id, self.definition = session, trial_id, definition
        self.allocator, self.summary, self.now = allocator, summary, clock.now()
        self.rules = CompiledRules(definition.population.eligibility)
        self.rule_values = values_getter(self.rules.fields)
        self.cases: dict[str, CaseState] = {}
        self.units: dict[str, UnitArm] = {}
        self.strata: dict[tuple[str, ...], str] = {}
        self.source = fitted(f"enrol:{summary.source}", column_length(HearingChange, "source"))
        # A trial with nobody in it yet has nothing to look up: every row is new.
        self.fresh = not session.execute(
            select(exists().where(PEOPLE.c.trial_id == trial_id))
        ).scalar()

    def write(self, rows: list[ParsedRow]) -> None:
        self._cases(rows)
        new_rows = rows if self.fresh else self._existing_participants(rows)
        if new_rows:
            self._new_participants(new_rows)

    def finish(self) -> None:
        self.allocator.flush()

    # cases and hearings -------------------------------------------------------------------
    def _cases(self, rows: list[ParsedRow]) -> None:
        firsts: dict[str, ParsedRow] = {}
        for row in rows:
            firsts.setdefault(row.case_ref, row)
        unknown = [ref for ref in firsts if ref not in self.cases]
        if unknown and not self.fresh:
            self._load_cases(unknown)
            for ref in unknown:
                state = self.cases.get(ref)
                if state is not None and state.starts_at != firsts[ref].hearing_start:
                    self._move_hearing(state, firsts[ref])
        missing = [firsts[ref] for ref in unknown if ref not in self.cases]
        if missing:
            self._insert_cases(missing)

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

    def _insert_cases(self, rows: list[ParsedRow]) -> None:
        case_ids = reserve_ids(self.session, CASES, len(rows))
        hearing_ids = reserve_ids(self.session, HEARINGS, len(rows))
        both = list(zip(rows, case_ids, hearing_ids, strict=True))
        insert_rows(
            self.session,
            CASES,
            ("id", "trial_id", "case_ref"),
            [(case_id, self.trial_id, row.case_ref) for row, case_id, _ in both],
        )
        insert_rows(
            self.session,
            HEARINGS,
            HEARING_COLUMNS,
            [
                (
                    hearing_id,
                    case_id,
                    self.trial_id,
                    row.court,
                    row.court_name,
                    row.hearing_start,
                    HearingStatus.LISTED,
                    1,
                    self.now,
                )
                for row, case_id, hearing_id in both
            ],
        )
        for row, case_id, hearing_id in both:
            self.cases[row.case_ref] = CaseState(case_id, hearing_id, row.hearing_start, 1)

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
        insert_rows(
            self.session,
            CHANGES,
            CHANGE_COLUMNS,
            [
                (
                    state.hearing_id,
                    previous_status,
                    previous_start,
                    HearingStatus.ADJOURNED,
                    row.hearing_start,
                    self.now,
                    self.source,
                )
            ],
        )
        state.status = HearingStatus.ADJOURNED
        self.summary.hearings_moved += 1
        self.summary.moved_hearings.append(state.hearing_id)

    # participants --------------------------------------------------------------------------
    def _existing_participants(self, rows: list[ParsedRow]) -> list[ParsedRow]:
        """Update people enrolled before (contact details only); return the new ones."""
        by_key = {(row.participant_ref, self.cases[row.case_ref].case_id): row for row in rows}
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
        for found in self.session.execute(query).mappings():
            row = by_key.pop((found["participant_ref"], found["case_id"]), None)
            if row is None:
                continue
            self.summary.already_enrolled += 1
            changes = {
                name: getattr(row, name) for name in MUTABLE if getattr(row, name) != found[name]
            }
            if changes:
                self.session.execute(
                    update(PEOPLE).where(PEOPLE.c.id == found["id"]).values(**changes)
                )
                self.summary.updated += 1
                self.summary.changed_participants.append(found["id"])
        return list(by_key.values())

    def _new_participants(self, rows: list[ParsedRow]) -> None:
        ids = reserve_ids(self.session, PEOPLE, len(rows))
        records, eligible = [], []
        for row, participant_id in zip(rows, ids, strict=True):
            failed = self.rules.failure_of(self.rule_values(row))
            if failed is None:
                eligible.append((row, participant_id))
            else:
                self.summary.ineligible[failed] += 1
            records.append(self._participant_record(participant_id, row, failed))
        insert_rows(self.session, PEOPLE, PARTICIPANT_COLUMNS, records)
        self.summary.enrolled += len(rows)
        if eligible:
            self._randomise(eligible)

    def _participant_record(
        self, participant_id: int, row: ParsedRow, ineligible_rule: str | None
    ) -> tuple[Any, ...]:
        return (
            participant_id,
            self.trial_id,
            row.participant_ref,
            self.cases[row.case_ref].case_id,
            row.role,
            row.first_name,
            row.last_name,
            row.phone,
            row.address,
            row.postcode,
            row.language,
            row.contact_sms,
            row.contact_letter,
            row.safeguarding_flag,
            row.attributes,
            ineligible_rule is None,
            ineligible_rule,
            self.now,
        )

    # randomisation ------------------------------------------------------------------------
    def _randomise(self, eligible: list[tuple[ParsedRow, int]]) -> None:
        """Allocate each new unit, in file order; members of a known unit join its arm."""
        unit_of = {pid: self._unit(row) for row, pid in eligible}
        unknown = {u for u in unit_of.values() if u not in self.units}
        if unknown and not self.fresh:
            self.units.update(self.allocator.known_units(unknown))
        strata = self.definition.population.strata
        records = []
        for row, pid in eligible:
            unit = unit_of[pid]
            arm = self.units.get(unit)
            if arm is None:
                arm = self.allocator.allocate(unit, self._stratum(row, strata), self.now)
                self.units[unit] = arm
            else:
                self.summary.joined_existing_unit += 1
            records.append(
                (
                    self.trial_id,
                    pid,
                    arm.arm_id,
                    unit,
                    arm.stratum,
                    arm.block,
                    arm.position,
                    self.now,
                )
            )
        insert_rows(self.session, ASSIGNMENTS, ASSIGNMENT_COLUMNS, records)
        self.summary.randomised += len(records)
        self.summary.new_assignments.extend(pid for _, pid in eligible)

    def _stratum(self, row: ParsedRow, strata: list[str]) -> str:
        """The row's stratum key, worked out once for each combination of values."""
        values = tuple(
            str(row.attributes[s] if s in row.attributes else getattr(row, s)) for s in strata
        )
        key = self.strata.get(values)
        if key is None:
            key = self.strata[values] = stratum_key(dict(zip(strata, values, strict=True)), strata)
        return key

    def _unit(self, row: ParsedRow) -> str:
        unit = self.definition.population.unit
        if unit == "participant":
            return row.participant_ref
        if unit == "case":
            return row.case_ref
        # A participant column (court, postcode) is a field of the row, not an extra column.
        return str(row.attributes[unit] if unit in row.attributes else getattr(row, unit))
