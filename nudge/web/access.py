"""Who may see what: every route names the roles allowed, and nothing is open by accident.

Roles belong to organisations (nudge.scope): on a route whose address names a trial (or a
reply to one), the role that counts is the person's role in that trial's organisation, and a
trial outside their organisations is a 404, as if it did not exist. Elsewhere, the most capable
role they hold anywhere that the route allows. The role found is `current_user.role` for the
rest of the request (navigation, rounding of results), and the scope is `current_scope()`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g
from flask_login import current_user

from nudge import scope
from nudge.errors import NotFound
from nudge.models import Trial

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"  # login page, health check, static files
WEBHOOK = "webhook"  # unauthenticated, but every request's signature is checked
ALL_STAFF = ("admin", "researcher", "lead")


def allow(*roles: str) -> Callable[[F], F]:
    """Mark a view with the roles that may use it; others get 403, strangers go to log in, and
    a trial (or reply) outside the person's organisations is 404."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if PUBLIC in roles or WEBHOOK in roles:
                return view(*args, **kwargs)
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            role = _role_here(current_scope(), roles, kwargs)
            if role not in roles:
                abort(403)
            g.role = role
            return view(*args, **kwargs)

        guarded.allowed_roles = roles  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def current_scope() -> scope.Scope:
    """The logged-in person's scope, read once per request."""
    if "scope" not in g:
        g.scope = (
            scope.scope_of(g.db, int(current_user.id))
            if current_user.is_authenticated
            else scope.NOBODY
        )
    return g.scope


def trial_they_run(trial_id: str) -> Trial:
    """The trial, for a page that changes it (launch, amend, pause, resume): 404 when it is not
    theirs to see, 403 when they see it but may not change it (another site's researcher of a
    multi-site trial, nudge.scope.runs_trial)."""
    within = current_scope()
    try:
        trial, _ = scope.trial_role(g.db, within, trial_id)
    except NotFound:
        abort(404)
    if not scope.runs_trial(within, trial):
        abort(403)
    return trial


def _role_here(within: scope.Scope, roles: tuple[str, ...], kwargs: dict[str, Any]) -> str | None:
    """The person's role for this request; aborts 404 on a trial or reply they cannot see."""
    trial_id = kwargs.get("trial_id")
    if "reply_id" in kwargs:
        exists, trial_id = scope.reply_trial_id(g.db, kwargs["reply_id"])
        if not exists:
            abort(404)
    if trial_id is not None:
        try:
            return scope.trial_role(g.db, within, trial_id)[1]
        except NotFound:
            abort(404)
    held = within.held()
    return next((role for role in held if role in roles), held[0] if held else None)


def allowed_roles(view: Callable[..., Any]) -> tuple[str, ...] | None:
    """The roles a view declared, or None when it declared none (a test fails on that)."""
    return getattr(view, "allowed_roles", None)
