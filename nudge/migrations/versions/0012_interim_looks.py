"""interim looks: each planned or unplanned look at a trial's comparison, kept as it was

Revision ID: r15_interim_looks
Revises: r14_outcome_numbers
Create Date: 2027-01-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nudge.models.types import UTCDateTime

revision = "r15_interim_looks"
down_revision = "r14_outcome_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interim_look",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.String(length=100), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("looked_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome_key", sa.String(length=100), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=False),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.Column("critical", sa.Float(), nullable=False),
        sa.Column("arms", sa.JSON(), nullable=False),
        sa.Column("looked_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trial_id", "number", name="uq_interim_look_number"),
    )
    op.create_index("ix_interim_look_trial_id", "interim_look", ["trial_id"])


def downgrade() -> None:
    op.drop_index("ix_interim_look_trial_id", table_name="interim_look")
    op.drop_table("interim_look")
