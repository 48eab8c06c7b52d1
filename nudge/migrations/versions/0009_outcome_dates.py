"""an outcome's dates: when its event happened and the charge date time is counted from

Revision ID: r12_outcome_dates
Revises: r11_case_milestones
Create Date: 2027-01-24

Outcomes recorded before this revision have no dates: the time-to-event analysis leaves them
out and says so, rather than invent a date.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r12_outcome_dates"
down_revision = "r11_case_milestones"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurred_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("charged_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.drop_column("charged_on")
        batch_op.drop_column("occurred_on")
