"""Allocation inside an import: take each unit's next slot in its stratum, persist what was used.

**Arms excluded while paused.** Under `randomisation.paused_arm_enrolment: exclude`, an arm
paused (messages/pausing.py) takes no new unit until it is resumed; a whole-trial pause closes
every arm. A new unit is then allocated among the open arms only, from the stratum's sequence
for that set of open arms: the same algorithm (experiments/randomise.py) with the open arms and
their weights, keyed `<stratum>|open:<arm>,<arm>` (open arms in declared order) in place of the
stratum, so it is reproducible from the seed, independent of the stratum's own sequence, and
continues where it stopped if the same arms are open again. Its blocks hold the same rounds of
weights as the declared ones (a declared size s of total weight W gives s / W times the open
arms' weight), so every block is balanced among the open arms. The stratum's own sequence
waits meanwhile and continues from where it stopped once every arm is open again. With fewer
than two arms open nobody can be randomised, and an import that would need to is refused.
Each unit records the arms open when it was allocated (`open_arms`, None when every arm was),
for the analysis of concurrent participants (analysis/concurrent.py). Units allocated before
keep their arm: a new member of a known unit joins it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select, update
from sqlmodel import Session, col

from experiments.amendments import AllocationChange, allocation_changes
from experiments.definition import TrialDefinition
from experiments.randomise import AllocationScheme, Slot, StratumSequence
from nudge.bulk import Same, columns_of, insert_rows
from nudge.errors import TrialStateError
from nudge.models import Pause, StratumCounter
from nudge.models.tables import PAUSES, UNITS
from nudge.models.types import column_length

OPEN_SEPARATOR = ","  # between arm keys, which are slugs and so never contain one
OPEN_MARK = "|open:"  # never ends a stratum key: its every part is name=value, or it is "all"
MAX_KEY = column_length(StratumCounter, "stratum")


class UnitArm(NamedTuple):
    """The arm a unit was allocated to and the slot that gave it (a tuple: an import makes
    one for each of hundreds of thousands of units, and a tuple is made in a third the time)."""

    arm_id: int
    stratum: str
    block: int
    position: int
    open_arms: str | None = None  # the arms open when it was allocated; None: every arm


class AllocatedUnit(NamedTuple):
    """One `allocated_unit` row of this trial; its field names are the table's column names.
    `stratum` is the sequence's key: the stratum, or its sequence for the open arms."""

    unit: str
    stratum: str
    slot: int
    block: int
    position: int
    arm_id: int
    assigned_at: datetime
    open_arms: str | None


def excluded_arms(session: Session, trial_id: str, definition: TrialDefinition) -> set[str]:
    """The arms closed to new units now: the paused ones, under `paused_arm_enrolment:
    exclude` (every arm while the whole trial is paused); none otherwise."""
    if not definition.randomisation.excludes_paused_arms:
        return set()
    keys = set(
        session.execute(
            select(PAUSES.c.arm_key).where(
                PAUSES.c.trial_id == trial_id, PAUSES.c.resumed_at.is_(None)
            )
        ).scalars()
    )
    arms = {arm.id for arm in definition.arms}
    return arms if None in keys else arms & keys


def allocation_history(
    session: Session, trial_id: str, definition: TrialDefinition
) -> list[AllocationChange]:
    """The trial's changes of allocation (design changes), oldest first; none unless it
    excludes paused arms from enrolment."""
    if not definition.randomisation.excludes_paused_arms:
        return []
    pauses = session.execute(
        select(Pause).where(col(Pause.trial_id) == trial_id).order_by(col(Pause.id))
    ).scalars()
    return allocation_changes(pauses, {arm.id: arm.title for arm in definition.arms})


def open_arms_text(open_arms: tuple[str, ...]) -> str:
    return OPEN_SEPARATOR.join(open_arms)


def sequence_key(stratum: str, open_arms: tuple[str, ...] | None) -> str:
    """The key of the sequence a unit of the stratum takes its slot from."""
    return stratum if open_arms is None else f"{stratum}{OPEN_MARK}{open_arms_text(open_arms)}"


def stratum_of(key: str) -> str:
    """The stratum a sequence key belongs to."""
    return key.rpartition(OPEN_MARK)[0] if OPEN_MARK in key else key


