"""The audit log for admins: filter by who, action, trial and date; download what matches.

Looking is itself recorded (who looked, with which filters), as every view of the log is a
view of who did what with personal data.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import Length, Optional, ValidationError

from nudge import audit
from nudge.audit_log import AuditFilters, audit_csv, audit_page, choices
from nudge.scope import audit_events_within
from nudge.web.access import allow, current_scope

bp = Blueprint("audit_pages", __name__)
ADMIN = "admin"


class AuditFilterForm(FlaskForm):
    """Read from the query string, so a filtered view is a link (and its download one too)."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    who = StringField(
        "Who (part of the email or address)", validators=[Optional(), Length(max=255)]
    )
    action = StringField("Action", validators=[Optional(), Length(max=100)])
    trial = StringField("Trial", validators=[Optional(), Length(max=100)])
    since = DateField("From (date)", validators=[Optional()])
    until = DateField("To (date)", validators=[Optional()])
    actions: list[str] = []
    trials: list[str] = []

    def validate_action(self, field: Any) -> None:
        if field.data and field.data not in self.actions:
            raise ValidationError("Choose an action from the list")

    def validate_trial(self, field: Any) -> None:
        if field.data and field.data not in self.trials:
            raise ValidationError("Choose a trial from the list")

    def validate_until(self, field: Any) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date")

    def filters(self) -> AuditFilters:
        """The valid filters; an invalid one is dropped, the others still apply."""
        kept = {name: self[name].data or None for name in self._fields if not self[name].errors}
        return AuditFilters(
            who=kept.get("who"),
            action=kept.get("action"),
            trial_id=kept.get("trial"),
            since=kept.get("since"),
            until=kept.get("until"),
        )


@bp.get("/admin/audit")
@allow(ADMIN)
def audit_log() -> ResponseReturnValue:
    form = _form()
    filters = form.filters()
    page = audit_page(g.db, filters, page=_page_number(), within=_within())
    _record("audit.viewed", filters, page=page.page, shown=len(page.rows))
    args = {k: v for k, v in request.args.items() if k != "page"}
    status = 400 if form.errors else 200
    return render_template("admin/audit.html", form=form, result=page, args=args), status


@bp.get("/admin/audit.csv")
@allow(ADMIN)
def audit_download() -> ResponseReturnValue:
    filters = _form().filters()
    _record("audit.downloaded", filters)
    text = audit_csv(g.db, filters, within=_within())
    response = Response(text, mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response


def _form() -> AuditFilterForm:
    form = AuditFilterForm(formdata=request.args)
    form.actions, form.trials = choices(g.db, within=_within())
    if request.args:
        form.validate()
    return form


def _within() -> Any:
    """An admin reads the events of their organisations' trials and people (nudge.scope)."""
    return audit_events_within(current_scope(), [ADMIN])


def _record(action: str, filters: AuditFilters, **details: Any) -> None:
    clock = current_app.extensions["nudge"]["clock"]
    actor = f"web:{current_user.email}"
    audit.record(g.db, clock, actor=actor, action=action, details={**filters.given(), **details})
    g.db.commit()


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 else 1
