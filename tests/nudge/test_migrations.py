"""The schema comes only from migrations, on both engines; commands upgrade an empty database."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import nudge.models  # noqa: F401
from nudge.db import current_revision, head_revision, make_engine, upgrade
from tests.conftest import (
    Cli,
    create_postgres_database,
    drop_postgres_database,
    postgres_server_or_fail,
)

CORE_TABLES = {
    "trial",
    "trial_version",
    "send_window",
    "arm",
    "case",
    "hearing",
    "hearing_change",
    "participant",
    "assignment",
    "message",
    "message_event",
    "inbound_message",
    "outcome",
    "audit_event",
    "user",
    "opt_out",
    "stratum_counter",
}


def _upgrade_empty_and_compare(url: str) -> None:
    engine = make_engine(url)
    try:
        assert current_revision(engine) is None
        assert upgrade(engine) is True
        assert current_revision(engine) == head_revision()
        assert CORE_TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        assert drift == [], f"models and migrations disagree: {drift}"
        assert upgrade(engine) is False
    finally:
        engine.dispose()


def test_migrations_build_the_whole_schema_on_an_empty_sqlite_database(tmp_path: Path) -> None:
    _upgrade_empty_and_compare(f"sqlite:///{tmp_path / 'empty.db'}")


def test_migrations_build_the_whole_schema_on_an_empty_postgresql_database() -> None:
    server = postgres_server_or_fail()
    url = create_postgres_database(server)
    try:
        _upgrade_empty_and_compare(url)
    finally:
        drop_postgres_database(server, url)


def test_any_command_upgrades_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = Cli(url, tmp_path)("trial", "list")
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_db_upgrade_reports_whether_anything_changed(tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    assert cli("db", "upgrade").output.strip() == "database upgraded"
    assert cli("db", "upgrade").output.strip() == "database already up to date"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


@pytest.mark.parametrize("table", sorted(CORE_TABLES))
def test_each_core_table_exists_on_the_engine_under_test(engine, table: str) -> None:  # type: ignore[no-untyped-def]
    assert table in inspect(engine).get_table_names()
