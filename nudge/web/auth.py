"""Logging in and out: a generic message on failure, a fresh session on success."""

from __future__ import annotations

import secrets
import unicodedata
from urllib.parse import unquote, urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from nudge.accounts import LoginThrottled, authenticate, end_web_session
from nudge.web import LoginUser
from nudge.web.access import ALL_STAFF, PUBLIC, allow

bp = Blueprint("auth", __name__)
SESSION_ID = "_nudge_sid"  # random per login; logging out revokes it (nudge.accounts)
SESSION_EPOCH = "_nudge_epoch"  # the user's epoch at login: disabling the user raises it
FAILED = "The email or password is not right, or the account is locked for 15 minutes."


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])


@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        clock = current_app.extensions["nudge"]["clock"]
        try:
            user = authenticate(
                g.db,
                clock,
                form.email.data or "",
                form.password.data or "",
                source=f"web:{request.remote_addr}",
            )
        except LoginThrottled as refused:
            g.db.commit()  # the refusal is on record
            flash(str(refused), "error")
            return render_template("login.html", form=form), 429
        g.db.commit()
        if user is not None:
            session.clear()  # a new session on login: nothing from before survives it
            session[SESSION_ID] = secrets.token_urlsafe(24)
            session[SESSION_EPOCH] = user.session_epoch
            login_user(LoginUser(user))
            return redirect(_safe_next(request.args.get("next")))
        flash(FAILED, "error")
    elif form.is_submitted():  # a field check failed: say so, as a wrong password would
        empty = not (form.email.data and form.password.data)
        flash("Enter your email address and password." if empty else FAILED, "error")
    # Only a submitted form failed; GET and HEAD (which Flask answers as GET) just show the form.
    return render_template("login.html", form=form), 401 if form.is_submitted() else 200


@bp.post("/logout")
@allow(*ALL_STAFF)
def logout() -> ResponseReturnValue:
    if SESSION_ID in session:
        clock = current_app.extensions["nudge"]["clock"]
        end_web_session(g.db, clock, session[SESSION_ID], actor=f"web:{request.remote_addr}")
        g.db.commit()
    logout_user()
    session.clear()
    flash("You have logged out.", "info")
    return redirect("/login")


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never send someone elsewhere after logging in.

    Browsers drop tabs and newlines from a URL, read a backslash as a slash and `/%2F` may be
    decoded by a proxy, so the target is judged as written, fully percent-decoded and in NFKC
    form (full-width solidus): each must be a path starting with one "/", with no scheme, no
    host, no control, format or space characters and no backslash. Anything else goes home.
    """
    if not target or len(target) > 2000:
        return "/"
    forms = [target]
    for _ in range(5):  # %252F is %2F is /: decode until nothing changes
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    else:
        return "/"  # encoded more deeply than any real link is
    forms.append(unicodedata.normalize("NFKC", forms[-1]))
    return target if all(_local_path(form) for form in forms) else "/"


def _local_path(path: str) -> bool:
    if "\\" in path or any(unicodedata.category(c)[0] in "CZ" for c in path):
        return False  # control (Cc), format (Cf), unassigned or surrogate (Cn, Cs), spaces (Z*)
    if not path.startswith("/") or path.startswith("//"):
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc
