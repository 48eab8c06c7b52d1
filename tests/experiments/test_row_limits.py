"""The row check's length limits are its columns' lengths, and the reader process stays light.

`experiments/rows.py` writes the limits out rather than reading them from the models, so that a
large import's reader process (`experiments/rowcheck.py`, spawned afresh) need not import
SQLAlchemy, SQLModel and pydantic before its first batch, which the writer waits for
(BENCHMARKS.md, issue 23). These tests keep the written-out numbers equal to the columns (a longer
value was a database error on PostgreSQL), and the reader's imports free of that stack.
"""

from __future__ import annotations

import json
import subprocess
import sys

from experiments import rows
from nudge.models import AllocatedUnit, Case, Hearing, Participant
from nudge.models.types import column_length
from tests.conftest import ROOT


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
