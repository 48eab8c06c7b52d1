"""The trials list: what every logged-in person sees first (their organisations' trials)."""

from __future__ import annotations

from flask import Blueprint, g, render_template
from flask.typing import ResponseReturnValue

from experiments import trials
from nudge.organisations import all_organisations
from nudge.scope import role_for, visible_trials
from nudge.web.access import ALL_STAFF, allow, current_scope

bp = Blueprint("home", __name__)


@bp.get("/")
@allow(*ALL_STAFF)
def index() -> ResponseReturnValue:
    rows = []
    scope = current_scope()
    names = {o.id: o.name for o in all_organisations(g.db)}
    for trial in visible_trials(g.db, scope):
        definition = trials.current_definition(g.db, trial)
        rows.append(
            {
                "id": trial.id,
                "title": trial.title,
                "organisation": names.get(trial.organisation_id, ""),
                "role": role_for(g.db, scope, trial),
                "status": trial.status,
                "launched_at": trial.launched_at,
                "closed_at": trial.closed_at,
                "arms": [arm.title for arm in definition.arms],
                "enrolled": trials.enrolled_count(g.db, trial.id),
                "primary": definition.primary_outcome.description or definition.primary_outcome.id,
            }
        )
    several = len({row["organisation"] for row in rows}) > 1
    return render_template("trials.html", trials=rows, several_organisations=several)
