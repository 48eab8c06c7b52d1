"""The database side of an import: cases, hearings, participants and assignments in bulk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, insert, select, update
from sqlmodel import Session

from experiments.allocation import Allocator, UnitArm
from experiments.definition import TrialDefinition
from experiments.eligibility import first_failed_rule
from experiments.randomise import stratum_key
from experiments.rows import ParsedRow
from nudge.clock import Clock
from nudge.models import Assignment, Case, Hearing, HearingChange, Participant

if TYPE_CHECKING:
    from experiments.enrol import EnrolSummary

CASES: Table = Case.__table__  # type: ignore[attr-defined]
HEARINGS: Table = Hearing.__table__  # type: ignore[attr-defined]
CHANGES: Table = HearingChange.__table__  # type: ignore[attr-defined]
PEOPLE: Table = Participant.__table__  # type: ignore[attr-defined]
ASSIGNMENTS: Table = Assignment.__table__  # type: ignore[attr-defined]
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
    starts_at: Any
    version: int


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
        self.session, self.clock, self.trial_id = session, clock, trial_id
        self.definition, self.allocator, self.summary = definition, allocator, summary
        self.now = clock.now()
        self.cases: dict[str, CaseState] = {}
        self.units: dict[str, UnitArm] = {}

    def write(self, rows: list[ParsedRow]) -> None:
        self._cases(rows)
        new_rows = self._existing_participants(rows)
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
        if unknown:
            self._load_cases(unknown)
        for ref, row in firsts.items():
            state = self.cases.get(ref)
            if state is None:
                continue
            if state.starts_at != row.hearing_start and ref in unknown:
                self._move_hearing(state, row)
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
            )
            .join(HEARINGS, HEARINGS.c.case_id == CASES.c.id)
            .where(CASES.c.trial_id == self.trial_id, CASES.c.case_ref.in_(refs))
        )
        for ref, case_id, hearing_id, starts_at, version in self.session.execute(query):
            self.cases[ref] = CaseState(case_id, hearing_id, starts_at, version)

    def _insert_cases(self, rows: list[ParsedRow]) -> None:
        case_ids = (
            self.session.execute(
                insert(CASES).returning(CASES.c.id, sort_by_parameter_order=True),
                [{"trial_id": self.trial_id, "case_ref": row.case_ref} for row in rows],
            )
            .scalars()
            .all()
        )
        hearing_ids = (
            self.session.execute(
                insert(HEARINGS).returning(HEARINGS.c.id, sort_by_parameter_order=True),
                [
                    {
                        "case_id": case_id,
                        "trial_id": self.trial_id,
                        "court": row.court,
                        "court_name": row.court_name,
                        "starts_at": row.hearing_start,
                        "status": "listed",
                        "version": 1,
                        "updated_at": self.now,
                    }
                    for row, case_id in zip(rows, case_ids, strict=True)
                ],
            )
            .scalars()
            .all()
        )
        self.session.execute(
            insert(CHANGES),
            [
                {
                    "hearing_id": hearing_id,
                    "status": "listed",
                    "starts_at": row.hearing_start,
                    "recorded_at": self.now,
                    "source": f"enrol:{self.summary.source}",
                }
                for row, hearing_id in zip(rows, hearing_ids, strict=True)
            ],
        )
        for row, case_id, hearing_id in zip(rows, case_ids, hearing_ids, strict=True):
            self.cases[row.case_ref] = CaseState(case_id, hearing_id, row.hearing_start, 1)

    def _move_hearing(self, state: CaseState, row: ParsedRow) -> None:
        """A known case listed at a new time: an adjournment, kept in the hearing's history."""
        state.version += 1
        state.starts_at = row.hearing_start
        self.session.execute(
            update(HEARINGS)
            .where(HEARINGS.c.id == state.hearing_id)
            .values(
                starts_at=row.hearing_start,
                status="adjourned",
                version=state.version,
                court_name=row.court_name,
                updated_at=self.now,
            )
        )
        self.session.execute(
            insert(CHANGES),
            [
                {
                    "hearing_id": state.hearing_id,
                    "status": "adjourned",
                    "starts_at": row.hearing_start,
                    "recorded_at": self.now,
                    "source": f"enrol:{self.summary.source}",
                }
            ],
        )
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
        rules = self.definition.population.eligibility
        records, failed = [], []
        for row in rows:
            rule = first_failed_rule(rules, row.values())
            failed.append(rule)
            records.append(self._participant_record(row, rule.describe() if rule else None))
        ids = (
            self.session.execute(
                insert(PEOPLE).returning(PEOPLE.c.id, sort_by_parameter_order=True), records
            )
            .scalars()
            .all()
        )
        self.summary.enrolled += len(rows)
        eligible = []
        for row, rule, participant_id in zip(rows, failed, ids, strict=True):
            if rule is None:
                eligible.append((row, participant_id))
            else:
                self.summary.ineligible[rule.describe()] += 1
        if eligible:
            self._randomise(eligible)

    def _participant_record(self, row: ParsedRow, ineligible_rule: str | None) -> dict[str, Any]:
        return {
            "trial_id": self.trial_id,
            "participant_ref": row.participant_ref,
            "case_id": self.cases[row.case_ref].case_id,
            "role": row.role,
            "first_name": row.first_name,
            "last_name": row.last_name,
            "phone": row.phone,
            "address": row.address,
            "postcode": row.postcode,
            "language": row.language,
            "contact_sms": row.contact_sms,
            "contact_letter": row.contact_letter,
            "safeguarding_flag": row.safeguarding_flag,
            "attributes": row.attributes,
            "eligible": ineligible_rule is None,
            "ineligible_rule": ineligible_rule,
            "enrolled_at": self.now,
        }

    # randomisation ------------------------------------------------------------------------
    def _randomise(self, eligible: list[tuple[ParsedRow, int]]) -> None:
        """Allocate each new unit, in file order; members of a known unit join its arm."""
        unit_of = {pid: self._unit(row) for row, pid in eligible}
        unknown = {u for u in unit_of.values() if u not in self.units}
        if unknown:
            self.units.update(self.allocator.known_units(unknown))
        records = []
        strata = self.definition.population.strata
        for row, pid in eligible:
            unit = unit_of[pid]
            arm = self.units.get(unit)
            if arm is None:
                stratum = stratum_key({s: str(row.values()[s]) for s in strata}, strata)
                arm = self.allocator.allocate(unit, stratum, self.now)
                self.units[unit] = arm
            else:
                self.summary.joined_existing_unit += 1
            records.append(
                {
                    "trial_id": self.trial_id,
                    "participant_id": pid,
                    "arm_id": arm.arm_id,
                    "unit": unit,
                    "stratum": arm.stratum,
                    "block": arm.block,
                    "position": arm.position,
                    "assigned_at": self.now,
                }
            )
        self.session.execute(insert(ASSIGNMENTS), records)
        self.summary.randomised += len(records)
        self.summary.new_assignments.extend(pid for _, pid in eligible)

    def _unit(self, row: ParsedRow) -> str:
        unit = self.definition.population.unit
        if unit == "participant":
            return row.participant_ref
        if unit == "case":
            return row.case_ref
        return str(row.attributes[unit])
