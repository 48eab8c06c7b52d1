"""Contamination: randomised people in different arms who share a mobile number or an address.

A household that gets two arms' messages (a parent and a grown-up child called as witnesses in
different cases, or two victims at one address) can read both, so the comparison between arms
is blurred. Nudge counts them for the balance report (`nudge balance`, the results page) and
names no one: only counts leave this module.

- A **mobile number** is shared when people randomised to more than one arm have the same
  number as stored (numbers are stored normalised, +44..., so spacing cannot hide a match).
- An **address** is shared when people randomised to more than one arm have the same address
  lines (letter case aside) and the same postcode (spaces aside). Only people who agreed to
  letters have an address stored, and only people who agreed to texts a number: those are the
  people the other arm's messages can reach.

A trial that expects many households to span cases can randomise whole households instead
(`unit: household`, experiments/households.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, cast, distinct, func, literal, select
from sqlmodel import Session

from nudge.models.tables import ASSIGNMENTS, PEOPLE


@dataclass(frozen=True)
class Shared:
    """Numbers (or addresses) held by people in more than one arm, and how many people hold them."""

    keys: int
    people: int


@dataclass(frozen=True)
class Contamination:
    phone: Shared
    address: Shared

    @property
    def any(self) -> bool:
        return bool(self.phone.keys or self.address.keys)


def contamination(session: Session, trial_id: str) -> Contamination:
    """Counts of shared mobile numbers and addresses across arms among the randomised."""
    address = (
        func.lower(cast(PEOPLE.c.address, String))
        + literal("|")
        + func.upper(func.replace(PEOPLE.c.postcode, " ", ""))
    )
    return Contamination(
        phone=_shared(session, trial_id, PEOPLE.c.phone),
        address=_shared(session, trial_id, address),
    )


def _shared(session: Session, trial_id: str, key: ColumnElement[str]) -> Shared:
    grouped = (
        select(key.label("key"), func.count().label("people"))
        .select_from(PEOPLE.join(ASSIGNMENTS, ASSIGNMENTS.c.participant_id == PEOPLE.c.id))
        .where(ASSIGNMENTS.c.trial_id == trial_id, key.is_not(None))
        .group_by(key)
        .having(func.count(distinct(ASSIGNMENTS.c.arm_id)) > 1)
        .subquery()
    )
    keys, people = session.execute(
        select(func.count(), func.coalesce(func.sum(grouped.c.people), 0))
    ).one()
    return Shared(int(keys), int(people))


def contamination_words(found: Contamination, exact: bool = True) -> str:
    """One sentence for people; counts under 5 hidden unless `exact` (researchers)."""
    if not found.any:
        return "No one shares a mobile number or an address with someone randomised to another arm."

    def count(n: int) -> str:
        return "fewer than 5" if not exact and 0 < n < 5 else f"{n:,}"

    parts = []
    if found.phone.keys:
        parts.append(f"{count(found.phone.people)} people share a mobile number")
    if found.address.keys:
        parts.append(f"{count(found.address.people)} people share an address")
    return (
        f"{' and '.join(parts)} with someone randomised to another arm: they may see the other "
        "arm's messages, which would make the arms look more alike than they are."
    )
