"""statsmodels is loaded by the statistics that use it, never by starting a ``nudge`` command."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import nudge.cli
before = sorted(m for m in sys.modules if m.split(".")[0] == "statsmodels")
from analysis.stats import wilson_interval
wilson_interval(3, 10)
after = any(m.split(".")[0] == "statsmodels" for m in sys.modules)
print(before, after)
"""


def test_nudge_commands_start_without_loading_statsmodels() -> None:
    found = subprocess.run(
        [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True
    ).stdout.split()
    assert found == ["[]", "True"]
