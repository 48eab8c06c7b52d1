"""The report on a flat file loads no database model: `nudge analyse --data` and
bench/analyse.py read a CSV and a definition, and SQLModel with every table took about 0.75 s
of that process's start (issue 23). Whatever the report reaches on that path (the definition,
the frame, the report's sections) must import the models only where the database is used.

Each probe runs in a fresh interpreter, since this one has long since imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

DATABASE = ("sqlmodel", "sqlalchemy", "nudge.models")
PROBE = f"""
import json, sys
import analysis.analyse, analysis.report
print(json.dumps(sorted(m for m in {DATABASE!r} if m in sys.modules)))
"""


def test_the_flat_file_report_imports_no_database_model() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
