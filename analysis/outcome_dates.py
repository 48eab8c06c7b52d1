"""Dates beside the outcomes of an outcome file: when an outcome's event happened, and the charge.

A column `<outcome>_on` (`withdrew_on`) holds the day the outcome's event happened, for people
whose outcome is 1 (for an outcome that is a number, such as a scale, the day it was measured,
beside any number); `charged_on` holds the day of the charge, from which the time to the event
is counted (analysis/time_to_event.py). Both are YYYY-MM-DD days of the trial's calendar, as
the court's records write them. `charged_on` is stored with each outcome whose date column the
file has, so a file with `charged_on` needs at least one such column.

A blank date is "not known in this file", as a blank outcome is: it keeps a date recorded
earlier (an event date only while the outcome stays 1, or stays a number:
experiments/outcome_store.py). A row is refused, at its line and column, for a date that is
not a date, a date after today (the trial's timezone, on the injected clock), an event date
beside an outcome that is 0 or blank, and an event before the charge.

The charge is the case's `charged` milestone when the trial declares one and the case has a
date for it (its day in the trial's calendar), else the outcome file's `charged_on`: the frame
counts time from it (`charged_days`) and the import checks an event against it by the same
rule. The file's `charged_on` is stored as given either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from analysis.date_columns import (  # noqa: F401 (the names are this module's too)
    CHARGED,
    CHARGED_FROM,
    CHARGED_MILESTONE,
    EVENT_DATE_SUFFIX,
    FROM_FILE,
    FROM_MILESTONE,
    date_column,
)
from experiments.csvfile import CsvRecord
from experiments.dates import parse_day
from experiments.definition import TrialDefinition
from experiments.outcome_store import Observation, kept_event_date
from experiments.outcome_values import Reading
from experiments.rows import RowError
from nudge.errors import Problem
from nudge.models.tables import MILESTONES, PEOPLE


@dataclass(frozen=True)
class DateColumns:
    """The date columns an outcome file has: the outcomes dated, and whether it has the charge."""

    dated: tuple[str, ...] = ()
    charged: bool = False

    @property
    def names(self) -> list[str]:
        return [date_column(o) for o in self.dated] + ([CHARGED] if self.charged else [])


def is_date_column(column: str, outcome_ids: list[str]) -> bool:
    """Whether `column` is a date column an outcome file of these outcomes may have."""
    return column == CHARGED or any(column == date_column(o) for o in outcome_ids)


def read_date_columns(
    path: Path, columns: list[str], outcome_ids: list[str]
) -> tuple[DateColumns, list[Problem]]:
    """The file's date columns, and a line-1 problem for each that cannot be used."""
    problems = []
    dated = []
    for outcome in outcome_ids:
        if date_column(outcome) not in columns:
            continue
        if outcome in columns:
            dated.append(outcome)
            continue
        problems.append(
            _header(
                path,
                f"column '{date_column(outcome)}' is the date of '{outcome}', which the file "
                f"does not have: add a '{outcome}' column (1 where a date is given)",
            )
        )
    charged = CHARGED in columns
    if charged and not dated and not problems:
        examples = ", ".join(date_column(o) for o in outcome_ids)
        problems.append(
            _header(
                path,
                f"column '{CHARGED}' is the day time is counted from to an outcome's date, and "
                f"the file has no outcome date ({examples}): add one or leave '{CHARGED}' out",
            )
        )
    return DateColumns(tuple(dated), charged), problems


def charged_days(
    session: Session, trial_id: str, definition: TrialDefinition
) -> dict[int, date] | None:
    """Each participant's day of charge from their case's current `charged` milestone, in the
    trial's calendar; None when the trial declares no `charged` milestone (one query)."""
    if CHARGED_MILESTONE not in definition.milestone_names:
        return None
    zone = ZoneInfo(definition.timezone)
    query = (
        select(PEOPLE.c.id, MILESTONES.c.occurred_at)
        .join(MILESTONES, MILESTONES.c.case_id == PEOPLE.c.case_id)
        .where(
            PEOPLE.c.trial_id == trial_id,
            MILESTONES.c.name == CHARGED_MILESTONE,
            MILESTONES.c.replaced_at.is_(None),
        )
    )
    return {
        participant_id: occurred_at.astimezone(zone).date()
        for participant_id, occurred_at in session.execute(query)
    }


def _header(path: Path, message: str) -> Problem:
    return Problem(str(path), 1, None, f"header: {message}")


def observe(
    record: CsvRecord,
    values: Mapping[str, Reading],
    columns: DateColumns,
    stored: Mapping[str, Observation],
    today: date,
    charged_milestone: date | None = None,
) -> dict[str, Observation]:
    """Each observed outcome of one row with its dates, the stored dates kept where blank.

    An event is checked against the case's `charged` milestone (`charged_milestone`, a day)
    where it has one, else against the file's or the stored `charged_on`. Raises RowError
    naming the column for the first date that cannot be recorded.
    """
    charged = _day(record, CHARGED, today) if columns.charged else None
    for outcome in columns.dated:
        if outcome not in values and record.values[date_column(outcome)].strip():
            raise RowError(
                date_column(outcome),
                f"a date is given but '{outcome}' is blank: give '{outcome}' its value "
                "beside the date (1 if it happened), or leave the date blank",
            )
    observed = {}
    for outcome, value in values.items():
        old = stored.get(outcome)
        occurred = _day(record, date_column(outcome), today) if outcome in columns.dated else None
        if occurred is not None and value is False:
            raise RowError(
                date_column(outcome),
                f"'{occurred.isoformat()}' is given but '{outcome}' is 0 (no): give "
                f"'{outcome}' 1 if it happened, or leave the date blank",
            )
        if occurred is None:
            occurred = kept_event_date(old, value)
        counted_from = charged if outcome in columns.dated and charged is not None else None
        if counted_from is None and old is not None:
            counted_from = old.charged_on
        charge = charged_milestone if charged_milestone is not None else counted_from
        if occurred is not None and charge is not None and occurred < charge:
            source = (
                f"the case's '{CHARGED_MILESTONE}' milestone, '{charge.isoformat()}'"
                if charged_milestone is not None
                else _charge_source(charged, charge)
            )
            raise RowError(
                date_column(outcome),
                f"'{occurred.isoformat()}' is before the charge ({source}): time is counted "
                "from the charge, so check both dates",
            )
        observed[outcome] = Observation.of(value, occurred, counted_from)
    return observed


def _charge_source(given: date | None, used: date) -> str:
    if given is not None:
        return f"{CHARGED} '{used.isoformat()}'"
    return f"'{used.isoformat()}', recorded by an earlier import"


def _day(record: CsvRecord, column: str, today: date) -> date | None:
    """The cell's day; None when blank. RowError when it is not a date or is after today."""
    text = record.values[column].strip()
    if not text:
        return None
    try:
        day = parse_day(text)
    except ValueError as exc:
        raise RowError(column, f"{exc}; leave it blank if it is not known") from None
    if day > today:
        raise RowError(
            column,
            f"'{text}' is after today ({today.isoformat()} in the trial's timezone): an "
            "outcome file records what has happened, so check the date",
        )
    return day
