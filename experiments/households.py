"""Households as randomisation units (`population.unit: household`; docs/randomisation.md).

People who share a mobile number or an address (or whichever the trial's `household` names)
are one household, across cases: a parent and a grown-up child called as witnesses in two
cases, two victims at one address. Randomising the household, not the case, keeps them in one
arm, so neither reads the other arm's messages.

- **Keys.** A number as stored (normalised, +44...); an address as its lines, letter case
  aside, with its postcode, spaces and case aside. Only people who agreed to texts have a
  number stored, and only those who agreed to letters an address.
- **Linking.** Within an import, people are linked when they share a key, and so on through
  chains (union-find): A shares a number with B, B an address with C, so A, B and C are one
  household. People already randomised are found by the same keys.
- **The unit's name.** A household with someone already randomised takes that person's unit,
  so newcomers join its arm. A new household is named after the first of its people in the
  file, `household:<participant_ref>`: the same files in the same order give the same
  households and, with the trial's seed, the same allocation.
- **Two households bridged.** When a newcomer links households already randomised apart (a
  number shared with one, an address with the other), the newcomer joins the first of them in
  name order; the two cannot be merged after randomisation. They are counted (`bridged`), and
  the contamination count shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from nudge.models.tables import ASSIGNMENTS, PEOPLE

PREFIX = "household:"
CHUNK = 1000


@dataclass(frozen=True)
class Member:
    participant_ref: str
    phone: str | None
    address: Sequence[str]
    postcode: str | None


def address_key(address: Sequence[str], postcode: str | None) -> str | None:
    if not address or not postcode:
        return None
    lines = "|".join(line.strip().lower() for line in address)
    return lines + "#" + "".join(postcode.split()).upper()


def keys_of(member: Member, use: Sequence[str]) -> list[str]:
    found = []
    if "phone" in use and member.phone:
        found.append("phone:" + member.phone)
    if "address" in use:
        key = address_key(member.address, member.postcode)
        if key is not None:
            found.append("address:" + key)
    return found


@dataclass
class Households:
    units: list[str]  # each member's household unit, in order
    bridged: int = 0  # new households linking households already randomised apart


def assign_households(
    session: Session, trial_id: str, members: Sequence[Member], use: Sequence[str]
) -> Households:
    """Each member's household unit, linking them to each other and to people already
    randomised in the trial."""
    parent = list(range(len(members)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    member_keys = [keys_of(m, use) for m in members]
    for i, keys in enumerate(member_keys):
        for key in keys:
            j = first_with.setdefault(key, i)
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    known = _known_units(session, trial_id, set(first_with), use)
    existing: dict[int, set[str]] = {}
    for i, keys in enumerate(member_keys):
        for key in keys:
            if key in known:
                existing.setdefault(find(i), set()).update(known[key])
    result = Households([])
    for i in range(len(members)):
        root = find(i)
        units = existing.get(root)
        if units:
            result.units.append(min(units))
            if len(units) > 1 and root == i:
                result.bridged += 1
        else:
            result.units.append(PREFIX + members[root].participant_ref)
    return result


def _known_units(
    session: Session, trial_id: str, keys: set[str], use: Sequence[str]
) -> dict[str, set[str]]:
    """The units of people already randomised in the trial who hold any of `keys`."""
    found: dict[str, set[str]] = {}
    phones = sorted(k.removeprefix("phone:") for k in keys if k.startswith("phone:"))
    places = {k.removeprefix("address:") for k in keys if k.startswith("address:")}
    postcodes = sorted({place.rsplit("#", 1)[1] for place in places})
    base = (
        select(PEOPLE.c.phone, PEOPLE.c.address, PEOPLE.c.postcode, ASSIGNMENTS.c.unit)
        .join(ASSIGNMENTS, ASSIGNMENTS.c.participant_id == PEOPLE.c.id)
        .where(ASSIGNMENTS.c.trial_id == trial_id)
    )
    if "phone" in use:
        for start in range(0, len(phones), CHUNK):
            query = base.where(PEOPLE.c.phone.in_(phones[start : start + CHUNK]))
            for phone, _, _, unit in session.execute(query):
                found.setdefault("phone:" + phone, set()).add(unit)
    if "address" in use and postcodes:
        # Postcodes are stored in their canonical form, "BS1 1AA": the inward code is the last 3.
        stored = sorted(f"{code[:-3]} {code[-3:]}" for code in postcodes)
        for start in range(0, len(stored), CHUNK):
            query = base.where(PEOPLE.c.postcode.in_(stored[start : start + CHUNK]))
            for _, address, postcode, unit in session.execute(query):
                key = address_key(address or [], postcode)
                if key is not None and key in places:
                    found.setdefault("address:" + key, set()).add(unit)
    return found
