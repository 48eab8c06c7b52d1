"""The Flask app factory: the composition root for web requests."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from sqlalchemy import text

from nudge.clock import clock_from_setting
from nudge.config import Settings, load_settings
from nudge.db import ensure_schema, make_engine


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the app from settings (read from the environment when not given)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.environment == "production",
        **overrides,
    )
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    app.extensions["nudge"] = {
        "settings": settings,
        "engine": engine,
        "clock": clock_from_setting(settings.now),
    }

    @app.get("/healthz")
    def healthz() -> Any:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return jsonify(status="ok")

    return app
