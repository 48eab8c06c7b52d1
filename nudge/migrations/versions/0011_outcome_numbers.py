"""an outcome's value as a number, for outcomes that are not yes/no (scale, count, continuous)

Revision ID: r14_outcome_numbers
Revises: r13_message_anchors
Create Date: 2027-01-26

A yes/no outcome keeps its value in `value`; an answer on a scale, a count or a measurement is
kept in `number`. Outcomes recorded before this revision are all yes/no.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r14_outcome_numbers"
down_revision = "r13_message_anchors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.drop_column("number")
