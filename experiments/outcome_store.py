"""Storing outcome values: what is in force, what a new value changes, and the one way to write.

A value is in force until a different one arrives: then the old row gets `replaced_at` and a
new row is added, so the history of every value is kept; the same value again changes
nothing. A yes/no outcome's value is in `Outcome.value`, any other type's in `Outcome.number`
(experiments/outcome_values.py). The outcome import (analysis/outcomes.py) applies these rules
to a whole file at once; `record_outcome_value` applies them to one value (a survey's answer),
so both keep history, dates and corrections alike.

Dates: a value recorded without an event date keeps the one in force while the event still
stands (a yes/no outcome that stays yes; any number), and the charge date is always kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import ColumnElement, or_, select, update
from sqlmodel import Session

from experiments import trials
from experiments.definition import Outcome as OutcomeDefinition
from experiments.outcome_values import Reading, check_number
from nudge.bulk import Same, columns_of, insert_rows
from nudge.models import Outcome, Trial
from nudge.models.tables import OUTCOMES, PEOPLE
from nudge.models.types import column_length, fitted

UPDATE_BATCH = 5000


class Observation(NamedTuple):
    """One outcome of one person as recorded: yes/no in `value` or a number in `number`, and
    its dates (None: not known)."""

    value: bool | None
    number: float | None = None
    occurred_on: date | None = None
    charged_on: date | None = None

    @classmethod
    def of(
        cls, reading: Reading, occurred_on: date | None = None, charged_on: date | None = None
    ) -> Observation:
        """A reading put in its column: a bool as `value`, a number as `number`."""
        if isinstance(reading, bool):
            return cls(reading, None, occurred_on, charged_on)
        return cls(None, float(reading), occurred_on, charged_on)

    @property
    def event_stands(self) -> bool:
        """Whether the outcome's event happened: yes, or any number (a day it was measured)."""
        return self.number is not None or bool(self.value)


class Change(StrEnum):
    """What a value did to the record."""

    RECORDED = "recorded"  # observed for the first time
    CORRECTED = "corrected"  # different from the value in force, which is kept as history
    UNCHANGED = "unchanged"


class NewOutcome(NamedTuple):
    """One `outcome` row to add, less what a write shares; fields named as its columns."""

    participant_id: int
    outcome_key: str
    value: bool | None
    number: float | None
    occurred_on: date | None
    charged_on: date | None

    @classmethod
    def of(cls, participant_id: int, outcome_key: str, observed: Observation) -> NewOutcome:
        return cls(participant_id, outcome_key, *observed)


# (participant id, outcome) → (id of the row in force, what it records)
Current = dict[tuple[int, str], tuple[int, Observation]]


def current_values(
    session: Session,
    trial_id: str,
    *,
    participant_id: int | None = None,
    outcome_key: str | None = None,
) -> Current:
    """The values in force in a trial (or for one participant and outcome)."""
    outcomes = OUTCOMES.c
    query = select(
        outcomes.participant_id,
        outcomes.outcome_key,
        outcomes.id,
        outcomes.value,
        outcomes.number,
        outcomes.occurred_on,
        outcomes.charged_on,
    ).where(outcomes.trial_id == trial_id, outcomes.replaced_at.is_(None), observed())
    if participant_id is not None:
        query = query.where(outcomes.participant_id == participant_id)
    if outcome_key is not None:
        query = query.where(outcomes.outcome_key == outcome_key)
    return {
        (person, key): (row_id, Observation(value, number, occurred_on, charged_on))
        for person, key, row_id, value, number, occurred_on, charged_on in session.execute(query)
    }


def observed() -> ColumnElement[bool]:
    """The condition on `outcome` rows that hold a value, of any type."""
    return or_(OUTCOMES.c.value.is_not(None), OUTCOMES.c.number.is_not(None))


def change_of(existing: Observation | None, new: Observation) -> Change:
    if existing is None:
        return Change.RECORDED
    return Change.UNCHANGED if existing == new else Change.CORRECTED


def kept_event_date(old: Observation | None, reading: Reading) -> date | None:
    """The event date in force that a new value without one keeps (see the module docstring)."""
    if old is None or not old.event_stands:
        return None
    if isinstance(reading, bool) and not reading:
        return None
    return old.occurred_on


def write_outcomes(
    session: Session,
    rows: Sequence[NewOutcome],
    replaced: Iterable[int],
    *,
    trial_id: str,
    source: str,
    recorded_at: datetime,
) -> None:
    """Retire the rows `replaced` and add `rows`, all recorded at `recorded_at`."""
    retired = list(replaced)
    for start in range(0, len(retired), UPDATE_BATCH):
        batch = retired[start : start + UPDATE_BATCH]
        session.execute(
            update(OUTCOMES).where(OUTCOMES.c.id.in_(batch)).values(replaced_at=recorded_at)
        )
    shared = {"trial_id": Same(trial_id), "source": Same(source), "recorded_at": Same(recorded_at)}
    insert_rows(session, OUTCOMES, {**columns_of(rows, NewOutcome._fields), **shared})


def record_outcome_value(
    session: Session,
    trial_id: str,
    participant_id: int,
    outcome_key: str,
    *,
    value: bool | None = None,
    number: float | None = None,
    source: str,
    recorded_at: datetime,
) -> Change:
    """Record one value of one participant's outcome (yes/no as `value`, any other type as
    `number`), retiring the value in force if it differs; returns what changed.

    Raises ValueError, before writing anything, for an outcome the trial does not have, a
    participant not in it, or a value that does not fit the outcome's type. The caller owns
    the transaction. It takes the trial's lock, as an import does, so no other writer can
    replace the value in force between reading and replacing it.
    """
    outcome = _outcome(session, trials.lock_trial(session, trial_id), outcome_key)
    if (value is None) == (number is None):
        raise ValueError("give exactly one of value (yes/no) and number")
    if value is not None and outcome.type != "binary":
        raise ValueError(f"outcome '{outcome_key}' is {outcome.type}: give a number, not yes or no")
    reading: Reading = value if value is not None else check_number(outcome, float(number or 0))
    in_trial = select(PEOPLE.c.id).where(
        PEOPLE.c.id == participant_id, PEOPLE.c.trial_id == trial_id
    )
    if session.execute(in_trial).first() is None:
        raise ValueError(f"participant {participant_id} is not in trial '{trial_id}'")
    current = current_values(
        session, trial_id, participant_id=participant_id, outcome_key=outcome_key
    )
    row_id, old = current.get((participant_id, outcome_key), (None, None))
    kept = (kept_event_date(old, reading), old.charged_on) if old is not None else (None, None)
    new = Observation.of(reading, *kept)
    change = change_of(old, new)
    if change is not Change.UNCHANGED:
        write_outcomes(
            session,
            [NewOutcome.of(participant_id, outcome_key, new)],
            [row_id] if row_id is not None else [],
            trial_id=trial_id,
            source=fitted(source, column_length(Outcome, "source")),
            recorded_at=recorded_at,
        )
    return change


def _outcome(session: Session, trial: Trial, outcome_key: str) -> OutcomeDefinition:
    definition = trials.current_definition(session, trial)
    found = next((o for o in definition.outcomes if o.id == outcome_key), None)
    if found is None:
        known = ", ".join(o.id for o in definition.outcomes)
        raise ValueError(f"'{outcome_key}' is not an outcome of trial '{trial.id}' ({known})")
    return found
