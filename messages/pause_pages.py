"""Researchers' pause page: pause an arm or the whole trial, and resume it (messages/pausing.py).

The same operation as `nudge trial pause|resume`, audited the same way, with the person's
email as the actor. Reached from the trial's Manage page.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, TextAreaField
from wtforms.validators import DataRequired, Length

from experiments import trials
from messages.pages import RESEARCHER
from messages.pausing import active_pauses, pause, resume
from nudge.errors import NudgeError
from nudge.web.access import allow, trial_they_run

bp = Blueprint("pause_pages", __name__)
WHOLE = "whole-trial"
MAX_REASON = 500


class PauseForm(FlaskForm):
    which = RadioField(
        "What to pause",
        validators=[DataRequired(message="Choose the arm to pause, or the whole trial")],
    )
    reason = TextAreaField(
        "Why",
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired(message="Enter why it is paused: it goes in the audit log"),
            Length(max=MAX_REASON, message=f"The reason must be {MAX_REASON} characters or fewer"),
        ],
    )


class ResumeForm(FlaskForm):
    which = HiddenField()


@bp.route("/trials/<trial_id>/pause", methods=["GET", "POST"])
@allow(RESEARCHER)
def pause_page(trial_id: str) -> ResponseReturnValue:
    trial = trial_they_run(trial_id)
    definition = trials.current_definition(g.db, trial)
    titles = {arm.id: arm.title for arm in definition.arms}
    form = PauseForm()
    form.which.choices = [(WHOLE, "The whole trial")] + list(titles.items())
    status = 200
    if form.validate_on_submit():
        arm = None if form.which.data == WHOLE else form.which.data
        clock = current_app.extensions["nudge"]["clock"]
        try:
            done = pause(g.db, clock, trial_id, arm, form.reason.data or "", _actor())
        except NudgeError as exc:
            g.db.rollback()
            form.which.errors = [str(exc)]
            status = 400
        else:
            g.db.commit()
            what = f"{titles[arm]}" if arm else "The whole trial"
            more = f" From now on {done.allocation}." if done.allocation else ""
            flash(
                f"{what} is paused: {done.held} message(s) held until it is resumed.{more}", "info"
            )
            return redirect(url_for(".pause_page", trial_id=trial_id))
    elif form.is_submitted():
        status = 400
    current = [
        {
            "which": p.arm_key or WHOLE,
            "title": titles.get(p.arm_key or "", "The whole trial"),
            "pause": p,
        }
        for p in active_pauses(g.db, trial_id)
    ]
    return (
        render_template(
            "researcher/pause.html",
            trial=trial,
            form=form,
            current=current,
            resume_form=ResumeForm(),
            excludes=definition.randomisation.excludes_paused_arms,
        ),
        status,
    )


@bp.post("/trials/<trial_id>/resumed")
@allow(RESEARCHER)
def resume_page(trial_id: str) -> ResponseReturnValue:
    trial_they_run(trial_id)
    form = ResumeForm()
    if not form.validate_on_submit():
        flash("The form had expired: try again.", "error")
        return redirect(url_for(".pause_page", trial_id=trial_id))
    arm = None if form.which.data == WHOLE else form.which.data
    clock = current_app.extensions["nudge"]["clock"]
    try:
        done = resume(g.db, clock, trial_id, arm, _actor())
    except NudgeError as exc:
        g.db.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".pause_page", trial_id=trial_id))
    g.db.commit()
    flash(
        f"Resumed: {done.released} message(s) will go when due, {done.sent_late} late, and "
        f"{done.cancelled} were cancelled as past their time."
        + (f" From now on {done.allocation}." if done.allocation else ""),
        "info",
    )
    return redirect(url_for(".pause_page", trial_id=trial_id))


def _actor() -> str:
    return f"web:{current_user.email}"
