"""The engine, the session scope, and schema migrations (Alembic, never create_all)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from nudge.errors import ConfigError
from nudge.jsontext import encode_json

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision: what every command checks the database against before it
# starts. Written here so that the check costs one query, not Alembic's import and a read of
# every migration script (a fifth of a second of `nudge dispatch`, run every minute);
# test_migrations checks it is Alembic's head, so a new migration cannot be forgotten here.
HEAD_REVISION = "r25_hearing_trial_index"
# Any fixed number: concurrent processes on PostgreSQL take turns at migrating.
_MIGRATION_LOCK = 7_316_402


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for SQLite (WAL, foreign keys, a busy timeout) or PostgreSQL (psycopg 3).

    Its JSON is compact text (`encode_json`), whether the ORM or a bulk insert writes it.
    """
    kwargs.setdefault("json_serializer", encode_json)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # 16 KiB pages for a new database (SQLite's default is 4 KiB; an existing one keeps its
    # size, which WAL mode fixes): a million-row import's inserts took about 9% less time and
    # its commit about a third less (BENCHMARKS.md, issue 23). Set before WAL, which fixes it.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 256 MB of page cache (used only as needed) instead of SQLite's 2 MB: a million-row import
    # keeps its indexes in memory instead of spilling dirty pages to the WAL again and again.
    cursor.execute("PRAGMA cache_size=-262144")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, always close."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision this release's schema is at: the newest migration's."""
    return HEAD_REVISION


def current_revision(engine: Engine) -> str | None:
    """The database's revision as Alembic recorded it; None for an empty database."""
    with engine.connect() as connection:
        return _recorded_revision(connection)


def _recorded_revision(connection: Connection) -> str | None:
    """What Alembic's MigrationContext.get_current_revision reads, without importing it."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(found) > 1:
        raise ConfigError(
            f"The database records {len(found)} schema revisions ({', '.join(found)}) in "
            "alembic_version, where Nudge keeps one; it was not made by `nudge db upgrade`. "
            "Restore it from a backup, or ask whoever changed it."
        )
    return found[0] if found else None


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest revision; return True when anything was applied."""
    from alembic import command

    with _migrating(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        if _recorded_revision(connection) == head_revision():
            return False  # nothing ran: no keys to check (a whole-database scan on SQLite)
        command.upgrade(_alembic_config(connection), "head")
        _check_foreign_keys(connection)
        return True


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` (tests of migrations; no command offers it)."""
    from alembic import command

    with _migrating(engine) as connection:
        command.downgrade(_alembic_config(connection), revision)
        _check_foreign_keys(connection)


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in the migrations' one transaction, with SQLite's foreign keys off around
    it (`_foreign_keys_off`); the caller checks the keys before the transaction commits."""
    with engine.connect() as connection, _foreign_keys_off(connection), connection.begin():
        yield connection


@contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    """On SQLite, foreign keys off while migrations run, on again after (PostgreSQL: nothing).

    A migration that copies a table others refer to (Alembic's batch mode: create, copy, drop,
    rename) cannot run with them on: dropping the old table would delete its rows under the
    rows referring to them. SQLite ignores the pragma inside a transaction, so it is set before
    the migrations' transaction and reset after it; `_check_foreign_keys` checks every key
    before that transaction commits (https://sqlite.org/lang_altertable.html#otheralter).
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    _pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        _pragma(connection, "PRAGMA foreign_keys=ON")


def _pragma(connection: Connection, pragma: str) -> None:
    connection.exec_driver_sql(pragma)
    connection.commit()  # ends the transaction SQLAlchemy began for it (SQLite began none)


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL checks each key as a migration adds it
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        table, row, parent, _ = broken[0]
        raise ConfigError(
            f"The migration left {len(broken)} row(s) referring to rows that do not exist, such "
            f"as row {row} of {table} (its {parent}); nothing was changed."
        )


def prepare_schema(engine: Engine, *, migrate: bool) -> None:
    """Bring the schema to this release's revision when `migrate`, else refuse one that is not.

    Settings decide `migrate` (`Settings.migrates_at_start`): development upgrades by itself;
    production leaves the schema to its own step, `nudge db upgrade`, and a web app or a command
    that finds an empty or older database stops with a ConfigError naming that step, having
    changed nothing and let go of the engine's connections. Cheap when the schema is current.
    """
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if migrate:
        upgrade(engine)
        return
    engine.dispose()
    found = f"at revision {current}" if current else "empty (no schema at all)"
    raise ConfigError(
        f"The database is {found}; this release needs revision {head}. Run "
        "`nudge db upgrade` (with the same NUDGE_DATABASE_URL) first, "
        "or set NUDGE_AUTO_MIGRATE=1 to upgrade automatically."
    )
