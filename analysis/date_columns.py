"""The names of the frame's date columns beside the outcomes (analysis/outcome_dates.py).

Apart from analysis/outcome_dates.py, which reads and stores them with the database models,
so that the report (analysis/time_to_event.py) can name them without loading those models.
"""

from __future__ import annotations

CHARGED = "charged_on"
CHARGED_MILESTONE = "charged"
# Where each person's charge came from, in the frame beside `charged_on` when the trial
# declares a `charged` milestone: "milestone" or "outcome file" (blank: no charge date).
CHARGED_FROM = "charged_from"
FROM_MILESTONE, FROM_FILE = "milestone", "outcome file"
EVENT_DATE_SUFFIX = "_on"


def date_column(outcome_id: str) -> str:
    """The column holding the day an outcome's event happened: `withdrew` → `withdrew_on`."""
    return f"{outcome_id}{EVENT_DATE_SUFFIX}"
