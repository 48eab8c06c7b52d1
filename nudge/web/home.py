"""The trials list: what every logged-in person sees first."""

from __future__ import annotations

from flask import Blueprint, g, render_template
from flask.typing import ResponseReturnValue

from experiments import trials
from nudge.web.access import ALL_STAFF, allow

bp = Blueprint("home", __name__)


@bp.get("/")
@allow(*ALL_STAFF)
def index() -> ResponseReturnValue:
    rows = []
    for trial in trials.all_trials(g.db):
        definition = trials.current_definition(g.db, trial)
        rows.append(
            {
                "id": trial.id,
                "title": trial.title,
                "status": trial.status,
                "launched_at": trial.launched_at,
                "closed_at": trial.closed_at,
                "arms": [arm.title for arm in definition.arms],
                "enrolled": trials.enrolled_count(g.db, trial.id),
                "primary": definition.primary_outcome.description or definition.primary_outcome.id,
            }
        )
    return render_template("trials.html", trials=rows)
