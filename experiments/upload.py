"""A trial definition uploaded through the web: the YAML file plus the letter files it names.

A browser sends only a file's own name, never its folder, so a letter the YAML names as
`letters/social_norm.md` is matched with an uploaded file called `social_norm.md`. The files
are laid out in a private temporary folder exactly as the YAML names them and loaded with the
same loader as `nudge trial validate`, so the web and the command line accept the same trials.
"""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from experiments.loader import (
    MAX_TEMPLATE_FILE_BYTES,
    LoadedTrial,
    StandIn,
    parse_yaml,
    read_trial_text,
)
from experiments.positions import Positions
from nudge.errors import Problem

MAX_DEFINITION_BYTES = 1_000_000
MAX_LETTER_FILES = 20
DEFINITION_SUFFIXES = (".yaml", ".yml")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar")


@dataclass(frozen=True)
class UploadedFile:
    """One file as the browser sent it: its own name (no folder) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Upload:
    """What the loader made of an upload, plus warnings about the upload itself."""

    result: LoadedTrial | list[Problem]
    source_text: str | None
    warnings: list[Problem]
    stand_in: StandIn | None = None  # for the checks when `result` is a list of problems


@dataclass(frozen=True)
class _Reference:
    """A `{file: ...}` template in the YAML: where it stands and the path it names."""

    where: tuple[int, int]
    relative: str

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.relative.replace("\\", "/")).name


def own_name(name: str | None) -> str:
    """The file's own name: some browsers send a full Windows path."""
    return PureWindowsPath(PurePosixPath(name or "").name).name[:200]


def load_upload(definition: UploadedFile | None, letters: list[UploadedFile]) -> Upload:
    """Check the uploaded files and load the definition; nothing is written anywhere lasting.

    Every problem is found in one pass: a refused letter file does not stop the definition
    being read, and a definition the schema refuses still has its letter files checked.
    """
    text_or_problem = _definition_text(definition)
    letter_problems = list(_letter_problems(letters))
    if isinstance(text_or_problem, Problem):
        return Upload([text_or_problem, *letter_problems], None, [])
    assert definition is not None
    name, text = definition.name, text_or_problem
    refused = {problem.path for problem in letter_problems}
    if len(letters) > MAX_LETTER_FILES:
        refused = {letter.name for letter in letters}
    document, syntax = parse_yaml(text, name)
    if syntax:
        return Upload([*letter_problems, *syntax], text, [])
    references = list(_references(document))
    clash = _name_clash(name, references) + _file_and_folder(name, references)
    clashing = {(problem.line, problem.column) for problem in clash}
    by_name = {letter.name: letter for letter in letters if letter.name not in refused}
    with tempfile.TemporaryDirectory(prefix="nudge-upload-") as folder:
        base = Path(folder)
        laid_out = [reference for reference in references if reference.where not in clashing]
        missing, unwritable = _lay_out(base, name, laid_out, by_name)
        reading = read_trial_text(text, name, base)
    own = [*letter_problems, *clash, *unwritable]
    # A letter refused above, or a path that cannot be used, is not also "not uploaded".
    said = clashing | {(problem.line, problem.column) for problem in unwritable}
    said |= {where for where, reference in missing.items() if reference.file_name in refused}
    result, stand_in = reading.result, reading.stand_in
    if isinstance(result, list):
        result = [
            _web_wording(problem, missing)
            for problem in result
            if (problem.line, problem.column) not in said
        ]
    elif own:
        stand_in = StandIn(result, result, frozenset())
        result = []
    return Upload(
        [*own, *result] if isinstance(result, list) else result,
        text,
        _unused(letters, references),
        stand_in,
    )


def _unused(letters: list[UploadedFile], references: list[_Reference]) -> list[Problem]:
    named = {reference.file_name for reference in references}
    return [
        Problem(
            letter.name,
            None,
            None,
            "the definition does not name this file, so it was ignored",
            severity="warning",
        )
        for letter in letters
        if letter.name not in named
    ]


def _definition_text(upload: UploadedFile | None) -> str | Problem:
    if upload is None or not upload.name:
        return Problem("", None, None, "choose the trial definition file (.yaml) to upload")
    name = upload.name
    if not name.lower().endswith(DEFINITION_SUFFIXES):
        return Problem(
            name, None, None, "is not a YAML file: upload the trial definition, saved as .yaml"
        )
    if not upload.data.strip():
        return Problem(name, None, None, "the file is empty")
    if len(upload.data) > MAX_DEFINITION_BYTES:
        return Problem(name, None, None, "is larger than 1 MB; a trial definition is much smaller")
    try:
        return upload.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Problem(name, None, None, f"not UTF-8 text (byte {exc.start}): save it as UTF-8")


