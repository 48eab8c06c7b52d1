"""The app factory builds a working app from settings; it migrates only in development."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from nudge.config import load_settings
from nudge.db import _alembic_config, current_revision, head_revision, make_engine, upgrade
from nudge.errors import ConfigError
from nudge.web import create_app


def test_in_development_the_app_starts_on_an_empty_database_and_reports_health(
    tmp_path: Path,
) -> None:
    settings = load_settings({"NUDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}"})
    app = create_app(settings)
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    engine = app.extensions["nudge"]["engine"]
    assert current_revision(engine) == head_revision()
    engine.dispose()


def _production(url: str, **extra: str) -> dict[str, str]:
    return {
        "NUDGE_DATABASE_URL": url,
        "NUDGE_ENV": "production",
        "NUDGE_SECRET_KEY": "a-long-random-value-for-this-test-only",
        **extra,
    }


def test_in_production_the_app_refuses_an_unmigrated_database_and_names_the_step(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    with pytest.raises(ConfigError) as refused:
        create_app(load_settings(_production(url)))
    message = str(refused.value)
    assert "empty" in message and head_revision() in message
    assert "`nudge db upgrade`" in message
    engine = make_engine(url)
    assert current_revision(engine) is None  # starting the app changed nothing
    assert inspect(engine).get_table_names() == []
    upgrade(engine)  # what `nudge db upgrade` does
    engine.dispose()
    app = create_app(load_settings(_production(url)))
    assert app.test_client().get("/healthz").status_code == 200
    app.extensions["nudge"]["engine"].dispose()


def test_in_production_the_app_refuses_a_database_one_release_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "r6_reply_handled_by")
    engine.dispose()
    with pytest.raises(ConfigError, match="at revision r6_reply_handled_by.*nudge db upgrade"):
        create_app(load_settings(_production(url)))


def test_nudge_auto_migrate_upgrades_at_start_even_in_production(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    app = create_app(load_settings(_production(url, NUDGE_AUTO_MIGRATE="1")))
    engine = app.extensions["nudge"]["engine"]
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_development_can_turn_the_upgrade_at_start_off(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    with pytest.raises(ConfigError, match="nudge db upgrade"):
        create_app(load_settings({"NUDGE_DATABASE_URL": url, "NUDGE_AUTO_MIGRATE": "0"}))
