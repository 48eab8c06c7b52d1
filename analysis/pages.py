"""The results pages and downloads: aggregate figures only, with disclosure control for leads.

Researchers see exact figures; every other role sees counts under 5 as "fewer than 5" (see
analysis/disclosure.py), on the page and in both downloads alike. The one row-level download,
the reproduction bundle (analysis/bundle.py), is for researchers alone and is audited.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, g, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from analysis import numbers
from analysis.disclosure import disclose
from analysis.results_view import results_view
from experiments import trials
from experiments.definition import TrialDefinition
from nudge import audit
from nudge.errors import NotFound, NudgeError
from nudge.models import Trial
from nudge.site_walls import may_take_rows
from nudge.web.access import ALL_STAFF, allow, current_scope

if TYPE_CHECKING:
    from analysis.guardrail_notice import BreachNotice
    from analysis.results_cache import Results

# The analysis stack (pandas, SciPy, reportlab) is imported by the views that use it, not when
# the app starts: every web worker, and every command that builds the app, would wait for it.

bp = Blueprint("results", __name__, template_folder="templates")
EXACT_ROLES = ("researcher",)


def _load(trial_id: str) -> tuple[Trial, TrialDefinition, Results, dict[str, Any]]:
    from analysis.results_cache import results_for

    try:
        trial = trials.get_trial(g.db, trial_id)
    except NotFound:
        abort(404)
    definition = trials.current_definition(g.db, trial)
    results = results_for(g.db, current_app.extensions["nudge"]["clock"], trial, definition)
    shown = disclose(results.body, exact=current_user.role in EXACT_ROLES)
    return trial, definition, results, shown


@bp.app_template_global()
def guardrail_notice(trial_id: str) -> BreachNotice | None:
    """For the warning on every page of a trial: each breach found, in words, oldest first,
    and whether the trial's contacts were told of it (analysis/guardrail_notice.py)."""
    from sqlmodel import col, select

    from analysis.guardrail_notice import breach_notice
    from nudge.models import GuardrailBreach

    rows = g.db.exec(
        select(GuardrailBreach)
        .where(GuardrailBreach.trial_id == trial_id)
        .order_by(col(GuardrailBreach.id))
    ).all()
    return breach_notice([(row.words, row.mail) for row in rows])


@bp.app_template_global()
def may_download_bundle(trial_id: str) -> bool:
    """Whether the viewer may download the trial's reproduction bundle (and is offered it)."""
    trial = g.db.get(Trial, trial_id)
    return trial is not None and may_take_rows(g.db, current_scope(), trial)


@bp.get("/trials/<trial_id>/results")
@allow(*ALL_STAFF)
def results_page(trial_id: str) -> ResponseReturnValue:
    from analysis.interim import interim_view
    from experiments.contamination import contamination, contamination_words

    trial, definition, results, shown = _load(trial_id)
    shared = contamination_words(
        contamination(g.db, trial_id), exact=current_user.role in EXACT_ROLES
    )
    computed = results.computed_at.astimezone(ZoneInfo(definition.timezone))
    return render_template(
        "results/results.html",
        trial=trial,
        definition=definition,
        view=results_view(shown, definition, trial_status=trial.status, closed_at=trial.closed_at),
        interim=interim_view(g.db, definition, trial_id),
        contamination=shared,
        computed_at=computed,
        from_cache=results.from_cache,
    )


@bp.get("/trials/<trial_id>/results.csv")
@allow(*ALL_STAFF)
def results_download_csv(trial_id: str) -> ResponseReturnValue:
    from analysis.downloads import results_csv

    _, definition, _, shown = _load(trial_id)
    return _download(
        results_csv(shown, definition), "text/csv; charset=utf-8", f"{trial_id}-results.csv"
    )


@bp.get("/trials/<trial_id>/results.json")
@allow(*ALL_STAFF)
def results_download_json(trial_id: str) -> ResponseReturnValue:
    _, _, _, shown = _load(trial_id)
    text = json.dumps(shown, indent=2, allow_nan=False)
    return _download(text, "application/json", f"{trial_id}-results.json")


@bp.get("/trials/<trial_id>/results.pdf")
@allow(*ALL_STAFF)
def results_download_pdf(trial_id: str) -> ResponseReturnValue:
    """The page as a printable report, from the same disclosed figures in the same words."""
    from analysis.report_pdf import Numbers, results_pdf

    trial, definition, results, shown = _load(trial_id)
    numbers = Numbers(figure=figure, pct=pct, points=points, pvalue=pvalue, decimal=decimal)
    try:
        pdf = results_pdf(
            results_view(shown, definition),
            trial_title=trial.title,
            computed_at=results.computed_at.astimezone(ZoneInfo(definition.timezone)),
            numbers=numbers,
        )
    except NudgeError as exc:  # no usable font on this server: say which to install
        return Response(f"{exc}\n", status=503, mimetype="text/plain")
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{trial_id}-results.pdf"'
    return response


@bp.get("/trials/<trial_id>/reproduction.zip")
@allow("researcher")
def results_bundle(trial_id: str) -> ResponseReturnValue:
    """The reproduction bundle: pseudonymised row-level data, so researchers only (of a
    multi-site trial, the coordinating site's: nudge.site_walls.may_take_rows)."""
    from analysis.bundle import build_bundle, write_zip

    if not may_download_bundle(trial_id):
        abort(403)
    clock = current_app.extensions["nudge"]["clock"]
    try:
        bundle = build_bundle(g.db, trial_id, built_at=clock.now())
    except NotFound:
        abort(404)
    except NudgeError as exc:
        return Response(f"{exc}\n", status=409, mimetype="text/plain")
    audit.record(
        g.db,
        clock,
        actor=f"web:{current_user.email}",
        action="results.bundle_exported",
        trial_id=trial_id,
        details={"version": bundle.version, "participants": bundle.participants},
    )
    g.db.commit()
    stream = io.BytesIO()
    write_zip(bundle, stream)
    response = Response(stream.getvalue(), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{bundle.folder}.zip"'
    return response


def _download(text: str, mimetype: str, name: str) -> Response:
    response = Response(text, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.app_template_filter("figure")
def figure(value: Any) -> str:
    """A count as shown: thousands separated; a suppressed one as its words; none as a dash."""
    return numbers.count(value)


@bp.app_template_filter("pct")
def pct(value: float | None, places: int = 0) -> str:
    """A rate as a percentage in the GOV.UK style: "82%" (never "82.0%")."""
    return numbers.percent(value, places)


@bp.app_template_filter("points")
def points(value: float | None, signed: bool = False, places: int = 1) -> str:
    """Percentage points with a true minus sign; `signed` adds "+" to a positive difference."""
    return numbers.points(value, places, sign=signed)


@bp.app_template_filter("pvalue")
def pvalue(value: float | None) -> str:
    return numbers.p_value(value)


@bp.app_template_filter("p_is")
def p_is(value: float | None) -> str:
    """A p-value in a sentence: "p = 0.012", "p < 0.001"."""
    if value is None:
        return "p not available"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


@bp.app_template_filter("decimal")
def decimal(value: float | None, places: int = 2) -> str:
    """A ratio or a standardised difference, with a true minus sign."""
    return numbers.DASH if value is None else numbers.signed(f"{value:.{places}f}")


@bp.app_template_filter("money")
def money(value: float | None, currency: str = "GBP") -> str:
    """Money in the GOV.UK style: "£1.10", "78p", "£1,250"."""
    return numbers.money(value, currency)
