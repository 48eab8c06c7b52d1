"""allocation sets: the arms open when each unit was allocated; how a breach's mail went

Revision ID: r19_allocation_sets
Revises: r18_pauses
Create Date: 2027-01-30

`open_arms` on `allocated_unit` and `assignment`: the arm keys open to allocation when the unit
was allocated, joined by `,` in declared order, or NULL when every arm was open (every row
before this revision, and every allocation while no arm is excluded from enrolment). `mail` on
`guardrail_breach`: `sent`, `not_configured` or `failed`; NULL for a breach recorded before
this revision (the audit log has what became of its mail).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "r19_allocation_sets"
down_revision = "r18_pauses"
branch_labels = None
depends_on = None

TABLES = ("allocated_unit", "assignment")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "open_arms", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True
                )
            )
    with op.batch_alter_table("guardrail_breach", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mail", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("guardrail_breach", schema=None) as batch_op:
        batch_op.drop_column("mail")
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("open_arms")
