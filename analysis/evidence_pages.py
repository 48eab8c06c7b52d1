"""The "What we know" page: what closed trials found together, pooled by outcome and arm tag.

Aggregate figures only, and only as each viewer may see them: every trial's results go
through the same disclosure control as its results page (analysis/disclosure.py), and a
comparison hidden from the viewer is left out of the pool and listed as such. The trials'
results come from the shared cache (analysis/results_cache.py), so a closed trial's analysis
is computed once. The trials pooled are the viewer's organisations' (every organisation's
for a national account), through nudge.scope like every other list of trials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlmodel import Session

from experiments import trials
from nudge import scope
from nudge.clock import Clock
from nudge.models import Trial, TrialStatus
from nudge.scope import Scope
from nudge.web.access import allow, current_scope

if TYPE_CHECKING:
    from analysis.pooled import ClosedTrial

bp = Blueprint("evidence", __name__, template_folder="templates")
# Who may read the pooled evidence: aggregate figures, no personal data. A national account
# reads as a lead (nudge.scope), so it is let in, and pools every organisation's trials.
EVIDENCE_ROLES = ("lead", "researcher", "admin")
# As on a trial's results page (analysis/pages.py): researchers see exact figures.
EXACT_ROLES = ("researcher",)


def closed_trials(session: Session, within: Scope) -> list[Trial]:
    """The closed trials whose results the evidence page pools, oldest closed first: those of
    the viewer's organisations (every organisation's for a national account)."""
    visible = scope.visible_trials(session, within, EVIDENCE_ROLES)
    closed = [t for t in visible if t.status == TrialStatus.CLOSED]
    return sorted(closed, key=lambda t: (t.closed_at is None, t.closed_at, t.id))


def gather(session: Session, clock: Clock, within: Scope, closed: list[Trial]) -> list[ClosedTrial]:
    """Each of the `closed` trials with its definition in force and its results as the viewer
    sees them: exact where they are a researcher in the trial's organisation, rounded
    otherwise."""
    from analysis.disclosure import disclose
    from analysis.pooled import ClosedTrial
    from analysis.results_cache import results_for

    found: list[ClosedTrial] = []
    for trial in closed:
        exact = within.role_in(trial.organisation_id) in EXACT_ROLES
        definition = trials.current_definition(session, trial)
        results = results_for(session, clock, trial, definition)
        zone = ZoneInfo(definition.timezone)
        found.append(
            ClosedTrial(
                trial_id=trial.id,
                title=trial.title,
                closed_on=trial.closed_at.astimezone(zone).date() if trial.closed_at else None,
                definition=definition,
                shown=disclose(results.body, exact=exact),
            )
        )
    return found


@bp.app_template_global()
def may_see_evidence() -> bool:
    """For the site navigation: whether the signed-in person's role may read the page."""
    return bool(current_user.is_authenticated and current_user.role in EVIDENCE_ROLES)


@bp.get("/evidence")
@allow(*EVIDENCE_ROLES)
def evidence_page() -> ResponseReturnValue:
    # The analysis stack is imported by the view that uses it, not when the app starts.
    from analysis.disclosure import RULE
    from analysis.pooled import pool_closed_trials
    from analysis.pooled_view import evidence_view

    within = current_scope()
    trials_closed = closed_trials(g.db, within)
    closed = gather(g.db, current_app.extensions["nudge"]["clock"], within, trials_closed)
    rounded = any(within.role_in(t.organisation_id) not in EXACT_ROLES for t in trials_closed)
    evidence = pool_closed_trials(closed)
    return render_template(
        "evidence/evidence.html",
        view=evidence_view(evidence),
        closed=len(closed),
        disclosure=RULE if rounded else None,
    )
