"""Researchers' trial pages: upload and check a definition, create a draft, launch, amend.

The checks are the ones `nudge trial validate` runs. The message checks (SMS sizes, costs,
revealing words) live in `messages`, which this package may not import, so the shell hands
the checker in when it registers the blueprint: `register_blueprint(bp, check=...)`.

The files a researcher chooses are kept on the server between one check and the next
(experiments/holding.py), so "Check only" then "Create" never asks for them twice; an
amendment is shown as a list of changed fields, old value and new, before it is saved.
"""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
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
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, Field, HiddenField, RadioField, TextAreaField
from wtforms.validators import ValidationError

from experiments import trials
from experiments.allocation import allocation_history
from experiments.amendments import FieldChange
from experiments.characters import unstorable_message
from experiments.holding import sweep_all
from experiments.loader import LoadedTrial, sha256_of
from experiments.upload import Upload, load_upload
from experiments.upload_form import (
    Checked,
    Checker,
    Chosen,
    UploadForm,
    check_upload,
    choose,
    holding_area,
    holding_root,
    items_for,
)
from nudge.errors import Problem, TrialStateError
from nudge.models import Organisation, Trial, TrialStatus
from nudge.organisations import all_organisations
from nudge.scope import runs_trial
from nudge.web.access import allow, current_scope, trial_they_run

bp = Blueprint("trial_pages", __name__)
RESEARCHER = "researcher"
MAX_REASON = 1000


@bp.record_once
def _set_up(state: Any) -> None:
    app = state.app
    app.extensions["trial_pages.check"] = state.options["check"]
    sweep_all(holding_root(app), app.extensions["nudge"]["clock"].now())


def _reason_check(form: FlaskForm, field: Field) -> None:
    text = field.data or ""
    if len(text) > MAX_REASON:
        raise ValidationError(
            f"is {len(text):,} characters long; shorten it to {MAX_REASON:,} characters or fewer"
        )
    if any(ord(c) < 32 and c not in "\t\r\n" or 127 <= ord(c) < 160 for c in text):
        raise ValidationError("holds a control character; type the reason as plain text")


class NewTrialForm(UploadForm):
    """The upload form, and which organisation the trial is for: asked only of a researcher in
    several, checked on the server against the ones they are a researcher in (never trusted)."""

    organisation = RadioField("Organisation", choices=[], validate_choice=False)


class AmendForm(UploadForm):
    reason = TextAreaField("Reason for the change", validators=[_reason_check])
    template_fix = BooleanField("The change to a message's wording only fixes a typo")
    reviewed = HiddenField()


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    size = f"{limit // 2**20} MB" if limit >= 2**20 else f"{limit // 2**10} KB"
    problem = Problem("", None, None, f"the upload is larger than {size} altogether")
    return render_template(
        "researcher/upload.html",
        form=NewTrialForm(formdata=None),
        checked=None,
        items=items_for([problem], None, None, NewTrialForm(formdata=None)),
        failed=True,
        chosen=None,
        created=None,
        step="new",
    ), 413


@bp.route("/trials/new", methods=["GET", "POST"])
@allow(RESEARCHER)
def new_trial() -> ResponseReturnValue:
    form = NewTrialForm()
    mine = _researcher_organisations()
    if len(mine) > 1:
        form.organisation.choices = [(str(o.id), o.name) for o in mine]
    if not form.validate_on_submit():
        return _upload_page(form, None, "new")
    chosen = choose(form, _owner(), _clock().now())
    upload, checked = _check(chosen)
    owner = _chosen_organisation(form, mine, creating=_action() == "create")
    if not checked.ok or _action() != "create" or owner is None:
        return _upload_page(form, (chosen, upload, checked), "new")
    assert checked.loaded is not None
    trial_id = checked.loaded.definition.id
    if g.db.get(Trial, trial_id) is not None:
        return _upload_page(form, (chosen, upload, checked), "new", refusals=[_taken(trial_id)])
    try:
        trials.create_trial(g.db, _clock(), checked.loaded, _actor(), organisation=owner.slug)
        g.db.commit()
    except (TrialStateError, IntegrityError) as refused:
        # Taken meanwhile (the service's words name the CLI), or the organisation gone.
        g.db.rollback()
        taken = isinstance(refused, IntegrityError) or g.db.get(Trial, trial_id) is not None
        refused_words = _web_words(str(refused))
        refusal = _taken(trial_id) if taken else Problem("", None, None, refused_words)
        return _upload_page(form, (chosen, upload, checked), "new", refusals=[refusal])
    chosen = _discard(chosen)
    created = trials.current_version(g.db, trials.get_trial(g.db, trial_id))
    return _upload_page(form, (chosen, upload, checked), "new", created=created)


def _taken(trial_id: str) -> Problem:
    """Trial ids are one namespace for every organisation, so a taken one must be refused; the
    words are the same whoever's trial holds it, and name neither its organisation nor title."""
    return Problem(
        "",
        None,
        None,
        f"the id '{trial_id}' is already used by a trial on this platform (ids are shared by "
        "every organisation): change the id in the file; to change a trial of your own, upload "
        "a new version on its page",
    )


