"""Researchers' messaging pages: the message log and the opt-outs (replies: reply_pages.py).

Each shows participant-level data, so each view is written to the audit log: who looked, at
what, with which filters. The log itself never holds a name, a number or a reference: a
reference filter is recorded as the internal ids of the participants it matched.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import col, select
from wtforms import DateField, StringField
from wtforms.validators import AnyOf, Length, Optional, Regexp, ValidationError

from experiments import trials
from experiments.dates import RANGE_TEXT, in_range
from messages.inbox import opt_outs
from messages.log import LogFilters, message_log, reasons_in
from nudge import audit
from nudge.errors import NotFound
from nudge.models import MESSAGE_STATUSES, Arm, MessageStatus, Trial
from nudge.web.access import allow

bp = Blueprint("message_pages", __name__)
RESEARCHER = "researcher"
CHANNELS = ("sms", "letter")


def within_trial_dates(form: Any, field: Any) -> None:
    """A date filter inside the range a trial accepts (a day past 9999-12-31 cannot be built)."""
    if field.data and not in_range(field.data):
        raise ValidationError(f"enter a date {RANGE_TEXT}")


class LogFilterForm(FlaskForm):
    """The message log's filters: read from the query string, so a filtered view is a link."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    status = StringField("Status", validators=[Optional(), AnyOf(MESSAGE_STATUSES)])
    channel = StringField("Channel", validators=[Optional(), AnyOf(CHANNELS)])
    arm = StringField("Arm", validators=[Optional(), Length(max=100)])
    reason = StringField("Reason code", validators=[Optional(), Length(max=50)])
    due_from = DateField("Due from", validators=[Optional(), within_trial_dates])
    due_to = DateField("Due to", validators=[Optional(), within_trial_dates])
    ref = StringField(
        "Participant reference",
        validators=[Optional(), Length(max=100), Regexp(r"^\S+$", message="no spaces")],
    )
    arm_keys: tuple[str, ...] = ()

    def validate_arm(self, field: Any) -> None:
        if field.data and field.data not in self.arm_keys:
            raise ValidationError(f"no arm '{field.data}' in this trial")

    def validate_reason(self, field: Any) -> None:
        if field.data and not field.data.replace("_", "").isalnum():
            raise ValidationError("not a reason code such as opted_out")

    def validate_due_to(self, field: Any) -> None:
        if field.data and self.due_from.data and field.data < self.due_from.data:
            raise ValidationError("the end date is before the start date")


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 else 1


@bp.get("/trials/<trial_id>/messages")
@allow(RESEARCHER)
def message_log_page(trial_id: str) -> ResponseReturnValue:
    trial = _trial(trial_id)
    zone = ZoneInfo(trials.current_definition(g.db, trial).timezone)
    form = LogFilterForm(formdata=request.args)
    arms = g.db.exec(select(Arm).where(Arm.trial_id == trial_id).order_by(col(Arm.position)))
    arm_choices = [(a.key, a.title) for a in arms]
    form.arm_keys = tuple(key for key, _ in arm_choices)
    choices = {
        "status": [(s, s) for s in MESSAGE_STATUSES],
        "channel": [("sms", "SMS"), ("letter", "letter")],
        "arm": arm_choices,
        "reason": [(r, r) for r in reasons_in(g.db, trial_id)],
    }
    valid = form.validate() if request.args else True
    filters = _filters(form) if valid else LogFilters()
    result = message_log(g.db, trial_id, zone, filters, page=_page_number())
    given = filters.given()
    if "participant_ref" in given:
        given["participant_ref"] = f"participant ids {result.participant_ids}"
    _audit("messages.viewed", trial_id, filters=given, page=result.page, shown=len(result.rows))
    page = render_template(
        "researcher/messages.html",
        trial=trial,
        zone=zone,
        form=form,
        result=result,
        args={k: v for k, v in request.args.items() if k != "page"},
        statuses=MESSAGE_STATUSES,
        choices=choices,
    )
    return page, 200 if valid else 400


def _filters(form: LogFilterForm) -> LogFilters:
    return LogFilters(
        status=MessageStatus(form.status.data) if form.status.data else None,
        channel=form.channel.data or None,
        arm=form.arm.data or None,
        reason=form.reason.data or None,
        due_from=form.due_from.data,
        due_to=form.due_to.data,
        participant_ref=form.ref.data or None,
    )


@bp.get("/opt-outs")
@allow(RESEARCHER)
def opt_outs_page() -> ResponseReturnValue:
    result = opt_outs(g.db, page=_page_number())
    _audit("opt_outs.viewed", None, page=result.page, shown=len(result.rows))
    return render_template("researcher/opt_outs.html", result=result)


def _audit(action: str, trial_id: str | None, **details: Any) -> None:
    clock = current_app.extensions["nudge"]["clock"]
    audit.record(
        g.db,
        clock,
        actor=f"web:{current_user.email}",
        action=action,
        trial_id=trial_id,
        details=details,
    )
    g.db.commit()


def _trial(trial_id: str) -> Trial:
    try:
        return trials.get_trial(g.db, trial_id)
    except NotFound:
        abort(404)
