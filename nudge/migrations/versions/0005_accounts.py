"""accounts managed in the browser: last login, a session epoch, one-time set-password links

Revision ID: r8_accounts
Revises: r7_login_tables
Create Date: 2027-01-10

`session_epoch` starts at 0 for everyone, so sessions open across the upgrade stay open;
disabling an account or setting its password raises it, which ends them.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import nudge.models.types

revision = "r8_accounts"
down_revision = "r7_login_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_login_at", nudge.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "password_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", nudge.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", nudge.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", nudge.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("password_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_link_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("password_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_link_user_id"))
    op.drop_table("password_link")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
        batch_op.drop_column("last_login_at")
