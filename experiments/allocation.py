"""Allocation inside an import: take each unit's next slot in its stratum, persist what was used."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select, update
from sqlmodel import Session, col

from experiments.definition import TrialDefinition
from experiments.randomise import AllocationScheme, Slot, StratumSequence
from nudge.bulk import Same, columns_of, insert_rows
from nudge.errors import TrialStateError
from nudge.models import StratumCounter
from nudge.models.tables import UNITS


class UnitArm(NamedTuple):
    """The arm a unit was allocated to and the slot that gave it (a tuple: an import makes
    one for each of hundreds of thousands of units, and a tuple is made in a third the time)."""

    arm_id: int
    stratum: str
    block: int
    position: int


class AllocatedUnit(NamedTuple):
    """One `allocated_unit` row of this trial; its field names are the table's column names."""

    unit: str
    stratum: str
    slot: int
    block: int
    position: int
    arm_id: int
    assigned_at: datetime


def scheme_of(definition: TrialDefinition) -> AllocationScheme:
    method = definition.randomisation.method
    sizes = definition.block_sizes if method == "permuted_blocks" else ()
    weights = {arm.id: arm.weight for arm in definition.arms}
    try:
        return AllocationScheme.from_weights(method, weights, sizes)
    except ValueError as exc:  # a design launched before validation refused it
        raise TrialStateError(
            f"trial '{definition.id}' cannot allocate anyone: {exc}; nothing was imported"
        ) from None


class Allocator:
    """Hands out slots for one trial; call `flush` before commit to persist the counters.

    The caller holds the trial's lock for the whole import, so no other import can take slots
    meanwhile; the unique constraints on allocated_unit would refuse one that tried.
    """

    def __init__(
        self, session: Session, trial_id: str, definition: TrialDefinition, arm_ids: dict[str, int]
    ) -> None:
        seed = definition.randomisation.seed
        assert seed is not None, "a launched trial always has its seed"
        self._session, self._trial_id, self._seed = session, trial_id, seed
        self._scheme = scheme_of(definition)
        self._arm_ids = arm_ids
        self._sequences: dict[str, StratumSequence] = {}
        # Each stratum's slots are taken in order, so one iterator per stratum hands them out
        # without looking each up again: the same slots as StratumSequence.slot(index).
        self._next: dict[str, Iterator[Slot]] = {}
        self._used: dict[str, int] = {}
        self._stored: dict[str, int] = {}
        self._pending: list[AllocatedUnit] = []

    def allocate(self, unit: str, stratum: str, at: datetime) -> UnitArm:
        """The next slot of the stratum's sequence for a unit not allocated before."""
        if stratum not in self._used:
            self._load(stratum)
        index = self._used[stratum]
        upcoming = self._next.get(stratum)
        if upcoming is None:
            upcoming = self._next[stratum] = self._sequence(stratum).iter_from(index)
        slot = next(upcoming)
        assert slot.index == index, "a stratum's slots are taken in order"
        self._used[stratum] = index + 1
        arm_id = self._arm_ids[slot.arm]
        # unit, stratum, slot, block, position, arm_id, assigned_at
        self._pending.append(
            AllocatedUnit(unit, stratum, index, slot.block, slot.position, arm_id, at)
        )
        return UnitArm(arm_id, stratum, slot.block, slot.position)

    def known_units(self, units: Iterable[str]) -> dict[str, UnitArm]:
        """Units of this trial already allocated in the database."""
        wanted = list(set(units))
        found: dict[str, UnitArm] = {}
        table = UNITS
        for start in range(0, len(wanted), 2000):
            query = select(
                table.c.unit, table.c.arm_id, table.c.stratum, table.c.block, table.c.position
            ).where(
                table.c.trial_id == self._trial_id, table.c.unit.in_(wanted[start : start + 2000])
            )
            for unit, arm_id, stratum, block, position in self._session.execute(query):
                found[unit] = UnitArm(arm_id, stratum, block, position)
        return found

    def flush(self) -> None:
        """Write the allocated units and the counters of every stratum used."""
        if self._pending:
            rows = columns_of(self._pending, AllocatedUnit._fields)
            insert_rows(self._session, UNITS, {"trial_id": Same(self._trial_id), **rows})
            self._pending = []
        for stratum, used in self._used.items():
            if stratum not in self._stored:
                self._session.add(
                    StratumCounter(trial_id=self._trial_id, stratum=stratum, used=used)
                )
            elif used != self._stored[stratum]:
                self._session.execute(
                    update(StratumCounter)
                    .where(
                        col(StratumCounter.trial_id) == self._trial_id,
                        col(StratumCounter.stratum) == stratum,
                    )
                    .values(used=used)
                )
            self._stored[stratum] = used
        self._session.flush()

    def _load(self, stratum: str) -> None:
        query = select(col(StratumCounter.used)).where(
            col(StratumCounter.trial_id) == self._trial_id, col(StratumCounter.stratum) == stratum
        )
        used = self._session.execute(query).scalar_one_or_none()
        self._used[stratum] = used or 0
        if used is not None:
            self._stored[stratum] = used

    def _sequence(self, stratum: str) -> StratumSequence:
        if stratum not in self._sequences:
            self._sequences[stratum] = StratumSequence(self._scheme, self._seed, stratum)
        return self._sequences[stratum]
