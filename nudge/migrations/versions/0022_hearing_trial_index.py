"""hearing trial index: dropped, as no query needs it and every import paid for it

Revision ID: r25_hearing_trial_index
Revises: r24_same_trial_keys
Create Date: 2027-02-21

0001 indexed `hearing.trial_id` alone. No query filters hearings by trial: each reaches them
from its case (`hearing.case_id`, indexed), or from a message's hearing. Every case an import
adds still paid for it: on SQLite about a tenth of the hearings' insert time at a million rows,
and 3% of the database (BENCHMARKS.md, issue 23). The same-trial key (case_id, trial_id) that
refers to the case keeps each hearing in its case's trial; it needs no index of its own here.
"""

from __future__ import annotations

from alembic import op

revision = "r25_hearing_trial_index"
down_revision = "r24_same_trial_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_hearing_trial_id", table_name="hearing")


def downgrade() -> None:
    op.create_index("ix_hearing_trial_id", "hearing", ["trial_id"])
