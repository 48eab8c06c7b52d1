"""what each message is timed from: its anchor, its timing, and the anchor's date

Revision ID: r13_message_anchors
Revises: r12_outcome_dates
Create Date: 2027-01-24

Messages are timed from the hearing or from a case milestone, before or after it, or sent when
something happens to the hearing or a milestone (docs/messages.md). Rows planned before this
revision were all timed before the hearing: they get `hearing` and `before`, and no `anchor_at`
(their `hearing_version` says which date they were planned from). Only columns are added, so
SQLite adds them in place without rebuilding the table.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import nudge.models.types

revision = "r13_message_anchors"
down_revision = "r12_outcome_dates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "anchor",
                sqlmodel.sql.sqltypes.AutoString(length=100),
                nullable=False,
                server_default="hearing",
            )
        )
        batch_op.add_column(
            sa.Column(
                "timing",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="before",
            )
        )
        batch_op.add_column(
            sa.Column("anchor_at", nudge.models.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("anchor_at")
        batch_op.drop_column("timing")
        batch_op.drop_column("anchor")
