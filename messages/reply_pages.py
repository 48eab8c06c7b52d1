"""Researchers' replies pages: each trial's work queue, and the replies from unknown numbers.

A queue shows participant-level data (what people wrote, their references and hearings), so
each view is on the audit log; so is each reply handled or reopened (messages/inbox.py).
Messages to the researcher name a reply by whose it is and when it came, never by its id.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from experiments import trials
from experiments.definition import DEFAULT_TRIAGE_WORDS
from messages.inbox import (
    MAX_NOTE,
    REPLY_STATES,
    ReplyChange,
    mark_handled,
    reopen,
    reply_queue,
    unhandled_by_trial,
    unhandled_count,
)
from messages.pages import RESEARCHER, _audit, _page_number
from nudge.errors import NotFound
from nudge.models import InboundMessage, Participant, Trial
from nudge.scope import people_within, unmatched_replies_within, visible_trials
from nudge.site_walls import people_seen, person_within
from nudge.web.access import allow, current_scope

bp = Blueprint("reply_pages", __name__)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class ReopenForm(FlaskForm):
    """Undo: the queue view to return to travels with the form, so the person lands back there."""

    show = HiddenField()
    page = HiddenField()


class HandleForm(ReopenForm):
    note = TextAreaField(
        "What was done",
        filters=[_strip],
        validators=[
            DataRequired(message="Enter what was done about this reply, such as who called back"),
            Length(max=MAX_NOTE, message=f"The note must be {MAX_NOTE} characters or fewer"),
        ],
    )


@bp.app_template_global()
def unhandled_reply_count(trial_id: str) -> int:
    """For the trial navigation's Replies badge (of the viewer's own site's people)."""
    return unhandled_count(g.db, trial_id, people_within(g.db, current_scope(), trial_id))


@bp.get("/trials/<trial_id>/replies")
@allow(RESEARCHER)
def trial_replies(trial_id: str) -> ResponseReturnValue:
    trial = trials.get_trial(g.db, trial_id)
    return _queue_page(trial, _state(request.args.get("show")), _page_number())


@bp.get("/replies")
@allow(RESEARCHER)
def replies_hub() -> ResponseReturnValue:
    """Every trial's queue with its counts, and the replies from numbers in no trial (which
    have no trial queue to go to). An old link naming a trial goes to that trial's queue."""
    named = request.args.get("trial")
    if named and named in {t.id for t in visible_trials(g.db, current_scope(), [RESEARCHER])}:
        return redirect(_queue_url(named, request.args.get("show"), "1"))
    return _queue_page(None, _state(request.args.get("show")), _page_number())


@bp.post("/replies/<int:reply_id>/handled")
@allow(RESEARCHER)
def reply_handled(reply_id: int) -> ResponseReturnValue:
    trial = _trial_of(reply_id)
    form = HandleForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        errors = {reply_id: "; ".join(form.note.errors)}
        page = _number(form.page.data)
        return _queue_page(trial, _state(form.show.data), page, errors, {reply_id: form.note.data})
    clock = current_app.extensions["nudge"]["clock"]
    try:
        change = mark_handled(g.db, clock, reply_id, _actor(), form.note.data)
    except NotFound:  # gone since the page was read (a trial's personal data purged)
        abort(404)
    g.db.commit()
    if change.changed:
        flash(f"{_whose(change)} is marked handled, with your note.", "info")
    else:
        flash(
            f"{_whose(change)} was already marked handled by {change.handled_by} at "
            f"{_when(change)}: your note was not saved.",
            "info",
        )
    return redirect(_queue_url(change.trial_id, form.show.data, form.page.data))


@bp.post("/replies/<int:reply_id>/reopened")
@allow(RESEARCHER)
def reply_reopened(reply_id: int) -> ResponseReturnValue:
    _trial_of(reply_id)
    form = ReopenForm()
    if not form.validate_on_submit():
        abort(400)
    clock = current_app.extensions["nudge"]["clock"]
    try:
        change = reopen(g.db, clock, reply_id, _actor())
    except NotFound:
        abort(404)
    g.db.commit()
    if change.changed:
        flash(f"{_whose(change)} is back in the queue as not handled.", "info")
    else:
        flash(f"{_whose(change)} was not marked handled: nothing changed.", "info")
    return redirect(_queue_url(change.trial_id, form.show.data, form.page.data))


