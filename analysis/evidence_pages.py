"""The "What we know" page: what closed trials found together, pooled by outcome and arm tag.

Aggregate figures only, and only as each viewer may see them: every trial's results go
through the same disclosure control as its results page (analysis/disclosure.py), and a
comparison hidden from the viewer is left out of the pool and listed as such. The trials'
results come from the shared cache (analysis/results_cache.py), so a closed trial's analysis
is computed once. Self-contained: the roles live in EVIDENCE_ROLES and the trials in
`closed_trials`, so scoping by organisation changes one function here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlmodel import Session

from experiments import trials
from nudge.clock import Clock
from nudge.models import Trial, TrialStatus
from nudge.web.access import allow

if TYPE_CHECKING:
    from analysis.pooled import ClosedTrial

bp = Blueprint("evidence", __name__, template_folder="templates")
# Who may read the pooled evidence: aggregate figures, no personal data. A role that sees
# every organisation's aggregate results (issue 25's `national`) belongs here too.
EVIDENCE_ROLES = ("lead", "researcher", "admin")
# As on a trial's results page (analysis/pages.py): researchers see exact figures.
EXACT_ROLES = ("researcher",)


def closed_trials(session: Session) -> list[Trial]:
    """The closed trials whose results the evidence page pools, oldest closed first."""
    closed = [t for t in trials.all_trials(session) if t.status == TrialStatus.CLOSED]
    return sorted(closed, key=lambda t: (t.closed_at is None, t.closed_at, t.id))


def gather(session: Session, clock: Clock, *, exact: bool) -> list[ClosedTrial]:
    """Each closed trial with its definition in force and its results as the viewer sees them."""
    from analysis.disclosure import disclose
    from analysis.pooled import ClosedTrial
    from analysis.results_cache import results_for

    found: list[ClosedTrial] = []
    for trial in closed_trials(session):
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

    exact = current_user.role in EXACT_ROLES
    closed = gather(g.db, current_app.extensions["nudge"]["clock"], exact=exact)
    evidence = pool_closed_trials(closed)
    return render_template(
        "evidence/evidence.html",
        view=evidence_view(evidence),
        closed=len(closed),
        disclosure=None if exact else RULE,
    )
