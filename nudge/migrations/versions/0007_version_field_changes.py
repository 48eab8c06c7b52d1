"""each amendment's field changes, old and new value, as shown before it was saved

Revision ID: r10_version_field_changes
Revises: r9_reply_note
Create Date: 2027-01-12

Versions stored before this have none (`[]`); their changed fields are still listed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r10_version_field_changes"
down_revision = "r9_reply_note"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trial_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("field_changes", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("trial_version", schema=None) as batch_op:
        batch_op.drop_column("field_changes")
