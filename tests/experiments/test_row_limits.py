"""The row check's length limits are its columns' lengths, and the reader process stays light.

`experiments/rows.py` writes the limits out rather than reading them from the models, so that a
large import's reader process (`experiments/rowcheck.py`, spawned afresh) need not import
SQLAlchemy, SQLModel and pydantic before its first batch, which the writer waits for
(BENCHMARKS.md, issue 23). These tests keep the written-out numbers equal to the columns (a longer
value was a database error on PostgreSQL), and the reader's imports free of that stack.
"""

from __future__ import annotations

import base64
import json
import pickle
import subprocess
import sys
from zoneinfo import ZoneInfo

from experiments import rows
from experiments.loader import load_trial_file
from nudge.models import AllocatedUnit, Case, Hearing, Participant
from nudge.models.types import column_length
from tests.conftest import ROOT

EXAMPLE = ROOT / "experiments" / "examples" / "witness-reminders.yaml"


def test_each_row_limit_is_its_columns_length() -> None:
    assert rows.MAX_REF == min(
        column_length(Participant, "participant_ref"), column_length(Case, "case_ref")
    )
    assert rows.MAX_ROLE == column_length(Participant, "role")
    assert rows.MAX_COURT == column_length(Hearing, "court")
    assert rows.MAX_UNIT == column_length(AllocatedUnit, "unit")
    assert rows.MAX_STRATUM == column_length(AllocatedUnit, "stratum")


def test_the_reader_process_imports_no_database_or_model_stack() -> None:
    probe = (
        "import json, sys\n"
        "import experiments.rowcheck\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'sqlalchemy', 'sqlmodel', 'pydantic', 'psycopg', 'yaml'})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_derivation_reaches_the_reader_without_the_model_stack() -> None:
    """On SQLite the reader works out each row's eligibility, unit and stratum: the Derivation
    it is sent (rules, strata, the site) unpickles there without pydantic, and derives the
    same as the writer's own."""
    definition = load_trial_file(EXAMPLE).definition
    strata = ("site", *definition.population.strata)
    population = definition.population
    derivation = rows.Derivation(population.eligibility, strata, population.unit, {"site": "gwent"})
    row = _a_row()
    expected = tuple(derivation(row._replace(attributes=dict(row.attributes))))
    probe = (
        "import base64, json, pickle, sys\n"
        "import experiments.rowcheck\n"
        "derivation, row = pickle.loads(base64.b64decode(sys.stdin.read()))\n"
        "derived = list(derivation(row))\n"
        "stack = sorted({m.split('.')[0] for m in sys.modules}"
        " & {'sqlalchemy', 'sqlmodel', 'pydantic', 'psycopg', 'yaml'})\n"
        "print(json.dumps([stack, derived]))\n"
    )
    sent = base64.b64encode(pickle.dumps((derivation, row))).decode("ascii")
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        input=sent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    stack, derived = json.loads(done.stdout)
    assert stack == []
    assert tuple(derived) == expected
    assert '"site":"gwent"' in expected[4]  # the site is among the stored attributes


def _a_row() -> rows.ParsedRow:
    raw = {
        "participant_ref": "P-1",
        "case_ref": "C-1",
        "role": "witness",
        "first_name": "Ada",
        "last_name": "Example",
        "phone": "07700 900123",
        "address_line_1": "1 Fictional Street",
        "postcode": "CF10 1AA",
        "language": "en",
        "contact_sms": "yes",
        "contact_letter": "yes",
        "safeguarding_flag": "no",
        "court": "C01",
        "court_name": "Example Court",
        "hearing_start": "2027-03-01 10:00",
    }
    return rows.parse_row(
        2, raw, rows.RowRules(ZoneInfo("Europe/London"), frozenset(), frozenset())
    )
