"""The Flask app factory: the composition root for web requests."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, request, session
from flask.typing import ResponseReturnValue
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import text
from sqlmodel import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from nudge.accounts import web_session_ended
from nudge.clock import clock_from_setting
from nudge.config import Settings, load_settings
from nudge.db import make_engine, prepare_schema
from nudge.models import NATIONAL, User
from nudge.web.access import PUBLIC, allow, current_scope

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class LoginUser:
    """The logged-in person as Flask-Login sees them: id, email and whether national.

    Roles belong to organisations, so `role` is the one this request found
    (nudge/web/access.py): their role in the organisation of the trial on the page, or
    elsewhere the most capable role they hold that the page allows.
    """

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.id, self.email, self.national = user.id, user.email, user.national

    @property
    def role(self) -> str | None:
        if "role" not in g:
            held = current_scope().held()
            g.role = held[0] if held else None
        return g.role

    @property
    def held(self) -> tuple[str, ...]:
        """Every role they hold in any organisation (the navigation offers each one's pages)."""
        return current_scope().held()

    @property
    def shown_role(self) -> str:
        """What the page header says they are: national, or this page's role."""
        return NATIONAL if self.national else (self.role or "no role")

    def get_id(self) -> str:
        return str(self.id)


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the app from settings (read from the environment when not given)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.environment == "production",
        REMEMBER_COOKIE_SECURE=settings.environment == "production",
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
        **overrides,
    )
    engine = make_engine(settings.database_url)
    prepare_schema(engine, migrate=settings.migrates_at_start)
    app.extensions["nudge"] = {
        "settings": settings,
        "engine": engine,
        "clock": clock_from_setting(settings.now),
    }
    _request_session(app)  # before CSRF's check, so a refusal's page can see who is logged in
    csrf = CSRFProtect(app)
    _login_manager(app)
    app.after_request(_security_headers)
    _register(app, csrf)
    if settings.trust_proxy:
        # Behind one reverse proxy: take the client's address and scheme from its headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    return app


def _login_manager(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = "Please log in to see this page."
    manager.session_protection = "strong"

    @manager.user_loader
    def load(user_id: str) -> LoginUser | None:
        from nudge.web.auth import SESSION_EPOCH, SESSION_ID

        session_id = session.get(SESSION_ID)
        if not session_id or web_session_ended(g.db, session_id):
            return None  # logged out (a copied cookie too), or from before sessions had ids
        user = g.db.get(User, int(user_id)) if user_id.isascii() and user_id.isdigit() else None
        if user is None or not user.active:
            return None
        # Disabled since this login, or its password set since: every such session ends.
        return LoginUser(user) if session.get(SESSION_EPOCH, 0) == user.session_epoch else None


def _request_session(app: Flask) -> None:
    engine = app.extensions["nudge"]["engine"]

    @app.before_request
    def open_session() -> None:
        g.db = Session(engine, expire_on_commit=False)

    @app.teardown_request
    def close_session(error: BaseException | None) -> None:
        db = g.pop("db", None)
        if db is not None:
            if error is not None:
                db.rollback()
            db.close()


def _security_headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.endpoint != "static":
        # Pages may carry personal data: never keep them in a browser's or a proxy's cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def _register(app: Flask, csrf: CSRFProtect) -> None:
    from analysis.overview import bp as overview
    from analysis.pages import bp as results
    from analysis.people_pages import bp as people_pages
    from experiments.pages import bp as trial_pages
    from messages.checks import check_definition
    from messages.notify_webhooks import bp as notify_webhooks
    from messages.pages import bp as message_pages
    from messages.pause_pages import bp as pause_pages
    from messages.reply_pages import bp as reply_pages
    from messages.webhooks import bp as webhooks
    from nudge.web import errors
    from nudge.web.about import bp as about
    from nudge.web.admin import bp as admin
    from nudge.web.audit_pages import bp as audit_pages
    from nudge.web.auth import bp as auth
    from nudge.web.home import bp as home

    errors.init_app(app)
    app.register_blueprint(auth)
    app.register_blueprint(home)
    app.register_blueprint(about)
    app.register_blueprint(admin)
    app.register_blueprint(audit_pages)
    app.register_blueprint(overview)
    app.register_blueprint(results)
    app.register_blueprint(trial_pages, check=check_definition)
    app.register_blueprint(message_pages)
    app.register_blueprint(people_pages)
    app.register_blueprint(reply_pages)
    app.register_blueprint(pause_pages)
    csrf.exempt(webhooks)  # Twilio cannot send a CSRF token; every request's signature is checked
    app.register_blueprint(webhooks)
    csrf.exempt(notify_webhooks)  # Notify sends no CSRF token; every request's token is checked
    app.register_blueprint(notify_webhooks)
    engine = app.extensions["nudge"]["engine"]

    @app.get("/healthz")
    @allow(PUBLIC)
    def healthz() -> ResponseReturnValue:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return jsonify(status="ok")
