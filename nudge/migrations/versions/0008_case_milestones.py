"""case milestones (charged, verdict...) with their history

Revision ID: r11_case_milestones
Revises: r10_version_field_changes
Create Date: 2027-01-27

A new table: cases enrolled before it have no milestones recorded, and none are invented.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import nudge.models.types

revision = "r11_case_milestones"
down_revision = "r10_version_field_changes"
branch_labels = None
depends_on = None

_CURRENT = sa.text("replaced_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "case_milestone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("occurred_at", nudge.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", nudge.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("is_correction", sa.Boolean(), nullable=False),
        sa.Column("replaced_at", nudge.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_milestone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_milestone_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ux_case_milestone_current",
            ["case_id", "name"],
            unique=True,
            sqlite_where=_CURRENT,
            postgresql_where=_CURRENT,
        )


def downgrade() -> None:
    with op.batch_alter_table("case_milestone", schema=None) as batch_op:
        batch_op.drop_index("ux_case_milestone_current")
        batch_op.drop_index(batch_op.f("ix_case_milestone_case_id"))
    op.drop_table("case_milestone")