def _researcher_organisations() -> list[Organisation]:
    """The organisations where the person is a researcher, by name."""
    ids = current_scope().organisation_ids([RESEARCHER])
    return sorted((o for o in all_organisations(g.db) if o.id in ids), key=lambda o: o.name)


def _chosen_organisation(
    form: NewTrialForm, mine: list[Organisation], *, creating: bool
) -> Organisation | None:
    """The organisation the new trial is for; None, with the field's error, when a researcher
    in several has not chosen one (asked only on creating) or any organisation sent is not one
    of theirs: a forged or stale value is refused with one message whatever it names."""
    sent = (form.organisation.data or "").strip()
    if sent:
        found = next((o for o in mine if str(o.id) == sent), None)
        if found is None:
            form.organisation.errors = [
                "choose one of the organisations listed: you are not a researcher in the one "
                "that was sent"
            ]
        return found
    if len(mine) == 1:
        return mine[0]
    if creating:
        form.organisation.errors = ["choose the organisation the trial is for"]
    return None


@bp.get("/trials/<trial_id>/manage")
@allow(RESEARCHER)
def manage(trial_id: str) -> ResponseReturnValue:
    trial = trials.get_trial(g.db, trial_id)
    versions = list(reversed(trials.versions(g.db, trial_id)))
    definition = trials.current_definition(g.db, trial)
    return render_template(
        "researcher/manage.html",
        trial=trial,
        current=trials.current_version(g.db, trial),
        versions=versions,
        changes={v.version: trials.shown_changes(trial, v) for v in versions},
        definition=definition,
        allocation_changes=allocation_history(g.db, trial_id, definition),
        runs=runs_trial(current_scope(), trial),
        owner=g.db.get(Organisation, trial.organisation_id),
    )


@bp.route("/trials/<trial_id>/launch", methods=["GET", "POST"])
@allow(RESEARCHER)
def launch(trial_id: str) -> ResponseReturnValue:
    trial = trial_they_run(trial_id)
    form = FlaskForm()
    if trial.status != TrialStatus.DRAFT:
        flash(f"This trial is {trial.status}: only a draft can be launched.", "error")
        return redirect(url_for(".manage", trial_id=trial_id))
    if form.validate_on_submit():
        version = trials.launch_trial(g.db, _clock(), trial_id, _actor())
        g.db.commit()
        flash(f"Launched: version {version.version} is frozen, SHA-256 {version.sha256}.", "info")
        return redirect(url_for(".manage", trial_id=trial_id))
    return render_template(
        "researcher/launch.html",
        form=form,
        trial=trial,
        definition=trials.current_definition(g.db, trial),
        current=trials.current_version(g.db, trial),
    )


@bp.route("/trials/<trial_id>/amend", methods=["GET", "POST"])
@allow(RESEARCHER)
def amend(trial_id: str) -> ResponseReturnValue:
    """Check the new files, show what they change, then save on a second, explicit step.

    After launch a change to the design is refused first, naming the field, before any other
    check: nothing else about such a file matters. The "Save" button sends back a fingerprint
    of the changes shown; if they differ by then (a file replaced, or someone else's amendment
    saved meanwhile) the new changes are shown instead of saved.
    """
    trial = trial_they_run(trial_id)
    form = AmendForm()
    if trial.status == TrialStatus.CLOSED:
        flash("This trial is closed and cannot be amended.", "error")
        return redirect(url_for(".manage", trial_id=trial_id))
    if not form.is_submitted():
        return _upload_page(form, None, "amend", trial=trial)
    form.validate()  # field errors are shown with the files' own problems, all at once
    chosen = choose(form, _owner(), _clock().now())
    upload, checked = _check(chosen)
    loaded = upload.result if isinstance(upload.result, LoadedTrial) else None
    proposal = _proposal(trial, loaded)
    outcome = (chosen, upload, checked)
    if isinstance(proposal, list):
        return _upload_page(form, outcome, "amend", trial=trial, refusals=proposal, alone=True)
    refusals = _amendment_problems(trial, form, proposal)
    if refusals or not checked.ok or proposal is None:
        return _upload_page(form, outcome, "amend", trial=trial, refusals=refusals)
    fingerprint = f"{trial.current_version}:{sha256_of(proposal.new)}"
    stale = _action() == "save" and form.reviewed.data != fingerprint
    if form.errors or stale or _action() != "save":
        shown = (proposal, fingerprint, stale)
        return _upload_page(form, outcome, "amend", trial=trial, proposal=shown)
    return _save_amendment(trial, form, chosen, upload, checked, proposal)


def _proposal(trial: Trial, loaded: LoadedTrial | None) -> trials.Amendment | list[Problem] | None:
    """What the file would change, or the refusals that come before any other check."""
    if loaded is None:
        return None
    if loaded.definition.id != trial.id:
        return [
            loaded.problem(
                ("id",),
                f"id: this file defines trial '{loaded.definition.id}', not '{trial.id}': "
                f"upload {trial.id}'s definition, or create a new trial",
            )
        ]
    proposal = trials.propose_amendment(g.db, trial, loaded)
    design = [c for c in proposal.refused(trial.status, template_fix=True) if c.kind == "design"]
    if design:
        return [_design_refusal(loaded, change) for change in design]
    return proposal


