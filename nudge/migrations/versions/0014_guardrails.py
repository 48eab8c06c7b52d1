"""guardrails: each arm's first breach of a safety threshold, and each day's check

Revision ID: r17_guardrails
Revises: r16_surveys
Create Date: 2027-01-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nudge.models.types import UTCDateTime

revision = "r17_guardrails"
down_revision = "r16_surveys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guardrail_breach",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.String(length=100), nullable=False),
        sa.Column("arm_key", sa.String(length=100), nullable=False),
        sa.Column("guardrail", sa.String(length=120), nullable=False),
        sa.Column("detected_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("control_rate", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("excess", sa.Boolean(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trial_id", "arm_key", "guardrail", name="uq_guardrail_breach"),
    )
    op.create_index("ix_guardrail_breach_trial_id", "guardrail_breach", ["trial_id"])
    op.create_table(
        "guardrail_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.String(length=100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("checked_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("breaches", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trial_id", "day", name="uq_guardrail_run_day"),
    )


def downgrade() -> None:
    op.drop_table("guardrail_run")
    op.drop_index("ix_guardrail_breach_trial_id", table_name="guardrail_breach")
    op.drop_table("guardrail_breach")
