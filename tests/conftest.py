"""Shared fixtures: a clean database on the engine under test, a pinned clock, the CLI."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session, SQLModel

from nudge.cli import main
from nudge.clock import FixedClock
from nudge.config import _database_url
from nudge.db import make_engine, upgrade
from tests.factories import row_counts
from tests.fakes.twilio_server import FakeTwilioServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "experiments" / "examples" / "witness-reminders.yaml"
EXAMPLE_TRIAL = "witness-reminders-2027"
PINNED = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
POSTGRES_SERVER = os.environ.get(
    "NUDGE_TEST_POSTGRES_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432"
)


def _under_test_url() -> str | None:
    url = os.environ.get("NUDGE_TEST_DATABASE_URL")
    return _database_url(url) if url else None


def postgres_server_or_fail() -> str:
    """The PostgreSQL server URL; without one, fail under CI (never hide the test), else skip."""
    try:
        engine = create_engine(f"{POSTGRES_SERVER}/postgres")
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # any connection failure means no server
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI and is not reachable: {exc}")
        pytest.skip(f"no PostgreSQL server at {POSTGRES_SERVER}")
    return POSTGRES_SERVER


def create_postgres_database(server: str) -> str:
    name = f"nudge_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


@contextmanager
def migrated_postgres_database(server: str) -> Iterator[str]:
    """A fresh PostgreSQL database with every migration applied, dropped afterwards."""
    url = create_postgres_database(server)
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        drop_postgres_database(server, url)


def drop_postgres_database(server: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# The fixtures through which a test reaches the database under test (engine, session, cli, app
# and live_app all depend on db_url, so any of them brings it into a test's fixture closure).
UNDER_TEST_FIXTURES = frozenset({"db_url", "_migrated_template"})
ENGINE_INDEPENDENT = "engine_independent"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that never reaches the database under test `engine_independent`.

    CI runs the suite once on SQLite and again on PostgreSQL with `-m "not
    engine_independent"`: a test that cannot see NUDGE_TEST_DATABASE_URL (pure statistics,
    the demo on its own SQLite file, the R bundle, tests that start their own PostgreSQL
    database) would only run a second time to the same end. Marked by hand on a test that does
    use the database under test, the mark is refused: it would hide the test from PostgreSQL.
    """
    wrongly_marked = []
    for item in items:
        uses_database = bool(UNDER_TEST_FIXTURES & set(getattr(item, "fixturenames", ())))
        if not uses_database:
            item.add_marker(ENGINE_INDEPENDENT)
        elif item.get_closest_marker(ENGINE_INDEPENDENT) is not None:
            wrongly_marked.append(item.nodeid)
    if wrongly_marked:
        raise pytest.UsageError(
            "marked engine_independent but they use the database under test (db_url): "
            + ", ".join(wrongly_marked)
        )


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per test session: a SQLite file to copy, or a PostgreSQL database."""
    under_test = _under_test_url()
    if under_test is None:
        path = tmp_path_factory.mktemp("template") / "nudge.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        yield str(path)
        return
    with migrated_postgres_database(under_test.rsplit("/", 1)[0]) as url:
        yield url


@contextmanager
def _empty_database(template: str, folder: Path) -> Iterator[str]:
    """A copy of the migrated SQLite template in `folder`, or the PostgreSQL one emptied after."""
    if _under_test_url() is None:
        path = folder / "nudge.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    yield template
    engine = make_engine(template)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def db_url(_migrated_template: str, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on the engine under test (NUDGE_TEST_DATABASE_URL or SQLite)."""
    with _empty_database(_migrated_template, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def module_db_url(
    _migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`db_url` shared by every test of one module: seed once, for modules whose tests only read
    (or check that nothing changed). Such a module must not also use `db_url`: on PostgreSQL
    both are the one database, and `db_url` empties it after each test."""
    with _empty_database(_migrated_template, tmp_path_factory.mktemp("module-db")) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(PINNED)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilioServer]:
    """The local fake Twilio server (tests/fakes/twilio_server.py) on a free loopback port."""
    with FakeTwilioServer() as server:
        yield server


class Cli:
    """Runs `nudge ...` in-process against the test database with the clock pinned."""

    def __init__(self, db_url: str, cwd: Path) -> None:
        self.env = {"NUDGE_DATABASE_URL": db_url, "NUDGE_NOW": PINNED.isoformat()}
        self.cwd = cwd

    def __call__(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        previous = Path.cwd()
        os.chdir(self.cwd)
        try:
            return runner.invoke(
                main, list(args), env=self.env, input=input, catch_exceptions=False
            )
        finally:
            os.chdir(previous)

    def launch_example(self) -> Cli:
        """Create and launch the example trial, as staff do; this Cli."""
        assert self("trial", "create", str(EXAMPLE)).exit_code == 0, "create"
        assert self("trial", "launch", EXAMPLE_TRIAL).exit_code == 0, "launch"
        return self

    def row_counts(self) -> dict[str, int]:
        """Rows in every table of this Cli's database, read through an engine of its own."""
        engine = make_engine(self.env["NUDGE_DATABASE_URL"])
        with Session(engine) as session:
            counts = row_counts(session)
        engine.dispose()
        return counts

    def unchanged(self, *args: str, input: str | None = None) -> Result:
        """Run `nudge *args` as __call__ does, asserting that it left every table as it was."""
        before = self.row_counts()
        result = self(*args, input=input)
        assert self.row_counts() == before, f"nudge {' '.join(args)} changed the database"
        return result


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    return Cli(db_url, tmp_path)


@pytest.fixture
def launched(cli: Cli) -> Cli:
    """`cli`, with the example trial created and launched through it."""
    return cli.launch_example()


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    """A writable copy of the example trial and its letters, for tests that edit it."""
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE.parent, target)
    return target


CHROMIUM = os.environ.get("NUDGE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; missing under CI is a failure, not a skip."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Chromium is required under CI and {CHROMIUM} is missing")
        pytest.skip("no Chromium: install it with `apt-get install chromium` (bash .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def app(db_url: str) -> Iterator[Any]:
    """The web app over the test database, on the pinned clock."""
    from tests.web_helpers import make_app  # it imports this module

    app = make_app(db_url)
    yield app
    app.extensions["nudge"]["engine"].dispose()


@pytest.fixture
def live_app(app: Any) -> Iterator[tuple[str, Any]]:
    """The real app served over HTTP on a loopback port, for the browser: (base URL, app)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def staff(session: Session, clock: FixedClock) -> None:
    """One staff member of each role to log in as (STAFF and PASSWORD in tests/web_helpers.py)."""
    from tests.web_helpers import add_staff

    add_staff(session, clock)


@pytest.fixture
def researcher(app: Any, staff: None) -> Any:
    """The app's test client, logged in as the researcher."""
    from tests.web_helpers import logged_in

    return logged_in(app, "researcher")


@pytest.fixture
def site(live_app: tuple[str, Any], staff: None) -> str:
    """The live app's base URL, with `staff` to log in as."""
    return live_app[0]


@pytest.fixture
def results_site(site: str, session: Session, clock: FixedClock, tmp_path: Path) -> str:
    """`site` with the example trial live: 90 people enrolled, messages sent, outcomes in."""
    from tests.trial_factories import seed_trial

    seed_trial(session, clock, tmp_path, people=90)
    return site
