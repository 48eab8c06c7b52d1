"""A person's timeline, by reference, for researchers: every view is on the audit log.

The audit record names the participant by internal id, never by reference, name or number,
as the message log's does. An unknown reference gets the same "no one with that reference"
page whether or not the reference exists in another trial: only this trial is ever looked at.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, ValidationError

from analysis import person_timeline as timelines
from experiments import trials
from experiments.keys import normalise_key
from experiments.rows import MAX_REF
from nudge import audit
from nudge.errors import NotFound, printable
from nudge.models import Trial
from nudge.scope import people_within
from nudge.web.access import allow, current_scope

bp = Blueprint("people_pages", __name__)
RESEARCHER = "researcher"


def reference_problem(text: str) -> str | None:
    """What makes `text` (normalised as imports normalise it) no possible reference, or None."""
    if len(text) > MAX_REF:
        return f"A participant reference is at most {MAX_REF} characters: check it"
    if any(unicodedata.category(c) == "Cc" for c in text):
        return "A participant reference has no control characters: copy it again from the file"
    return None


def _a_reference(form: Any, field: Any) -> None:
    problem = reference_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


class FindPersonForm(FlaskForm):
    """A reference to look up, as typed or pasted: spaces and invisible characters are dropped
    as an import drops them, so a reference copied from a spreadsheet finds its person."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    ref = StringField(
        "Participant reference",
        filters=[lambda value: normalise_key(value) if isinstance(value, str) else value],
        validators=[
            DataRequired("Enter a participant reference, such as P00042"),
            _a_reference,
        ],
    )


@bp.get("/trials/<trial_id>/people")
@allow(RESEARCHER)
def find_person(trial_id: str) -> ResponseReturnValue:
    trial, _ = trials.trial_with_definition(g.db, trial_id)
    form = FindPersonForm(formdata=request.args)
    if "ref" not in request.args:
        form = FindPersonForm(formdata=None)
    elif form.validate():
        return redirect(url_for(".person_timeline", trial_id=trial_id, ref=form.ref.data))
    status = 400 if form.errors else 200
    return render_template("researcher/find_person.html", trial=trial, form=form), status


@bp.get("/trials/<trial_id>/people/<path:ref>")
@allow(RESEARCHER)
def person_timeline(trial_id: str, ref: str) -> ResponseReturnValue:
    trial, definition = trials.trial_with_definition(g.db, trial_id)
    try:
        if normalise_key(ref) != ref or reference_problem(ref):
            raise NotFound("not a reference an import could have stored")
        within = people_within(g.db, current_scope(), trial_id)
        timeline = timelines.person_timeline(g.db, definition, ref, within)
    except NotFound:
        return _not_found(trial, ref)
    clock = current_app.extensions["nudge"]["clock"]
    ids = list(timeline.participant_ids)
    audit.record(
        g.db,
        clock,
        actor=f"web:{current_user.email}",
        action="person.viewed",
        trial_id=trial_id,
        subject=f"participant{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}",
        details={"participant_ids": ids},
    )
    g.db.commit()
    return render_template(
        "researcher/person.html",
        trial=trial,
        timeline=timeline,
        zone=definition.timezone,
        form=FindPersonForm(formdata=None),
    )


def _not_found(trial: Trial, ref: str) -> ResponseReturnValue:
    """The find form again, holding what was asked for (control characters made visible)."""
    shown = printable(ref)
    form = FindPersonForm(formdata=None, ref=shown)
    page = render_template("researcher/find_person.html", trial=trial, form=form, not_found=shown)
    return page, 404
