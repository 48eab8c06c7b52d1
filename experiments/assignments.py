"""Read the allocation back: the per-participant export and the balance by arm and stratum."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select
from sqlmodel import Session

from nudge.models.tables import ARMS, ASSIGNMENTS, CASES, PEOPLE, UNITS

EXPORT_HEADER = (
    "participant_ref",
    "case_ref",
    "unit",
    "stratum",
    "block",
    "position",
    "arm",
    "assigned_at",
    # The arms open to new participants when the unit was allocated (ids in declared order,
    # separated by commas); empty when every arm was open (docs/randomisation.md).
    "open_arms",
)


def export_rows(session: Session, trial_id: str, zone: ZoneInfo) -> Iterator[tuple[Any, ...]]:
    """One row per randomised participant, in allocation order, times in the trial's zone;
    the open arms empty when every arm was open."""
    a = ASSIGNMENTS.c
    query = (
        select(
            PEOPLE.c.participant_ref,
            CASES.c.case_ref,
            a.unit,
            a.stratum,
            a.block,
            a.position,
            ARMS.c.key,
            a.assigned_at,
            a.open_arms,
        )
        .join(PEOPLE, PEOPLE.c.id == a.participant_id)
        .join(CASES, CASES.c.id == PEOPLE.c.case_id)
        .join(ARMS, ARMS.c.id == a.arm_id)
        .where(a.trial_id == trial_id)
        .order_by(a.id)
        .execution_options(yield_per=5000)
    )
    for row in session.execute(query):
        *rest, assigned_at, open_arms = row
        yield (*rest, assigned_at.astimezone(zone).isoformat(), open_arms or "")


@dataclass(frozen=True)
class BalanceRow:
    arm: str
    stratum: str
    units: int
    participants: int


def balance(session: Session, trial_id: str) -> list[BalanceRow]:
    """Units and participants per arm and stratum (arms in their declared order)."""
    a = ASSIGNMENTS.c
    query = (
        select(ARMS.c.key, a.stratum, func.count(distinct(a.unit)), func.count())
        .join(ARMS, ARMS.c.id == a.arm_id)
        .where(a.trial_id == trial_id)
        .group_by(ARMS.c.key, ARMS.c.position, a.stratum)
        .order_by(a.stratum, ARMS.c.position)
    )
    return [BalanceRow(*row) for row in session.execute(query)]


def units_per_arm(session: Session, trial_id: str) -> dict[str, int]:
    """Randomised units per arm, every arm present (zero when none)."""
    arms = (
        session.execute(
            select(ARMS.c.key).where(ARMS.c.trial_id == trial_id).order_by(ARMS.c.position)
        )
        .scalars()
        .all()
    )
    query = (
        select(ARMS.c.key, func.count())
        .join(UNITS, UNITS.c.arm_id == ARMS.c.id)
        .where(UNITS.c.trial_id == trial_id)
        .group_by(ARMS.c.key)
    )
    counts: dict[str, int] = {key: count for key, count in session.execute(query)}
    return {key: counts.get(key, 0) for key in arms}
