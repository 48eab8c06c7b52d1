"""organisations: trials owned by an organisation, staff members of one or more with a role in
each, and national readers who belong to none

Revision ID: r20_organisations
Revises: r19_allocation_sets
Create Date: 2027-02-05

A database from before organisations has one area's trials and staff: they all move into one
organisation, `default` ("Default organisation", rename it with `nudge orgs rename`), each
account keeping the role it had. A database with no trial and no account gets no organisation
here: the first trial or account made makes it (nudge/organisations.py).

`trial.organisation_id` is nullable in the schema only because SQLite cannot add a NOT NULL
column with a foreign key without copying the trial table, which every other table refers to;
every trial is given its organisation when it is made (experiments/trials.py), and this
migration gives one to every trial that exists.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nudge.models.types import UTCDateTime

revision = "r20_organisations"
down_revision = "r19_allocation_sets"
branch_labels = None
depends_on = None

DEFAULT_SLUG = "default"
DEFAULT_NAME = "Default organisation"


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "organisation_id"),
    )
    op.create_index("ix_membership_user_id", "membership", ["user_id"])
    op.create_index("ix_membership_organisation_id", "membership", ["organisation_id"])
    op.add_column(
        "trial",
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=True),
        inline_references=True,
    )
    op.create_index("ix_trial_organisation_id", "trial", ["organisation_id"])
    _move_into_default_organisation()
    op.add_column(
        "user", sa.Column("national", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.drop_column("user", "role")


def _move_into_default_organisation() -> None:
    """Every trial and every account into one organisation, dated from the oldest of them."""
    connection = op.get_bind()
    earliest = connection.execute(
        sa.text(
            'SELECT min(c) FROM (SELECT created_at AS c FROM trial UNION ALL '
            'SELECT created_at AS c FROM "user") AS made'
        )
    ).scalar()
    if earliest is None:
        return  # nothing to move: the first trial or account made will make its organisation
    connection.execute(
        sa.text(
            "INSERT INTO organisation (slug, name, created_at) "
            'SELECT :slug, :name, min(c) FROM (SELECT created_at AS c FROM trial UNION ALL '
            'SELECT created_at AS c FROM "user") AS made'
        ),
        {"slug": DEFAULT_SLUG, "name": DEFAULT_NAME},
    )
    default = connection.execute(
        sa.text("SELECT id FROM organisation WHERE slug = :slug"), {"slug": DEFAULT_SLUG}
    ).scalar_one()
    connection.execute(sa.text("UPDATE trial SET organisation_id = :org"), {"org": default})
    connection.execute(
        sa.text(
            'INSERT INTO membership (user_id, organisation_id, role) SELECT id, :org, role FROM "user"'
        ),
        {"org": default},
    )


def downgrade() -> None:
    """Back to one flat set: each account's role from its first membership (national: lead)."""
    op.add_column(
        "user", sa.Column("role", sa.String(length=20), nullable=False, server_default="lead")
    )
    op.execute(
        'UPDATE "user" SET role = (SELECT m.role FROM membership m WHERE m.user_id = "user".id '
        "ORDER BY m.id LIMIT 1) WHERE EXISTS (SELECT 1 FROM membership m WHERE m.user_id = "
        '"user".id)'
    )
    op.drop_column("user", "national")
    op.drop_index("ix_trial_organisation_id", table_name="trial")
    with op.batch_alter_table("trial") as batch_op:
        batch_op.drop_column("organisation_id")
    op.drop_index("ix_membership_organisation_id", table_name="membership")
    op.drop_index("ix_membership_user_id", table_name="membership")
    op.drop_table("membership")
    op.drop_table("organisation")