def _letter_problems(letters: list[UploadedFile]) -> Iterator[Problem]:
    if len(letters) > MAX_LETTER_FILES:
        yield Problem("", None, None, f"at most {MAX_LETTER_FILES} letter files at once")
        return
    seen: set[str] = set()
    for letter in letters:
        if letter.name.lower().endswith(ARCHIVE_SUFFIXES):
            yield Problem(
                letter.name,
                None,
                None,
                "archives are not accepted: choose the letter files themselves",
            )
        elif letter.name in seen:
            yield Problem(letter.name, None, None, "chosen twice: choose each letter file once")
        elif len(letter.data) > MAX_TEMPLATE_FILE_BYTES:
            yield Problem(letter.name, None, None, "is larger than 200 KB")
        seen.add(letter.name)


def _references(document: Any) -> Iterator[_Reference]:
    """Every `templates.NAME.LANGUAGE.file` the YAML names, read before the schema check."""
    templates = document.get("templates") if isinstance(document, dict) else None
    if not isinstance(templates, dict):
        return
    positions = Positions(document)
    for template, languages in templates.items():
        if not isinstance(languages, dict):
            continue
        for language, value in languages.items():
            if isinstance(value, dict) and isinstance(value.get("file"), str):
                where = positions.of(("templates", template, language, "file"))
                yield _Reference(where, value["file"])


def _name_clash(source_name: str, references: list[_Reference]) -> list[Problem]:
    """Two different paths with one file name cannot both be matched to an uploaded file."""
    first: dict[str, _Reference] = {}
    problems = []
    for reference in references:
        earlier = first.setdefault(reference.file_name, reference)
        if earlier.relative != reference.relative:
            problems.append(
                Problem(
                    source_name,
                    *reference.where,
                    f"'{reference.relative}' and '{earlier.relative}' have the same file name; "
                    "give the letter files different names to upload them",
                )
            )
    return problems


def _file_and_folder(source_name: str, references: list[_Reference]) -> list[Problem]:
    """A path named as a letter file cannot also be a folder holding another letter file."""
    files = {_parts(reference): reference for reference in references}
    problems = []
    for reference in references:
        parts = _parts(reference)
        folder = next((files[parts[:n]] for n in range(1, len(parts)) if parts[:n] in files), None)
        if folder is not None:
            problems.append(
                Problem(
                    source_name,
                    *reference.where,
                    f"'{reference.relative}' puts a letter inside '{folder.relative}', which line "
                    f"{folder.where[0]} names as a letter file: a path cannot be a file and a "
                    "folder at once; rename the file or the folder in the definition",
                )
            )
    return problems


def _parts(reference: _Reference) -> tuple[str, ...]:
    return tuple(part for part in posixpath.normpath(reference.relative).split("/") if part)


def _lay_out(
    base: Path, source_name: str, references: list[_Reference], by_name: dict[str, UploadedFile]
) -> tuple[dict[tuple[int, int], _Reference], list[Problem]]:
    """Write each named letter where the YAML expects it; return the ones not uploaded and
    a located problem for any path the file system refuses (a NUL, a name too long...)."""
    missing, problems = {}, []
    for reference in references:
        upload = by_name.get(reference.file_name)
        try:
            target = (base / reference.relative).resolve()
            if not target.is_relative_to(base.resolve()):
                continue  # the loader reports a path outside the definition's folder
            if upload is None:
                missing[reference.where] = reference
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(upload.data)
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(
                Problem(
                    source_name,
                    *reference.where,
                    f"'{reference.relative}' cannot be used as a letter file's path ({why}): "
                    "name it with a short path of ordinary names, such as letters/reminder.md",
                )
            )
    return missing, problems


def _web_wording(problem: Problem, missing: dict[tuple[int, int], _Reference]) -> Problem:
    """The loader says a file is not 'next to the definition'; on the web it was not uploaded."""
    reference = missing.get((problem.line or 0, problem.column or 0))
    if reference is None:
        return problem
    cli_words = f"no file '{reference.relative}' next to the definition"
    if not problem.message.endswith(cli_words):
        return problem
    web_words = (
        f"'{reference.relative}' was not uploaded: choose {reference.file_name} "
        "under Letter files, with the definition"
    )
    return replace(problem, message=problem.message.removesuffix(cli_words) + web_words)


def excerpt(source_text: str | None, problem: Problem) -> tuple[str, int] | None:
    """The line of the file a problem points at, and the column to mark (from 1)."""
    if source_text is None or problem.line is None:
        return None
    lines = source_text.splitlines()
    if not 1 <= problem.line <= len(lines):
        return None
    line = lines[problem.line - 1]
    return line[:300], min(max(problem.column or 1, 1), len(line) + 1)
