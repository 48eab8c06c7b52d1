"""Keyword-default factories for test data: obviously fictional people, Ofcom drama numbers."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, SQLModel

from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file
from experiments.synthetic import COLUMNS as SYNTHETIC_COLUMNS
from messages.intake import enrol_and_plan
from nudge.clock import Clock
from nudge.models import Message

# The example trial's export columns, as the synthetic export for the demo and benchmarks has them.
PEOPLE_COLUMNS = list(SYNTHETIC_COLUMNS)


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
    """Create and launch the trial in a definition file; returns its id. A multi-site trial
    is its first site's, the coordinating one."""
    loaded = load_trial_file(definition)
    assert isinstance(loaded, LoadedTrial), loaded
    owner = loaded.definition.site_slugs[0] if loaded.definition.sites else None
    trials.create_trial(session, clock, loaded, trials.Actor(actor), organisation=owner)
    trials.launch_trial(session, clock, loaded.definition.id, trials.Actor(actor))
    session.commit()
    return loaded.definition.id


def row_counts(session: Session) -> dict[str, int]:
    """Rows in every table: a whole-database fingerprint for 'nothing changed' checks."""
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in SQLModel.metadata.sorted_tables
    }


def fast_example(folder: Path, example: Path, per_second: int = 1000) -> Path:
    """A copy of the example trial (with its letters) sending up to `per_second` texts a second."""
    definition = folder / "trial.yaml"
    definition.write_text(
        example.read_text().replace("max_per_second: 10", f"max_per_second: {per_second}")
    )
    shutil.copytree(example.parent / "letters", folder / "letters", dirs_exist_ok=True)
    return definition


def enrol_due_texts(
    session: Session, clock: Clock, definition: Path, people: int, due_by: datetime
) -> list[int]:
    """Launch the trial, enrol `people` witnesses (a case each); the ids of SMS due by `due_by`."""
    trial_id = launch(session, clock, definition)
    rows = [person(i, case_ref=f"C{i}") for i in range(people)]
    path = write_people(definition.parent / "people.csv", rows)
    enrol_and_plan(session, clock, trial_id, path, "test")
    session.commit()
    query = select(Message.id).where(Message.channel == "sms", Message.due_at <= due_by)  # type: ignore[arg-type]
    return sorted(session.execute(query.order_by(Message.id)).scalars())