def scheme_of(
    definition: TrialDefinition, open_arms: tuple[str, ...] | None = None
) -> AllocationScheme:
    """The trial's scheme; with `open_arms`, the scheme among those arms only, its blocks the
    same rounds of weights as the declared ones."""
    method = definition.randomisation.method
    sizes = definition.block_sizes if method == "permuted_blocks" else []
    weights = {arm.id: arm.weight for arm in definition.arms}
    if open_arms is not None:
        total = sum(weights.values())
        weights = {arm: weights[arm] for arm in open_arms}
        sizes = [size // total * sum(weights.values()) for size in sizes]
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
        excluded = excluded_arms(session, trial_id, definition)
        # None while every arm is open: the stratum's own sequence, exactly as without pauses.
        self._open: tuple[str, ...] | None = (
            tuple(arm.id for arm in definition.arms if arm.id not in excluded) if excluded else None
        )
        self._open_text = None if self._open is None else open_arms_text(self._open)
        self._scheme = scheme_of(definition, self._open) if self._can_allocate() else None
        self._arm_ids = arm_ids
        self._sequences: dict[str, StratumSequence] = {}
        # Each stratum's slots are taken in order, so one iterator per stratum hands them out
        # without looking each up again: the same slots as StratumSequence.slot(index).
        self._next: dict[str, Iterator[Slot]] = {}
        self._used: dict[str, int] = {}
        self._stored: dict[str, int] = {}
        self._pending: list[AllocatedUnit] = []

    def allocate(self, unit: str, stratum: str, at: datetime) -> UnitArm:
        """The next slot of the stratum's sequence (for the open arms, while some are excluded)
        for a unit not allocated before."""
        if self._scheme is None:
            raise TrialStateError(self._closed_words())
        key = sequence_key(stratum, self._open)
        if key not in self._used:
            self._load(key)
        index = self._used[key]
        upcoming = self._next.get(key)
        if upcoming is None:
            upcoming = self._next[key] = self._sequence(key).iter_from(index)
        slot = next(upcoming)
        assert slot.index == index, "a stratum's slots are taken in order"
        self._used[key] = index + 1
        arm_id = self._arm_ids[slot.arm]
        opened = self._open_text
        self._pending.append(
            AllocatedUnit(unit, key, index, slot.block, slot.position, arm_id, at, opened)
        )
        return UnitArm(arm_id, stratum, slot.block, slot.position, opened)

    def _can_allocate(self) -> bool:
        return self._open is None or len(self._open) >= 2

    def _closed_words(self) -> str:
        trial = self._trial_id
        shown = ", ".join(self._open or ()) or "none"
        return (
            f"trial '{trial}' cannot randomise anyone new: its paused arms are excluded from "
            f"enrolment (randomisation.paused_arm_enrolment: exclude) and fewer than two arms "
            f"are open (open: {shown}); nothing was imported. Resume an arm "
            f"(nudge trial resume {trial} --arm ARM), or the trial, and import the file again"
        )

    def known_units(self, units: Iterable[str]) -> dict[str, UnitArm]:
        """Units of this trial already allocated in the database."""
        wanted = list(set(units))
        found: dict[str, UnitArm] = {}
        table = UNITS
        for start in range(0, len(wanted), 2000):
            query = select(
                table.c.unit,
                table.c.arm_id,
                table.c.stratum,
                table.c.block,
                table.c.position,
                table.c.open_arms,
            ).where(
                table.c.trial_id == self._trial_id, table.c.unit.in_(wanted[start : start + 2000])
            )
            for unit, arm_id, key, block, position, opened in self._session.execute(query):
                found[unit] = UnitArm(arm_id, stratum_of(key), block, position, opened)
        return found

    def write_units(self) -> None:
        """Write the units allocated since the last write (a bulk insert, nothing read back:
        on PostgreSQL it goes down `nudge.bulk.pipelined`'s COPY thread without waiting)."""
        if self._pending:
            rows = columns_of(self._pending, AllocatedUnit._fields)
            if not any(rows["open_arms"]):
                del rows["open_arms"]  # every arm was open: the column's default
            insert_rows(self._session, UNITS, {"trial_id": Same(self._trial_id), **rows})
            self._pending = []

    def flush(self) -> None:
        """Write the allocated units and the counters of every stratum used.

        The counters are read only when a stratum is first used (`_load`), and this allocator
        counts on from there, so within one transaction they need writing once, at the end; an
        update is a statement the session must wait for, as the units' inserts are not."""
        self.write_units()
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

    def _sequence(self, key: str) -> StratumSequence:
        if key not in self._sequences:
            assert self._scheme is not None
            if len(key) > MAX_KEY:
                raise TrialStateError(
                    f"trial '{self._trial_id}': the sequence for stratum '{stratum_of(key)}' and "
                    f"the open arms needs a key of {len(key)} characters, more than {MAX_KEY}; "
                    "nothing was imported. Resume the paused arms to allocate in this stratum"
                )
            self._sequences[key] = StratumSequence(self._scheme, self._seed, key)
        return self._sequences[key]
