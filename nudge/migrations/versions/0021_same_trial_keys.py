"""same-trial keys: a hearing's and a person's case, an assignment's person and arm, an
allocated unit's arm, each referred to with the trial, in one foreign key

Revision ID: r24_same_trial_keys
Revises: r23_participant_site_index
Create Date: 2027-02-16

Before, `participant` had two foreign keys, `case_id → case.id` and `trial_id → trial.id`, and
nothing said the case was in the person's trial; likewise `hearing`, `assignment` (its person
and its arm) and `allocated_unit` (its arm). Now each refers to its parent by
`(parent_id, trial_id) → parent (id, trial_id)`: the parent exists *and* is in the same trial,
and the trial exists because the parent's own `trial_id` refers to it. That is also one check
a row instead of two or three: about 4.4 million checks where there were 7.5 million when the
enrolment benchmark imports a million people, and on PostgreSQL the checks were two thirds of
the server's work (BENCHMARKS.md, issue 23). `case`, `participant` and `arm` get the unique
index on `(id, trial_id)` the new keys refer to.

Names follow PostgreSQL's own (`participant_case_id_fkey`), which SQLite's reflected,
unnamed keys are given here by the naming convention, so one set of steps serves both engines.
SQLite copies each changed table (Alembic's batch mode); `participant` and `hearing` are
referred to by other tables, so `nudge.db.upgrade` runs migrations with SQLite's foreign keys
off and checks every key before it commits (https://sqlite.org/lang_altertable.html#otheralter).
"""

from __future__ import annotations

from alembic import op

revision = "r24_same_trial_keys"
down_revision = "r23_participant_site_index"
branch_labels = None
depends_on = None

# PostgreSQL's default name for a one-column foreign key; SQLite's unnamed ones get it too.
NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}
PARENTS = ("case", "participant", "arm")
# Each table, and the parents it now refers to with the trial.
CHILDREN = {
    "hearing": ("case",),
    "participant": ("case",),
    "assignment": ("participant", "arm"),
    "allocated_unit": ("arm",),
}


def _refuse_sqlite_with_foreign_keys_on() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "Migration 0021 copies tables that others refer to, which SQLite allows only with "
            "its foreign keys off: run it through nudge.db.upgrade (`nudge db upgrade`)."
        )


def upgrade() -> None:
    _refuse_sqlite_with_foreign_keys_on()
    # Every parent's index first: the keys below refer to them (a person's, by the assignments).
    for parent in PARENTS:
        op.create_index(f"ux_{parent}_id_trial_id", parent, ["id", "trial_id"], unique=True)
    for table, parents in CHILDREN.items():
        with op.batch_alter_table(table, naming_convention=NAMES) as batch_op:
            batch_op.drop_constraint(f"{table}_trial_id_fkey", type_="foreignkey")
            for parent in parents:
                batch_op.drop_constraint(f"{table}_{parent}_id_fkey", type_="foreignkey")
                batch_op.create_foreign_key(
                    f"{table}_{parent}_id_trial_id_fkey",
                    parent,
                    [f"{parent}_id", "trial_id"],
                    ["id", "trial_id"],
                )


def downgrade() -> None:
    _refuse_sqlite_with_foreign_keys_on()
    for table, parents in reversed(CHILDREN.items()):
        with op.batch_alter_table(table, naming_convention=NAMES) as batch_op:
            for parent in parents:
                batch_op.drop_constraint(f"{table}_{parent}_id_trial_id_fkey", type_="foreignkey")
                batch_op.create_foreign_key(
                    f"{table}_{parent}_id_fkey", parent, [f"{parent}_id"], ["id"]
                )
            batch_op.create_foreign_key(f"{table}_trial_id_fkey", "trial", ["trial_id"], ["id"])
    for parent in PARENTS:  # once no key refers to them
        op.drop_index(f"ux_{parent}_id_trial_id", table_name=parent)
