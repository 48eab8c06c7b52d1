"""Researchers' messaging pages: the message log and the opt-outs (replies: reply_pages.py).

Each shows participant-level data, so each view is written to the audit log: who looked, at
what, with which filters. The log itself never holds a name, a number or a reference: a
reference filter is recorded as the internal ids of the participants it matched.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import ColumnElement
from sqlmodel import col, select

from experiments import trials
from messages import words
from messages.inbox import opt_outs
from messages.log import LogFilters, message_log, message_log_csv, reasons_in, template_words
from messages.log_form import CHANNELS, LogFilterForm
from nudge import audit
from nudge.models import MESSAGE_STATUSES, Arm, Trial
from nudge.scope import people_within
from nudge.site_walls import people_seen
from nudge.web.access import allow, current_scope

bp = Blueprint("message_pages", __name__)
RESEARCHER = "researcher"


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 else 1


@bp.get("/trials/<trial_id>/messages")
@allow(RESEARCHER)
def message_log_page(trial_id: str) -> ResponseReturnValue:
    trial, zone, form = _log_form(trial_id)
    filters = form.filters()
    result = message_log(
        g.db, trial_id, zone, filters, page=_page_number(), within=_within(trial_id)
    )
    definition = trials.current_definition(g.db, trial)
    given = _audited_filters(filters, result.participant_ids)
    _audit(
        "messages.viewed",
        trial_id,
        filters=given,
        refused=form.refused(),
        page=result.page,
        shown=len(result.rows),
    )
    page = render_template(
        "researcher/messages.html",
        trial=trial,
        form=form,
        result=result,
        args=_kept_args(form),
        statuses=MESSAGE_STATUSES,
        choices=_choices(form),
        state=words.message_state,
        channel=words.channel_label,
        template=partial(template_words, definition=definition),
        when=partial(words.local_time, zone=zone),
        zone=zone,
        person_href=partial(person_href, trial_id),
        glossary=(words.STATUS_GLOSSARY, words.REASON_GLOSSARY),
    )
    return page, 400 if form.errors else 200


@bp.get("/trials/<trial_id>/messages.csv")
@allow(RESEARCHER)
def message_log_download(trial_id: str) -> ResponseReturnValue:
    """Every page of the filtered view, with codes rather than words, for a spreadsheet."""
    _, zone, form = _log_form(trial_id)
    if form.errors:  # only a hand-made link: the page says what is wrong and keeps the rest
        query = urlencode(list(request.args.items(multi=True)))
        return redirect(f"{url_for('.message_log_page', trial_id=trial_id)}?{query}")
    filters = form.filters()
    download = message_log_csv(g.db, trial_id, zone, filters, within=_within(trial_id))
    given = _audited_filters(filters, download.participant_ids)
    _audit("messages.downloaded", trial_id, filters=given, rows=download.rows)
    response = Response(download.text, mimetype="text/csv; charset=utf-8")
    name = f"{trial_id}-messages.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _within(trial_id: str) -> ColumnElement[bool]:
    """The trial's people the viewer may see: in a multi-site trial, their own site's."""
    return people_within(g.db, current_scope(), trial_id)


def person_href(trial_id: str, ref: str) -> str:
    """A person's timeline, the reference encoded whole (it may hold a space or a slash)."""
    return f"/trials/{quote(trial_id, safe='')}/people/{quote(ref, safe='')}"


def _log_form(trial_id: str) -> tuple[Trial, ZoneInfo, LogFilterForm]:
    """The trial, its timezone and the filters asked for, checked against the trial."""
    trial = trials.get_trial(g.db, trial_id)
    zone = ZoneInfo(trials.current_definition(g.db, trial).timezone)
    form = LogFilterForm(formdata=request.args)
    arms = g.db.exec(
        select(Arm.key, Arm.title).where(Arm.trial_id == trial_id).order_by(col(Arm.position))
    )
    form.arm_titles = dict(arms.all())
    form.reasons = tuple(reasons_in(g.db, trial_id))
    if request.args:
        form.validate()
    return trial, zone, form


def _choices(form: LogFilterForm) -> dict[str, list[tuple[str, str]]]:
    """Each list's options as (code, words): the codes go in the link, the words on screen."""
    return {
        "status": [(s, words.status_label(s)) for s in MESSAGE_STATUSES],
        "channel": [(c, words.channel_label(c)) for c in CHANNELS],
        "arm": list(form.arm_titles.items()),
        "reason": [(r, words.reason_choice(r)) for r in form.reasons],
    }


def _kept_args(form: LogFilterForm) -> dict[str, str]:
    """The query string of the view shown: the filters that apply (not the empty fields a
    form sends, nor the page number), for the page links, the counts' links and the download."""
    left_out = {"page", *form.refused()}
    return {k: v for k, v in request.args.items() if v and k not in left_out}


def _audited_filters(filters: LogFilters, participant_ids: list[int]) -> dict[str, str]:
    """The filters for the audit log: a reference, which may identify someone outside the
    service, is recorded as the internal ids of the participants it matched."""
    given = filters.given()
    if "participant_ref" in given:
        given["participant_ref"] = f"participant ids {participant_ids}"
    return given


@bp.get("/opt-outs")
@allow(RESEARCHER)
def opt_outs_page() -> ResponseReturnValue:
    result = opt_outs(g.db, page=_page_number(), within=people_seen(current_scope(), [RESEARCHER]))
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
