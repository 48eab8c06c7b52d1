"""The example trial declaring case milestones, and exports that carry their dates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.factories import PEOPLE_COLUMNS, write_people

# charged and verdict come on the enrolment export; trial_listed only by `milestones update`.
MILESTONES = """\
milestones:
  - {name: charged, column: charge_date}
  - trial_listed
  - {name: verdict, column: verdict_date}
"""
MILESTONE_COLUMNS = [*PEOPLE_COLUMNS, "charge_date", "verdict_date"]


def milestone_trial(example_dir: Path) -> Path:
    """The example trial (a writable copy in `example_dir`) with MILESTONES declared."""
    path = example_dir / "witness-reminders.yaml"
    path.write_text(path.read_text() + MILESTONES)
    return path


def write_people_with_milestones(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """An export with the milestone columns after the usual ones."""
    return write_people(path, rows, columns=MILESTONE_COLUMNS)
