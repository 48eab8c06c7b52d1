"""The app factory builds a working app from settings, migrating an empty database."""

from __future__ import annotations

from pathlib import Path

from nudge.config import load_settings
from nudge.db import current_revision, head_revision
from nudge.web import create_app


def test_the_app_starts_on_an_empty_database_and_reports_health(tmp_path: Path) -> None:
    settings = load_settings({"NUDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}"})
    app = create_app(settings)
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    engine = app.extensions["nudge"]["engine"]
    assert current_revision(engine) == head_revision()
    engine.dispose()
