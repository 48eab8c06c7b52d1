"""Keyword-default factories for test data: obviously fictional people, Ofcom drama numbers."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, SQLModel

from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file
from nudge.clock import Clock

PEOPLE_COLUMNS = [
    "participant_ref",
    "case_ref",
    "role",
    "first_name",
    "last_name",
    "phone",
    "address_line_1",
    "address_line_2",
    "postcode",
    "language",
    "contact_sms",
    "contact_letter",
    "safeguarding_flag",
    "court",
    "court_name",
    "hearing_start",
    "age",
    "age_band",
    "vulnerable",
    "prior_fta",
]


def person(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """One export row for a fictional witness; `n` varies the references and drama number."""
    row = {
        "participant_ref": f"P{n:05d}",
        "case_ref": f"C{n:05d}",
        "role": "witness",
        "first_name": "Testy",
        "last_name": f"McTestface{n}",
        "phone": f"07700 900{n % 1000:03d}",
        "address_line_1": f"{n} Example Street",
        "address_line_2": "Exampletown",
        "postcode": "BS1 1AA",
        "language": "en",
        "contact_sms": "yes",
        "contact_letter": "yes",
        "safeguarding_flag": "no",
        "court": "BRS",
        "court_name": "Bristol Crown Court",
        "hearing_start": "2027-03-04T10:00",
        "age": "40",
        "age_band": "35-54",
        "vulnerable": "no",
        "prior_fta": "no",
    }
    row.update(overrides)
    return row


def write_people(
    path: Path,
    rows: Sequence[dict[str, Any]],
    *,
    encoding: str = "utf-8",
    columns: Sequence[str] | None = None,
) -> Path:
    header = list(columns or PEOPLE_COLUMNS)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(c, "") for c in header])
    return path


def launch(session: Session, clock: Clock, definition: Path, actor: str = "test:researcher") -> str:
    """Create and launch the trial in a definition file; returns its id."""
    loaded = load_trial_file(definition)
    assert isinstance(loaded, LoadedTrial), loaded
    trials.create_trial(session, clock, loaded, trials.Actor(actor))
    trials.launch_trial(session, clock, loaded.definition.id, trials.Actor(actor))
    session.commit()
    return loaded.definition.id


def row_counts(session: Session) -> dict[str, int]:
    """Rows in every table: a whole-database fingerprint for 'nothing changed' checks."""
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in SQLModel.metadata.sorted_tables
    }