def _design_refusal(loaded: LoadedTrial, change: FieldChange) -> Problem:
    return loaded.problem(
        change.steps,
        f"the design cannot change after launch: {change.field} (was {change.old}, now "
        f"{change.new}); a different design needs a new trial",
    )


def _amendment_problems(
    trial: Trial, form: AmendForm, proposal: trials.Amendment | None
) -> list[Problem]:
    """The reason and the typo box, asked for when saving; an amendment that changes nothing."""
    reason = (form.reason.data or "").strip()
    if (unstorable_reason := unstorable_message(reason)) and not form.reason.errors:
        form.reason.errors.append(unstorable_reason)
    if proposal is None:
        return []
    if not proposal.paths:
        return [
            Problem(
                "",
                None,
                None,
                f"the files are the same as version {trial.current_version}: there is nothing "
                "to amend",
            )
        ]
    if _action() != "save":
        return []
    if not reason and not form.reason.errors:
        form.reason.errors.append(
            "enter the reason for the change; it is kept with the new version"
        )
    wording = [c.field for c in proposal.refused(trial.status, template_fix=False)]
    if wording and not form.template_fix.data:
        form.template_fix.errors.append(
            f"a message's wording changed ({', '.join(wording)}): after launch, tick this box "
            "if it only fixes a typo; any other change of wording needs a new trial"
        )
    return []


def _save_amendment(
    trial: Trial,
    form: AmendForm,
    chosen: Chosen,
    upload: Upload,
    checked: Checked,
    proposal: trials.Amendment,
) -> ResponseReturnValue:
    assert checked.loaded is not None
    try:
        version = trials.amend_trial(
            g.db,
            _clock(),
            trial.id,
            checked.loaded,
            _actor(),
            reason=(form.reason.data or "").strip(),
            template_fix=bool(form.template_fix.data),
        )
    except TrialStateError as exc:
        g.db.rollback()
        refusal = Problem("", None, None, _web_words(exc.message))
        outcome = (chosen, upload, checked)
        return _upload_page(form, outcome, "amend", trial=trial, refusals=[refusal])
    g.db.commit()
    _discard(chosen)
    flash(
        f"Amended: version {version.version} (changed: {', '.join(version.changed_fields)}), "
        f"SHA-256 {version.sha256}.",
        "info",
    )
    return redirect(url_for(".manage", trial_id=trial.id))


def _check(chosen: Chosen) -> tuple[Upload, Checked]:
    upload = load_upload(chosen.definition, chosen.letters)
    check: Checker = current_app.extensions["trial_pages.check"]
    return upload, check_upload(upload, check)


def _upload_page(
    form: UploadForm,
    outcome: tuple[Chosen, Upload, Checked] | None,
    step: str,
    *,
    trial: Trial | None = None,
    refusals: list[Problem] | None = None,
    alone: bool = False,
    created: Any = None,
    proposal: tuple[trials.Amendment, str, bool] | None = None,
) -> ResponseReturnValue:
    """The upload or amendment page; `alone` shows the refusals without the other problems."""
    chosen, checked, items = None, None, items_for([], None, None, form)
    if outcome is not None:
        chosen, upload, checked = outcome
        problems = [*(refusals or [])]
        if not alone:
            problems = [*chosen.notices, *checked.problems, *upload.warnings, *problems]
        items = items_for(problems, upload.source_text, chosen, form)
    failed = any(item["severity"] == "error" for item in items)
    template = "researcher/upload.html" if step == "new" else "researcher/amend.html"
    page = render_template(
        template,
        form=form,
        checked=checked,
        items=items,
        failed=failed,
        chosen=chosen,
        created=created,
        trial=trial,
        step=step,
        proposal=proposal,
    )
    return page, (422 if failed else 201 if created else 200)


def _discard(chosen: Chosen) -> Chosen:
    """Once the files are used, the server need not keep them."""
    if chosen.held is not None:
        holding_area(current_app).discard(chosen.held.token, _owner())
    return chosen.without_held()


def _web_words(message: str) -> str:
    """The trial service speaks in CLI options; on the web they are form fields."""
    message = re.sub(
        r"add it first with nudge orgs add \S+ --name \"\.\.\.\"",
        "ask an administrator to add it first",
        message,
    )
    return message.replace(
        "say so with --template-fix", "tick “The change to a message's wording only fixes a typo”"
    ).replace("create the trial as one of them (--org)", "create the trial for one of them")


def _action() -> str:
    return request.form.get("action", "check")


def _clock() -> Any:
    return current_app.extensions["nudge"]["clock"]


def _owner() -> str:
    return str(current_user.id)


def _actor() -> trials.Actor:
    return trials.Actor(f"web:{current_user.email}")
