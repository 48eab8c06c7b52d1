"""The example trial with one outcome of each type that is not yes/no, for tests that record,
read and show numbers: a 1 to 5 confidence scale with words for three points, a count of calls
and the hours a witness waited at court (witnesses only)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import EXAMPLE

TYPED_OUTCOMES = """\
  - id: confidence
    type: scale
    label: confidence
    scale:
      min: 1
      max: 5
      labels: {1: not at all confident, 3: Fairly confident, 5: very confident}
  - {id: calls, type: count, better: lower, label: calls to the care unit}
  - id: waited
    type: continuous
    better: lower
    label: hours waited
    population: {field: role, equals: witness}
"""


def typed_example(folder: Path, primary: str = "attended") -> Path:
    """A copy of the example trial (same id) whose outcomes add the three typed ones;
    `primary` names the primary outcome: attendance, as in the example, or confidence."""
    target = folder / "typed-example"
    shutil.copytree(EXAMPLE.parent, target)
    definition = target / EXAMPLE.name
    lines = definition.read_text(encoding="utf-8").splitlines(keepends=True)
    after = next(i for i, line in enumerate(lines) if line.startswith("  - {id: withdrew"))
    lines.insert(after + 1, TYPED_OUTCOMES)
    text = "".join(lines)
    if primary != "attended":
        text = text.replace("{id: attended, primary: true,", "{id: attended,")
        text = text.replace(f"id: {primary}\n", f"id: {primary}\n    primary: true\n")
        # A difference in means, not a rate, sizes a trial whose primary outcome is not yes/no.
        text = text.replace(
            "  minimum_detectable_effect: 0.05\n  baseline_rate: 0.75\n",
            "  minimum_detectable_difference: 0.3\n  outcome_sd: 1.2\n",
        )
    definition.write_text(text, encoding="utf-8")
    return definition