def _queue_page(
    trial: Trial | None,
    state: str,
    page: int,
    errors: dict[int, str] | None = None,
    typed: dict[int, str | None] | None = None,
) -> ResponseReturnValue:
    """A trial's queue (or, with no trial, the hub), with any note that could not be saved."""
    definition = trials.current_definition(g.db, trial) if trial else None
    clock = current_app.extensions["nudge"]["clock"]
    queue = reply_queue(
        g.db,
        trial_id=trial.id if trial else None,
        words=definition.triage_words if definition else DEFAULT_TRIAGE_WORDS,
        now=clock.now(),
        state=state,
        page=page,
        unmatched_within=unmatched_replies_within(g.db, current_scope(), [RESEARCHER]),
        within=people_within(g.db, current_scope(), trial.id) if trial else None,
    )
    _audit(
        "replies.viewed",
        trial.id if trial else None,
        show=state,
        page=queue.page,
        shown=len(queue.rows),
    )
    rendered = render_template(
        "researcher/replies.html",
        trial=trial,
        zone=definition.timezone if definition else "UTC",
        queue=queue,
        state=state,
        others=None if trial else _other_trials(),
        errors=errors or {},
        typed=typed or {},
        max_note=MAX_NOTE,
    )
    return rendered, 400 if errors else 200


def _other_trials() -> list[tuple[Trial, int, int]]:
    """Every trial with its replies not yet handled and how many of those are flagged."""
    listed = visible_trials(g.db, current_scope(), [RESEARCHER])
    words = {t.id: trials.current_definition(g.db, t).triage_words for t in listed}
    counts = unhandled_by_trial(g.db, words, people_seen(current_scope(), [RESEARCHER]))
    return [(t, *counts.get(t.id, (0, 0))) for t in listed]


def _trial_of(reply_id: int) -> Trial | None:
    """The trial whose queue holds a reply (None: a number in no trial); 404 for no such reply,
    and for one from a number in no trial sent to another organisation's number (or to one no
    organisation's trials send from), and for one from a person of another site of a multi-site
    trial: as missing as one that never was."""
    found = g.db.exec(
        select(InboundMessage.kind, Participant.trial_id, InboundMessage.participant_id)
        .outerjoin(Participant, Participant.id == InboundMessage.participant_id)  # type: ignore[arg-type]
        .where(InboundMessage.id == reply_id)
    ).first()
    if found is None or found[0] != "other":
        abort(404)
    if found[1] is None:
        within = unmatched_replies_within(g.db, current_scope(), [RESEARCHER])
        seen = g.db.exec(
            select(InboundMessage.id).where(InboundMessage.id == reply_id, within)
        ).first()
        if seen is None:
            abort(404)
    elif not person_within(g.db, current_scope(), found[2]):
        abort(404)
    return g.db.get(Trial, found[1]) if found[1] else None


def _state(value: str | None) -> str:
    return value if value in REPLY_STATES else "open"


def _number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 7 else 1


def _queue_url(trial_id: str | None, show: str | None, page: str | None) -> str:
    state, number = _state(show), _number(page)
    if trial_id is None:
        return url_for("reply_pages.replies_hub", show=state, page=number)
    return url_for("reply_pages.trial_replies", trial_id=trial_id, show=state, page=number)


def _actor() -> str:
    return f"web:{current_user.email}"


def _whose(change: ReplyChange) -> str:
    """`The reply from P00003 received Sun 10 Jan 2027 12:00 GMT`: no internal id."""
    who = change.participant_ref or f"the number {change.number}"
    return f"The reply from {who} received {change.received_at:%a %-d %b %Y %H:%M %Z}"


def _when(change: ReplyChange) -> str:
    return f"{change.handled_at:%-d %b %Y %H:%M %Z}" if change.handled_at else "an earlier time"
