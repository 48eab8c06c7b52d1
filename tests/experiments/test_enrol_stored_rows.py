"""A whole import stores exactly what it stored before the import was made faster (issue 23).

Two imports of a synthetic export (a fresh trial, then a second file that moves hearings,
corrects contact details and adds people to known and new cases) are read back table by
table, every column the import writes, with surrogate keys replaced by their rank (PostgreSQL's
sequences are not reset between tests) and arms by their key. Each table's rows are hashed and
compared with `reference/enrol_stored_rows.json`, recorded from the code before issue 23's
changes (its `provenance`); a failing table is named, with its row count.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select
from sqlmodel import Session

from experiments import rowcheck
from experiments.enrol import EnrolSummary, enrol_file
from experiments.synthetic import ExportShape, write_export
from nudge.clock import FixedClock
from nudge.models.tables import ARMS, ASSIGNMENTS, CASES, CHANGES, HEARINGS, PEOPLE, UNITS
from tests.conftest import EXAMPLE
from tests.factories import launch

REFERENCE = Path(__file__).parent / "reference" / "enrol_stored_rows.json"
COURTS = tuple((f"C{i:02d}", f"Example Court {i}") for i in range(20))
SIZE = 6000

# The columns compared: those the import wrote when the reference was recorded. A column added
# later is left out here until the reference is recorded again.
COLUMNS = {
    "case": ("id", "trial_id", "case_ref"),
    "hearing": (
        "id",
        "case_id",
        "trial_id",
        "court",
        "court_name",
        "starts_at",
        "status",
        "version",
        "updated_at",
    ),
    "hearing_change": (
        "id",
        "hearing_id",
        "previous_status",
        "previous_starts_at",
        "status",
        "starts_at",
        "recorded_at",
        "source",
    ),
    "participant": (
        "id",
        "trial_id",
        "participant_ref",
        "case_id",
        "role",
        "first_name",
        "last_name",
        "phone",
        "address",
        "postcode",
        "language",
        "contact_sms",
        "contact_letter",
        "safeguarding_flag",
        "attributes",
        "eligible",
        "ineligible_rule",
        "enrolled_at",
        "purged_at",
    ),
    "assignment": (
        "id",
        "trial_id",
        "participant_id",
        "arm_id",
        "unit",
        "stratum",
        "block",
        "position",
        "assigned_at",
    ),
    "allocated_unit": (
        "id",
        "trial_id",
        "unit",
        "stratum",
        "slot",
        "block",
        "position",
        "arm_id",
        "assigned_at",
    ),
}
TABLES = (CASES, HEARINGS, CHANGES, PEOPLE, ASSIGNMENTS, UNITS)
# Foreign keys to the tables above, compared as the rank of the row they point to.
REFERENCES = {"case_id": "case", "hearing_id": "hearing", "participant_id": "participant"}


def exports(folder: Path) -> tuple[Path, Path]:
    """The first export (as bench/enrol.py makes, smaller), and a second from it: its latter
    half, every 7th case's hearing moved, every 11th person's phone and language changed, and
    500 new people, half in cases of the first file."""
    shape = ExportShape(date(2027, 3, 1), 270, COURTS, 1 / 0.6, weekdays_only=False)
    first = write_export(folder / "first.csv", SIZE, shape, seed=5)
    with first.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    at = {name: i for i, name in enumerate(header)}
    second = [list(row) for row in body[SIZE // 2 :]]
    for i, row in enumerate(second):
        if i % 11 == 0:
            row[at["phone"]] = f"07700 900{(i * 37) % 1000:03d}"
            row[at["language"]] = "cy"
    for i in range(500):
        new = list(body[i * 3])
        new[at["participant_ref"]] = f"N{i:07d}"
        if i % 2:
            new[at["case_ref"]] = f"Z{i:07d}"
        second.append(new)
    for row in second:  # every row of a moved case moves with it
        if int(row[at["case_ref"]][1:]) % 7 == 0:
            row[at["hearing_start"]] = row[at["hearing_start"]][:11] + "15:30"
    path = folder / "second.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *second])
    return first, path


def table_digests(session: Session, folder: Path) -> dict[str, list[Any]]:
    """Each table's row count and the SHA-256 of its rows, ids as ranks, arms as keys, the
    test's folder (in a hearing change's source) as `<folder>`."""
    arms = {arm_id: key for arm_id, key in session.execute(select(ARMS.c.id, ARMS.c.key))}
    ranks: dict[str, dict[int, int]] = {}
    for table in TABLES:
        ids = session.execute(select(table.c.id).order_by(table.c.id)).scalars()
        ranks[table.name] = {value: rank for rank, value in enumerate(ids)}
    return {table.name: _digest(session, table, ranks, arms, folder) for table in TABLES}


def _digest(
    session: Session,
    table: Table,
    ranks: dict[str, dict[int, int]],
    arms: dict[int, str],
    folder: Path,
) -> list[Any]:
    names = COLUMNS[table.name]
    query = select(*(table.c[name] for name in names)).order_by(table.c.id)
    digest = hashlib.sha256()
    count = 0
    for row in session.execute(query):
        values = []
        for name, value in zip(names, row, strict=True):
            if name == "id":
                value = ranks[table.name][value]
            elif name in REFERENCES:
                value = ranks[REFERENCES[name]][value]
            elif name == "arm_id":
                value = arms[value]
            elif hasattr(value, "isoformat"):
                assert value.utcoffset() is not None, f"{table.name}.{name} is not aware"
                value = value.isoformat()
            elif name == "source":
                value = value.replace(str(folder), "<folder>")
            values.append(value)
        # Keys sorted: a JSON object's key order is its writer's (attributes come in the order
        # of a set of column names, which varies from process to process), not a value.
        digest.update(json.dumps(values, ensure_ascii=False, sort_keys=True).encode() + b"\n")
        count += 1
    return [count, digest.hexdigest()]


def counts(summary: EnrolSummary) -> dict[str, Any]:
    return {
        "read": summary.read,
        "enrolled": summary.enrolled,
        "randomised": summary.randomised,
        "joined_existing_unit": summary.joined_existing_unit,
        "already_enrolled": summary.already_enrolled,
        "updated": summary.updated,
        "hearings_moved": summary.hearings_moved,
        "ineligible": dict(sorted(summary.ineligible.items())),
    }


@pytest.mark.parametrize("reader", ["in this process", "beside it"])
def test_two_imports_store_exactly_the_rows_they_stored_before(
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    reader: str,
) -> None:
    if reader == "beside it":
        monkeypatch.setattr(rowcheck, "PARALLEL_FROM_BYTES", 0)
    first, second = exports(tmp_path)
    trial = launch(session, clock, EXAMPLE)
    summaries = []
    for path in (first, second):
        summaries.append(counts(enrol_file(session, clock, trial, path, "test")))
        session.commit()
    expected = json.loads(REFERENCE.read_text())
    assert summaries == expected["summaries"]
    digests = table_digests(session, tmp_path)
    assert {
        name: digest for name, digest in digests.items() if digest != expected["tables"][name]
    } == {}
