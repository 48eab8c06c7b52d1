"""participant site index: dropped, as no query needs it and every import paid for it

Revision ID: r23_participant_site_index
Revises: r22_reply_placement
Create Date: 2027-02-14

0018 indexed `participant.site_id` alone. Every query that reads it also names the trial, which
the unique index on (trial_id, participant_ref, case_id) finds; an organisation's sites are
few, so the index could not narrow much anyway. Each person enrolled still paid for it: about
7% of SQLite's participant inserts at a million rows (BENCHMARKS.md, issue 23). `case.site_id`
never had one.
"""

from __future__ import annotations

from alembic import op

revision = "r23_participant_site_index"
down_revision = "r22_reply_placement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_participant_site_id", table_name="participant")


def downgrade() -> None:
    op.create_index("ix_participant_site_id", "participant", ["site_id"])
