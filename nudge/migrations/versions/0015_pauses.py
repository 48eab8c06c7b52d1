"""pauses: an arm, or a whole trial, paused and resumed, its messages held meanwhile

Revision ID: r18_pauses
Revises: r17_guardrails
Create Date: 2027-01-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nudge.models.types import UTCDateTime

revision = "r18_pauses"
down_revision = "r17_guardrails"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pause",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.String(length=100), nullable=False),
        sa.Column("arm_key", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("paused_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("paused_by", sa.String(length=255), nullable=False),
        sa.Column("resumed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("resumed_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pause_trial_id", "pause", ["trial_id"])


def downgrade() -> None:
    op.drop_index("ix_pause_trial_id", table_name="pause")
    op.drop_table("pause")
