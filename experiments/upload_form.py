"""The upload form's files and problems: what was chosen now or held from before, every
problem the checks found (a refused definition's stand-in checked too), and each problem as
the page lists it, linked to its field or to its place in the file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, current_app, request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from werkzeug.datastructures import FileStorage
from wtforms import HiddenField

from experiments.holding import (
    MAX_BYTES,
    MAX_USER_BYTES,
    Held,
    HoldingArea,
    HoldingRefused,
    database_folder,
)
from experiments.loader import LoadedTrial
from experiments.upload import Upload, UploadedFile, excerpt, own_name
from nudge.errors import Problem

EXPIRED = (
    "the files chosen earlier were kept for an hour after the last check and have been "
    "deleted: choose them again"
)


class UploadForm(FlaskForm):
    definition = FileField("Trial definition (YAML)")
    letters = MultipleFileField("Letter files the definition names (optional)")
    held = HiddenField()


class Checked(Protocol):
    """What the checker returns (messages.checks.CheckedDefinition)."""

    @property
    def loaded(self) -> LoadedTrial | None: ...

    @property
    def problems(self) -> list[Problem]: ...

    @property
    def report(self) -> Any: ...

    @property
    def ok(self) -> bool: ...


Checker = Callable[[LoadedTrial | list[Problem]], Checked]


@dataclass(frozen=True)
class Outcome:
    """Every problem found in one pass; the trial only when there are none."""

    loaded: LoadedTrial | None
    problems: list[Problem]
    report: Any

    @property
    def ok(self) -> bool:
        return self.loaded is not None and not any(p.severity == "error" for p in self.problems)


def check_upload(upload: Upload, check: Checker) -> Checked:
    """The checker's findings; for a refused definition, also what its stand-in shows."""
    checked = check(upload.result)
    if upload.stand_in is None:
        return checked
    found = upload.stand_in.believable(lambda loaded: check(loaded).problems)
    problems = sorted([*checked.problems, *found], key=lambda p: (p.line or 0, p.column or 0))
    return Outcome(None, problems, None)


@dataclass(frozen=True)
class Chosen:
    """The files to check: chosen now, or held from an earlier check of the same form."""

    definition: UploadedFile | None
    letters: list[UploadedFile]
    held: Held | None
    notices: list[Problem] = field(default_factory=list)

    def without_held(self) -> Chosen:
        return replace(self, held=None)


def holding_root(app: Flask) -> Path:
    """NUDGE_HOLDING_DIR in the app's config, else held-uploads in its instance folder."""
    configured = app.config.get("NUDGE_HOLDING_DIR")
    return Path(configured) if configured else Path(app.instance_path) / "held-uploads"


def holding_area(app: Flask) -> HoldingArea:
    settings = app.extensions["nudge"]["settings"]
    return HoldingArea(
        database_folder(holding_root(app), settings.database_url),
        max_bytes=app.config.get("NUDGE_HOLDING_MAX_BYTES", MAX_BYTES),
        max_user_bytes=app.config.get("NUDGE_HOLDING_MAX_USER_BYTES", MAX_USER_BYTES),
    )


def choose(form: UploadForm, owner: str, now: datetime) -> Chosen:
    """The held files, less those ticked to remove, with any chosen now added or replacing
    them by name; then held again for the next step."""
    area = holding_area(current_app)
    token = form.held.data or None
    before = area.held(token, owner, now)
    notices = [Problem("", None, None, EXPIRED, "warning")] if token and before is None else []
    definition = _file(form.definition.data) or (before.definition if before else None)
    new_letters = [f for f in (_file(d) for d in form.letters.data or []) if f is not None]
    removed = set(request.form.getlist("remove")) | {f.name for f in new_letters}
    kept = [f for f in (before.letters if before else []) if f.name not in removed]
    letters = [*kept, *new_letters]
    if definition is None and not letters:
        return Chosen(None, [], None, notices)
    try:
        held = area.hold(token if before else None, owner, now, definition, letters)
    except HoldingRefused as exc:
        refused = Problem("", None, None, exc.message, "warning")
        return Chosen(definition, letters, None, [*notices, refused])
    return Chosen(definition, letters, held, notices)


def _file(storage: Any) -> UploadedFile | None:
    if not isinstance(storage, FileStorage) or not storage.filename:
        return None
    return UploadedFile(own_name(storage.filename), storage.read())


def items_for(
    problems: list[Problem], source_text: str | None, chosen: Chosen | None, form: FlaskForm
) -> list[dict[str, Any]]:
    """Each problem as the page lists it: the form's own field errors first, then the files'.

    A problem with the files themselves (none chosen, not YAML, a letter refused) links to
    the file input that fixes it; one at a place in the file links to its own entry, which
    shows the line.
    """
    items = [
        {**_item(Problem("", None, None, f"{form[name].label.text}: {error}"), None), "field": name}
        for name, errors in form.errors.items()
        if name not in ("csrf_token", "held", "reviewed")
        for error in errors
    ]
    for problem in problems:
        items.append({**_item(problem, source_text), "field": _field_of(problem, chosen)})
    for number, item in enumerate(items, 1):
        item["anchor"] = item["field"] or f"problem-{number}"
    return items


def _field_of(problem: Problem, chosen: Chosen | None) -> str | None:
    if problem.line is not None:
        return None
    letters = {letter.name for letter in chosen.letters} if chosen else set()
    if problem.path in letters or "letter files" in problem.message:
        return "letters"
    return "definition"


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
        "field": None,
    }
