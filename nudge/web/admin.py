"""Accounts in the browser, for admins: list, add, change role, disable, enable, unlock, reset.

Each change is one call into nudge.staff, which refuses what must not happen (leaving no
active admin) and puts the change on the audit log with who made it. A set-password link is
shown once, on the page that made it, and never again: only its hash is stored.

Looking is recorded too: the list and an account's page show staff's emails, roles and login
times, so each view goes on the audit log with who looked (and, on one account's page, at whom).

An admin is an admin of their organisations (nudge.scope): they see and change only the
accounts of those organisations, and only their roles there; any other account is a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, RadioField, SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from nudge import audit, staff
from nudge.accounts import AccountError
from nudge.errors import NotFound
from nudge.models import ROLES, Organisation, User
from nudge.organisations import all_organisations, memberships
from nudge.web.access import PUBLIC, allow, current_scope

bp = Blueprint("admin", __name__)
ADMIN = "admin"
ROLE_CHOICES = [
    SelectChoice("admin", "Admin: manages accounts and reads the audit log"),
    SelectChoice("researcher", "Researcher: runs trials and sees participant data"),
    SelectChoice("lead", "Programme lead: reads results only"),
]
assert tuple(choice.value for choice in ROLE_CHOICES) == ROLES


class NewAccountForm(FlaskForm):
    email = EmailField(
        "Email address",
        validators=[DataRequired("Enter their email address"), Length(max=255)],
    )
    role = RadioField("Role", choices=ROLE_CHOICES, validators=[DataRequired("Choose a role")])
    # Shown only to an admin of several organisations: the choices are theirs (_organisations).
    organisation = RadioField(
        "Organisation", choices=[], validators=[DataRequired("Choose an organisation")]
    )


class RoleForm(FlaskForm):
    role = RadioField("Role", choices=ROLE_CHOICES, validators=[DataRequired("Choose a role")])


class ActionForm(FlaskForm):
    """A button that changes an account: only its CSRF token."""


class RemoveForm(ActionForm):
    """The *Remove from* button: its CSRF token, and which of the admin's organisations."""

    organisation = HiddenField(validators=[DataRequired()])


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[DataRequired("Enter a password"), Length(max=1000)]
    )
    confirm = PasswordField(
        "Confirm the password",
        validators=[
            DataRequired("Enter the password again"),
            EqualTo("password", "The two passwords are not the same"),
        ],
    )


@bp.get("/admin/users")
@allow(ADMIN)
def accounts() -> ResponseReturnValue:
    shown = staff.accounts(g.db, _clock(), _administered())
    _record_view("users.viewed", details={"shown": len(shown)})
    return render_template("admin/accounts.html", accounts=shown, organisations=_organisations())


@bp.route("/admin/users/new", methods=["GET", "POST"])
@allow(ADMIN)
def new_account() -> ResponseReturnValue:
    form = NewAccountForm()
    form.organisation.choices = [(o.slug, o.name) for o in _organisations()]
    if len(form.organisation.choices) == 1 and not form.organisation.data:
        form.organisation.data = form.organisation.choices[0][0]  # nothing to choose
    problems: list[tuple[str, str]] = []
    if form.validate_on_submit():
        try:
            link = staff.invite(
                g.db,
                _clock(),
                form.email.data or "",
                form.role.data,
                _actor(),
                organisation=form.organisation.data,
            )
        except AccountError as refused:
            form.email.errors = [str(refused)[0].upper() + str(refused)[1:]]
        else:
            g.db.commit()
            return _show_link(link, added=True)
    problems = [(f"#{name}", errors[0]) for name, errors in form.errors.items()]
    status = 400 if problems else 200
    return render_template("admin/new.html", form=form, problems=problems), status


@bp.get("/admin/users/<int:user_id>")
@allow(ADMIN)
def account(user_id: int) -> ResponseReturnValue:
    user = _user(user_id)
    shown = staff.account(g.db, _clock(), user, _administered())
    form = RoleForm(role=shown.memberships[0][1] if shown.memberships else None)
    # Disabling is platform-wide: an account another organisation shares is only removed.
    assert user.id is not None
    held = [o for o, _ in memberships(g.db, user.id)]
    outside = [o for o in held if o.id not in _administered()]
    ours = [o for o in held if o.id in _administered()] if outside else []
    # The subject is the account's email, as on the changes made to it (nudge.staff).
    _record_view("user.viewed", subject=user.email)
    return render_template(
        "admin/account.html",
        account=shown,
        form=form,
        action=ActionForm(),
        outside=outside,
        removable=[(o, RemoveForm(organisation=o.slug)) for o in ours],
    )


@bp.post("/admin/users/<int:user_id>/role")
@allow(ADMIN)
def change_role(user_id: int) -> ResponseReturnValue:
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose a role.", "error")
        return redirect(f"/admin/users/{user_id}")
    role = form.role.data
    done = _apply(
        user_id,
        lambda u: staff.change_role(g.db, _clock(), u, role, _actor(), _shared_organisation(u)),
    )
    return _back(user_id, done, f"The account is now {role}.")


