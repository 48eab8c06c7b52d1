"""answers to survey questions asked by text

Revision ID: r16_surveys
Revises: r15_interim_looks
Create Date: 2027-01-28

A new table: each reply routed to a survey question, with what it counts as. The questions
themselves are message rows (template survey:ID), so nothing else changes.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import nudge.models.types

revision = "r16_surveys"
down_revision = "r15_interim_looks"
branch_labels = None
depends_on = None

_COUNTED = sa.text("status = 'counted'")


def upgrade() -> None:
    op.create_table(
        "survey_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("value", sa.Boolean(), nullable=True),
        sa.Column("number", sa.Float(), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("received_at", nudge.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_message.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"]),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("survey_answer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_answer_trial_id"), ["trial_id"], unique=False)
        batch_op.create_index(
            "ix_survey_answer_person", ["participant_id", "survey_id"], unique=False
        )
        batch_op.create_index(
            "ux_survey_answer_counted",
            ["participant_id", "survey_id"],
            unique=True,
            sqlite_where=_COUNTED,
            postgresql_where=_COUNTED,
        )


def downgrade() -> None:
    with op.batch_alter_table("survey_answer", schema=None) as batch_op:
        batch_op.drop_index("ux_survey_answer_counted")
        batch_op.drop_index("ix_survey_answer_person")
        batch_op.drop_index(batch_op.f("ix_survey_answer_trial_id"))
    op.drop_table("survey_answer")
