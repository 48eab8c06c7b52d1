"""Logging in and out: a generic message on failure, a fresh session on success."""

from __future__ import annotations

import secrets

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
            login_user(LoginUser(user))
            return redirect(_safe_next(request.args.get("next")))
        flash(FAILED, "error")
    return render_template("login.html", form=form), 200 if request.method == "GET" else 401


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
    """Only a path on this site: never send someone elsewhere after logging in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