@bp.post("/admin/users/<int:user_id>/disable")
@allow(ADMIN)
def disable(user_id: int) -> ResponseReturnValue:
    done = _apply(user_id, lambda u: staff.disable(g.db, _clock(), u, _actor(), _administered()))
    return _back(user_id, done, "The account is disabled and its sessions have ended.")


@bp.post("/admin/users/<int:user_id>/enable")
@allow(ADMIN)
def enable(user_id: int) -> ResponseReturnValue:
    done = _apply(user_id, lambda u: staff.enable(g.db, _clock(), u, _actor(), _administered()))
    return _back(user_id, done, "The account can log in again.")


@bp.post("/admin/users/<int:user_id>/remove")
@allow(ADMIN)
def remove(user_id: int) -> ResponseReturnValue:
    """Take an account out of one of the admin's organisations (not another's: a 404)."""
    form = RemoveForm()
    if not form.validate_on_submit():
        abort(400)
    user = _user(user_id)
    where = next((o for o in _organisations() if o.slug == form.organisation.data), None)
    if where is None:
        abort(404)
    try:
        staff.remove_from(g.db, _clock(), user, where, _actor())
    except AccountError as refused:
        flash(str(refused), "error")
        return redirect(f"/admin/users/{user_id}")
    g.db.commit()
    flash(f"{user.email} is no longer in {where.name}; its sessions have ended.", "info")
    still = staff.is_member(g.db, user, _administered())
    return redirect(f"/admin/users/{user_id}" if still else "/admin/users")


@bp.post("/admin/users/<int:user_id>/unlock")
@allow(ADMIN)
def unlock(user_id: int) -> ResponseReturnValue:
    done = _apply(user_id, lambda u: staff.unlock(g.db, _clock(), u, _actor()))
    return _back(user_id, done is not None, "The account is unlocked: they can log in now.")


@bp.post("/admin/users/<int:user_id>/reset")
@allow(ADMIN)
def reset(user_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        link = staff.issue_link(g.db, _clock(), _user(user_id), _actor(), _administered())
    except AccountError as refused:
        flash(str(refused), "error")
        return redirect(f"/admin/users/{user_id}")
    g.db.commit()
    return _show_link(link, added=False)


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@allow(PUBLIC)
def set_password(token: str) -> ResponseReturnValue:
    """Where a set-password link leads: works once, within 24 hours, for whoever holds it."""
    user = staff.link_holder(g.db, _clock(), token)
    if user is None:
        return render_template("admin/link_expired.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            staff.set_password(g.db, _clock(), token, form.password.data or "")
        except AccountError as refused:
            form.password.errors = [str(refused)]
        else:
            g.db.commit()
            flash("Your password is set. Log in with it now.", "info")
            return redirect("/login")
    problems = [(f"#{name}", errors[0]) for name, errors in form.errors.items()]
    page = render_template(
        "admin/set_password.html", form=form, email=user.email, problems=problems
    )
    # The token is in this page's address: never send it on, even to this site's own logs.
    return page, 400 if problems else 200, {"Referrer-Policy": "no-referrer"}


def _show_link(link: staff.IssuedLink, *, added: bool) -> ResponseReturnValue:
    base = current_app.extensions["nudge"]["settings"].public_url or request.host_url
    return render_template("admin/link.html", link=link, url=link.url(base), added=added)


def _apply(user_id: int, change: Any) -> Any:
    """Run one change on the account after the CSRF check; a refusal is flashed, not raised."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        done = change(_user(user_id))
    except AccountError as refused:
        flash(str(refused), "error")
        return None
    g.db.commit()
    return done


def _back(user_id: int, done: Any, message: str) -> ResponseReturnValue:
    if done:
        flash(message, "info")
    elif done is not None:
        flash("Nothing to change: the account was already like that.", "info")
    return redirect(f"/admin/users/{user_id}")


def _user(user_id: int) -> User:
    """The account, when it belongs to an organisation this admin administers; else 404."""
    try:
        user = staff.user_by_id(g.db, user_id)
    except NotFound:
        abort(404)
    if not staff.is_member(g.db, user, _administered()):
        abort(404)
    return user


def _administered() -> set[int]:
    """The organisations the logged-in admin is an admin of."""
    return current_scope().organisation_ids([ADMIN])


def _organisations() -> list[Organisation]:
    ids = _administered()
    return [o for o in all_organisations(g.db) if o.id in ids]


def _shared_organisation(user: User) -> str:
    """Where this admin changes the account's role: the first of their organisations (by short
    name) the account belongs to."""
    assert user.id is not None
    ids = _administered()
    return next(o.slug for o, _ in memberships(g.db, user.id) if o.id in ids)


def _record_view(action: str, **fields: Any) -> None:
    audit.record(g.db, _clock(), actor=_actor(), action=action, **fields)
    g.db.commit()


def _clock() -> Any:
    return current_app.extensions["nudge"]["clock"]


def _actor() -> str:
    return f"web:{current_user.email}"
