"""Commands migrate only in development: in production `nudge db upgrade` is the one step that does.

These tests make their own SQLite files (an empty one, one a release behind), which the
shared migrated database cannot be.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import inspect

from nudge.cli import main
from nudge.db import _alembic_config, current_revision, head_revision, make_engine
from tests.conftest import EXAMPLE, PINNED

TRIAL = "witness-reminders-2027"
OLDER = "r6_reply_handled_by"


def nudge(url: str, *args: str, production: bool, auto_migrate: str | None = None) -> Result:
    """Run `nudge ARGS` on `url`, in production or development, with NUDGE_AUTO_MIGRATE unset
    unless given."""
    env = {
        "NUDGE_DATABASE_URL": url,
        "NUDGE_NOW": PINNED.isoformat(),
        "NUDGE_AUTO_MIGRATE": auto_migrate,
        "NUDGE_ENV": "production" if production else "development",
        "NUDGE_SECRET_KEY": "a-long-random-value-for-tests" if production else None,
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def revision_and_tables(url: str) -> tuple[str | None, list[str]]:
    engine = make_engine(url)
    try:
        return current_revision(engine), sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_in_production_a_command_refuses_an_empty_database_until_nudge_db_upgrade(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'nudge.db'}"
    refused = nudge(url, "trial", "create", str(EXAMPLE), production=True)
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        f"The database is empty (no schema at all); this release needs revision "
        f"{head_revision()}. Run `nudge db upgrade` (with the same NUDGE_DATABASE_URL) first, "
        "or set NUDGE_AUTO_MIGRATE=1 to upgrade automatically."
    ]
    assert revision_and_tables(url) == (None, [])
    upgraded = nudge(url, "db", "upgrade", production=True)
    assert (upgraded.exit_code, upgraded.output) == (0, "database upgraded\n")
    created = nudge(url, "trial", "create", str(EXAMPLE), production=True)
    assert created.exit_code == 0, created.output
    assert TRIAL in nudge(url, "trial", "list", production=True).output


def test_in_production_a_command_refuses_a_database_one_release_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nudge.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), OLDER)
    engine.dispose()
    before = revision_and_tables(url)
    refused = nudge(url, "trial", "create", str(EXAMPLE), production=True)
    assert refused.exit_code == 1
    assert f"The database is at revision {OLDER}" in refused.output
    assert "Run `nudge db upgrade`" in refused.output
    assert len(refused.output.splitlines()) == 1 and "Traceback" not in refused.output
    assert revision_and_tables(url) == before


def test_in_development_a_command_upgrades_an_empty_database_by_itself(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nudge.db'}"
    created = nudge(url, "trial", "create", str(EXAMPLE), production=False)
    assert created.exit_code == 0, created.output
    assert revision_and_tables(url)[0] == head_revision()


def test_nudge_auto_migrate_lets_a_production_command_upgrade_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nudge.db'}"
    result = nudge(url, "trial", "list", production=True, auto_migrate="1")
    assert result.exit_code == 0, result.output
    assert revision_and_tables(url)[0] == head_revision()
