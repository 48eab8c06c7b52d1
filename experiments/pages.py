"""Researchers' trial pages: upload and check a definition, create a draft, launch, amend.

The checks are the ones `nudge trial validate` runs. The message checks (SMS sizes, costs,
revealing words) live in `messages`, which this package may not import, so the shell hands
the checker in when it registers the blueprint: `register_blueprint(bp, check=...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

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
from flask_wtf.file import FileField, MultipleFileField
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, Field, TextAreaField
from wtforms.validators import ValidationError

from experiments import trials
from experiments.characters import unstorable_message
from experiments.loader import LoadedTrial
from experiments.upload import Upload, UploadedFile, excerpt, load_upload, own_name
from nudge.errors import NotFound, Problem, TrialStateError
from nudge.models import Trial, TrialStatus
from nudge.web.access import allow

bp = Blueprint("trial_pages", __name__)
RESEARCHER = "researcher"
MAX_REASON = 1000
CHOOSE_AGAIN = (
    "Then choose the definition and letter files again and send the form: "
    "a browser cannot keep files chosen before."
)


class Checked(Protocol):
    """What the checker returns (messages.checks.CheckedDefinition)."""

    loaded: LoadedTrial | None
    problems: list[Problem]
    report: Any

    @property
    def ok(self) -> bool: ...


Checker = Callable[[LoadedTrial | list[Problem]], Checked]


@bp.record_once
def _keep_checker(state: Any) -> None:
    state.app.extensions["trial_pages.check"] = state.options["check"]


class UploadForm(FlaskForm):
    definition = FileField("Trial definition (YAML)")
    letters = MultipleFileField("Letter files the definition names (optional)")


def _reason_check(form: FlaskForm, field: Field) -> None:
    text = field.data or ""
    if len(text) > MAX_REASON:
        raise ValidationError(
            f"is {len(text):,} characters long; shorten it to {MAX_REASON:,} characters or fewer"
        )
    if any(ord(c) < 32 and c not in "\t\r\n" or 127 <= ord(c) < 160 for c in text):
        raise ValidationError("holds a control character; type the reason as plain text")


class AmendForm(UploadForm):
    reason = TextAreaField("Reason for the change", validators=[_reason_check])
    template_fix = BooleanField("The change to a message's wording only fixes a typo")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    size = f"{limit // 2**20} MB" if limit >= 2**20 else f"{limit // 2**10} KB"
    problem = Problem("", None, None, f"the upload is larger than {size} altogether")
    return render_template(
        "researcher/upload.html",
        form=UploadForm(formdata=None),
        checked=None,
        items=[_item(problem, None)],
        created=None,
        step="new",
    ), 413


@bp.route("/trials/new", methods=["GET", "POST"])
@allow(RESEARCHER)
def new_trial() -> ResponseReturnValue:
    form = UploadForm()
    if not form.validate_on_submit():
        return _upload_page(form, None, "new")
    upload, checked = _check_upload(form)
    if not checked.ok or _action() != "create":
        return _upload_page(form, (upload, checked), "new")
    assert checked.loaded is not None
    trial_id = checked.loaded.definition.id
    if g.db.get(Trial, trial_id) is not None:
        refusal = Problem(
            "",
            None,
            None,
            f"a trial with id '{trial_id}' already exists: upload a new version on its page, "
            "or change the id",
        )
        return _upload_page(form, (upload, checked), "new", refusal=refusal)
    trials.create_trial(g.db, _clock(), checked.loaded, _actor())
    g.db.commit()
    created = trials.current_version(g.db, trials.get_trial(g.db, trial_id))
    return _upload_page(form, (upload, checked), "new", created=created)


@bp.get("/trials/<trial_id>/manage")
@allow(RESEARCHER)
def manage(trial_id: str) -> ResponseReturnValue:
    trial = _trial(trial_id)
    return render_template(
        "researcher/manage.html",
        trial=trial,
        current=trials.current_version(g.db, trial),
        versions=list(reversed(trials.versions(g.db, trial_id))),
        definition=trials.current_definition(g.db, trial),
    )


@bp.route("/trials/<trial_id>/launch", methods=["GET", "POST"])
@allow(RESEARCHER)
def launch(trial_id: str) -> ResponseReturnValue:
    trial = _trial(trial_id)
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
    trial = _trial(trial_id)
    form = AmendForm()
    if trial.status == TrialStatus.CLOSED:
        flash("This trial is closed and cannot be amended.", "error")
        return redirect(url_for(".manage", trial_id=trial_id))
    if not form.is_submitted():
        return _upload_page(form, None, "amend", trial=trial)
    form.validate()  # field errors are shown with the files' own problems, all at once
    upload, checked = _check_upload(form)
    reason = (form.reason.data or "").strip()
    if not reason and checked.ok and not form.reason.errors:
        form.reason.errors.append("give the reason for the amendment; it is kept with it")
    if (unstorable_reason := unstorable_message(reason)) and not form.reason.errors:
        form.reason.errors.append(unstorable_reason)
    if form.errors or not checked.ok or checked.loaded is None:
        return _upload_page(form, (upload, checked), "amend", trial=trial)
    try:
        version = trials.amend_trial(
            g.db,
            _clock(),
            trial_id,
            checked.loaded,
            _actor(),
            reason=reason,
            template_fix=bool(form.template_fix.data),
        )
    except TrialStateError as exc:
        g.db.rollback()
        refusal = Problem("", None, None, _web_words(exc.message))
        return _upload_page(form, (upload, checked), "amend", trial=trial, refusal=refusal)
    g.db.commit()
    flash(
        f"Amended: version {version.version} (changed: {', '.join(version.changed_fields)}), "
        f"SHA-256 {version.sha256}.",
        "info",
    )
    return redirect(url_for(".manage", trial_id=trial_id))


def _check_upload(form: UploadForm) -> tuple[Upload, Checked]:
    definition = _file(form.definition.data)
    letters = [f for f in (_file(d) for d in form.letters.data or []) if f is not None]
    upload = load_upload(definition, letters)
    check: Checker = current_app.extensions["trial_pages.check"]
    return upload, check(upload.result)


def _file(storage: Any) -> UploadedFile | None:
    if not isinstance(storage, FileStorage) or not storage.filename:
        return None
    return UploadedFile(own_name(storage.filename), storage.read())


def _upload_page(
    form: UploadForm,
    outcome: tuple[Upload, Checked] | None,
    step: str,
    *,
    trial: Trial | None = None,
    refusal: Problem | None = None,
    created: Any = None,
) -> ResponseReturnValue:
    items, checked = [], None
    if outcome is not None:
        upload, checked = outcome
        problems = [*checked.problems, *upload.warnings, *([refusal] if refusal else [])]
        items = [*_field_items(form), *(_item(p, upload.source_text) for p in problems)]
    failed = any(item["severity"] == "error" for item in items)
    template = "researcher/upload.html" if step == "new" else "researcher/amend.html"
    page = render_template(
        template, form=form, checked=checked, items=items, created=created, trial=trial, step=step
    )
    return page, (422 if failed else 201 if created else 200)


def _field_items(form: UploadForm) -> list[dict[str, Any]]:
    """Each form field's errors, linked to the field, saying that files must be chosen again."""
    return [
        {
            **_item(
                Problem("", None, None, f"{form[name].label.text}: {error}. {CHOOSE_AGAIN}"), None
            ),
            "field": form[name].id,
        }
        for name, errors in form.errors.items()
        if name != "csrf_token"
        for error in errors
    ]


def _item(problem: Problem, source_text: str | None) -> dict[str, Any]:
    shown = excerpt(source_text, problem)
    return {
        "file": problem.path,
        "line": problem.line,
        "column": problem.column,
        "message": problem.message,
        "severity": problem.severity,
        "excerpt": shown[0] if shown else None,
        "marker": " " * (shown[1] - 1) + "^" if shown else None,
    }


def _web_words(message: str) -> str:
    """The trial service speaks in CLI options; on the web they are form fields."""
    return message.replace(
        "say so with --template-fix", "tick “The change to a message's wording only fixes a typo”"
    )


def _action() -> str:
    return request.form.get("action", "check")


def _trial(trial_id: str) -> Trial:
    try:
        return trials.get_trial(g.db, trial_id)
    except NotFound:
        abort(404)


def _clock() -> Any:
    return current_app.extensions["nudge"]["clock"]


def _actor() -> trials.Actor:
    return trials.Actor(f"web:{current_user.email}")
