"""login failures and ended web sessions in their own tables, out of the audit log

Revision ID: r7_login_tables
Revises: r6_reply_handled_by
Create Date: 2026-12-05

The audit log keeps recording logins and logouts; it is no longer asked on every request.
Failures and ended sessions already in it are copied, so a lockout in progress and a logged-out
cookie stay as they were across the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import nudge.models.types

revision = "r7_login_tables"
down_revision = "r6_reply_handled_by"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ended_web_session",
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ended_at", nudge.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", nudge.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failure_at"), ["at"], unique=False)
        batch_op.create_index("ix_login_failure_email_at", ["email", "at"], unique=False)
        batch_op.create_index("ix_login_failure_source_at", ["source", "at"], unique=False)
    op.execute(
        "INSERT INTO ended_web_session (session_id, ended_at) "
        "SELECT subject, MIN(at) FROM audit_event "
        "WHERE action = 'session.ended' AND subject IS NOT NULL GROUP BY subject"
    )
    op.execute(
        "INSERT INTO login_failure (at, email, source) "
        "SELECT at, subject, actor FROM audit_event "
        "WHERE action = 'login.failed' AND subject IS NOT NULL ORDER BY id"
    )


def downgrade() -> None:
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failure_source_at")
        batch_op.drop_index("ix_login_failure_email_at")
        batch_op.drop_index(batch_op.f("ix_login_failure_at"))
    op.drop_table("login_failure")
    op.drop_table("ended_web_session")
