"""reply placement: the organisation the platform operator gave a reply no organisation could
be told

Revision ID: r22_reply_placement
Revises: r21_sites
Create Date: 2027-02-12

A text from a number that matches no participant, sent to a number no trial sends from, is no
organisation's and shown to no one (docs/security.md). `nudge replies place ID --org SLUG` sets
`inbound_message.organisation_id`, and that organisation's researchers then see it in their
*Replies from numbers in no trial* queue. Every reply before this revision is unplaced (NULL).
The column is added in place, as 0017 added the trial's organisation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r22_reply_placement"
down_revision = "r21_sites"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "inbound_message",
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=True),
        inline_references=True,
    )


def downgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch_op:
        batch_op.drop_column("organisation_id")
