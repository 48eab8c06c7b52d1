"""Who may see what: every route names the roles allowed, and nothing is open by accident."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"  # login page, health check, static files
WEBHOOK = "webhook"  # unauthenticated, but every request's signature is checked
ALL_STAFF = ("admin", "researcher", "lead")


def allow(*roles: str) -> Callable[[F], F]:
    """Mark a view with the roles that may use it; others get 403, strangers go to log in."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if PUBLIC in roles or WEBHOOK in roles:
                return view(*args, **kwargs)
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        guarded.allowed_roles = roles  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def allowed_roles(view: Callable[..., Any]) -> tuple[str, ...] | None:
    """The roles a view declared, or None when it declared none (a test fails on that)."""
    return getattr(view, "allowed_roles", None)
