"""sites: multi-site trials, the organisations each runs in, and each case's and person's site

Revision ID: r21_sites
Revises: r20_organisations
Create Date: 2027-02-10

`trial_site` lists the organisations of a trial's `sites:` (docs/trial-definition.md), whose
staff see the trial and, of its people, only their own site's. `site_id` on `case` and
`participant` is the organisation whose import brought them; NULL in a trial in one area, which
every trial before this revision is. The columns are added in place (SQLite cannot add a NOT
NULL foreign key without copying the table, which others refer to), as 0017 added the trial's
organisation.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "r21_sites"
down_revision = "r20_organisations"
branch_labels = None
depends_on = None

PEOPLE = ("case", "participant")


def upgrade() -> None:
    op.create_table(
        "trial_site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.id"]),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trial_id", "organisation_id"),
    )
    op.create_index("ix_trial_site_trial_id", "trial_site", ["trial_id"])
    op.create_index("ix_trial_site_organisation_id", "trial_site", ["organisation_id"])
    for table in PEOPLE:
        op.add_column(
            table,
            sa.Column("site_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=True),
            inline_references=True,
        )
    op.create_index("ix_participant_site_id", "participant", ["site_id"])


def downgrade() -> None:
    op.drop_index("ix_participant_site_id", table_name="participant")
    for table in PEOPLE:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("site_id")
    op.drop_index("ix_trial_site_organisation_id", table_name="trial_site")
    op.drop_index("ix_trial_site_trial_id", table_name="trial_site")
    op.drop_table("trial_site")
