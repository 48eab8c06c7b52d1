"""a note on what was done about a reply for staff

Revision ID: r9_reply_note
Revises: r8_accounts
Create Date: 2027-01-20

Replies handled before this revision have no note: the pages say so rather than invent one.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "r9_reply_note"
down_revision = "r8_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("handled_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.drop_column("handled_note")
