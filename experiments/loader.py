"""Load a trial's YAML: parse with positions, validate the schema, read template files."""

from __future__ import annotations

import codecs
import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.reader import ReaderError

from experiments.characters import unstorable, unstorable_message
from experiments.definition import TemplateFile, TrialDefinition
from experiments.files import input_problem
from experiments.positions import Positions
from experiments.schema_words import in_words
from experiments.set_aside import PLACEHOLDER, set_aside
from nudge.errors import Problem

MAX_TEMPLATE_FILE_BYTES = 200_000
MAX_DEFINITION_CHARACTERS = 1_000_000
MAX_VALUES = 100_000  # the example has about 200; a bigger tree is a mistake or an attack
MAX_DEPTH = 50
_TOO_DEEP = f"YAML: the definition is nested more than {MAX_DEPTH} levels deep"
_BRACKETS = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class LoadedTrial:
    """A definition that passed the schema, with its source, positions and resolved texts."""

    definition: TrialDefinition
    source_name: str
    source_text: str
    positions: Positions
    texts: dict[str, dict[str, str]]
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: tuple[str | int, ...], *, key: bool = False) -> tuple[int, int]:
        return self.positions.of(path, key=key)

    def problem(self, path: tuple[str | int, ...], message: str, **kwargs: Any) -> Problem:
        line, column = self.where(path, key=kwargs.pop("key", False))
        return Problem(self.source_name, line, column, message, **kwargs)


def parse_yaml(text: str, source_name: str) -> tuple[Any, list[Problem]]:
    """Parse YAML 1.2 keeping positions; a syntax error or duplicate key becomes a Problem."""
    try:
        problem = _too_deep(text, source_name)
        if problem:
            return None, [problem]
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        return None, [Problem(source_name, line, col, f"YAML syntax: {what}")]
    except ReaderError as exc:
        line, col = _line_and_column(text, exc.position)
        return None, [
            Problem(
                source_name, line, col, f"YAML syntax: character {exc.character!r} is not allowed"
            )
        ]
    except YAMLError as exc:
        return None, [Problem(source_name, 1, 1, f"YAML syntax: {exc}")]
    except RecursionError:
        return None, [
            Problem(source_name, 1, 1, "YAML: nested too deeply to be a trial definition")
        ]
    problem = _too_large(document, source_name)
    return (None, [problem]) if problem else (document, [])


def _too_deep(text: str, source_name: str) -> Problem | None:
    """Refuse deep nesting before the (recursive) composer sees it.

    Brackets are counted first, because ruamel's scanner slows down quadratically inside deep
    [ and { nesting; then the parser's events catch deep indentation.
    """
    depth = 0
    for bracket in _BRACKETS.finditer(text):
        depth = max(depth + (1 if bracket.group() in "[{" else -1), 0)
        if depth > MAX_DEPTH:
            line, column = _line_and_column(text, bracket.start())
            return Problem(source_name, line, column, _TOO_DEEP)
    depth = 0
    for event in YAML(typ="rt").parse(text):
        if isinstance(event, MappingStartEvent | SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                return Problem(
                    source_name,
                    mark.line + 1,
                    mark.column + 1,
                    _TOO_DEEP,
                )
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            depth -= 1
    return None


def _line_and_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def _too_large(document: Any, source_name: str) -> Problem | None:
    """Aliases can make a short file expand to billions of values: refuse that, and deep nesting.

    The walk stops at the limits, so a bomb costs no more than MAX_VALUES steps to detect.
    """
    stack: list[tuple[Any, int]] = [(document, 1)]
    values = 0
    while stack:
        node, depth = stack.pop()
        values += 1
        if values > MAX_VALUES or depth > MAX_DEPTH:
            line, col = _where(node)
            what = (
                f"has more than {MAX_VALUES:,} values once aliases (*name) are expanded"
                if values > MAX_VALUES
                else f"is nested more than {MAX_DEPTH} levels deep"
            )
            return Problem(source_name, line, col, f"YAML: the definition {what}")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in (*node.keys(), *node.values()))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return None


def _where(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is not None and lc.line is not None:
        return lc.line + 1, lc.col + 1
    return 1, 1


def load_trial_text(text: str, source_name: str, base_dir: Path) -> LoadedTrial | list[Problem]:
    """Validate a definition's text; returns the loaded trial, or every problem found."""
    return read_trial_text(text, source_name, base_dir).result


@dataclass(frozen=True)
class StandIn:
    """A refused definition loaded twice with its invalid values set aside (set_aside.py), so
    that the design and message checks can still look at the rest of it."""

    first: LoadedTrial
    second: LoadedTrial
    places: frozenset[tuple[int, int]]  # where the values set aside stand in the file

    def believable(self, check: Callable[[LoadedTrial], list[Problem]]) -> list[Problem]:
        """What `check` finds in both copies alike, away from what was set aside."""
        found = check(self.first)
        other = set(found if self.second is self.first else check(self.second))
        return [
            problem
            for problem in found
            if problem in other
            and (problem.line, problem.column) not in self.places
            and PLACEHOLDER not in problem.message
        ]


@dataclass(frozen=True)
class Reading:
    """What reading a definition found: the trial, or its problems and, when the rest of it
    can still be checked, a stand-in for the checks."""

    result: LoadedTrial | list[Problem]
    stand_in: StandIn | None = None


def read_trial_text(text: str, source_name: str, base_dir: Path) -> Reading:
    """Validate a definition's text: the schema and every letter file it names, all at once."""
    if len(text) > MAX_DEFINITION_CHARACTERS:
        return Reading(
            [
                Problem(
                    source_name,
                    1,
                    1,
                    f"the definition is {len(text):,} characters long; a trial definition is a "
                    f"few thousand (at most {MAX_DEFINITION_CHARACTERS:,})",
                )
            ]
        )
    document, problems = parse_yaml(text, source_name)
    if problems:
        return Reading(problems)
    if not isinstance(document, dict):
        return Reading(
            [Problem(source_name, 1, 1, "a trial definition is a mapping of keys such as id:")]
        )
    positions = Positions(document)
    unstorable = list(_unstorable_text(document, (), source_name, positions))
    if unstorable:
        return Reading(unstorable)
    plain = _plain(document)
    source = _Source(source_name, text, positions, base_dir)
    try:
        definition = TrialDefinition.model_validate(plain)
    except ValidationError as exc:
        return _refused(source, plain, exc.errors())
    texts, file_problems = _resolve_texts(definition.templates, source)
    loaded = LoadedTrial(definition, source_name, text, positions, texts)
    if not file_problems:
        return Reading(loaded)
    places = frozenset((p.line or 0, p.column or 0) for p in file_problems)
    return Reading(file_problems, StandIn(loaded, loaded, places))


@dataclass(frozen=True)
class _Source:
    name: str
    text: str
    positions: Positions
    base_dir: Path


def _refused(source: _Source, plain: dict[str, Any], errors: list[Any]) -> Reading:
    """The schema's problems, the letter files' problems, and a stand-in when one can be made."""
    schema = [_schema_problem(error, source.name, source.positions) for error in errors]
    _, file_problems = _resolve_texts(plain.get("templates"), source)
    problems = sorted([*schema, *file_problems], key=lambda p: (p.line or 0, p.column or 0))
    aside = set_aside(plain, errors)
    if aside is None:
        return Reading(problems)
    first, second = (
        LoadedTrial(
            definition,
            source.name,
            source.text,
            source.positions,
            _resolve_texts(definition.templates, source)[0],
        )
        for definition in (aside.first, aside.second)
    )
    places = {source.positions.of(path, key=key) for path in aside.paths for key in (False, True)}
    places |= {(p.line or 0, p.column or 0) for p in problems}
    return Reading(problems, StandIn(first, second, frozenset(places)))


def load_trial_file(path: Path) -> LoadedTrial | list[Problem]:
    """Read and validate a definition file; template files are found relative to it."""
    name = str(path)
    problem = input_problem(path)
    if problem:
        return [Problem(name, None, None, problem)]
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [Problem(name, None, None, "no such file")]
    except OSError as exc:
        return [Problem(name, None, None, f"cannot read: {exc.strerror}")]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return [Problem(name, 1, 1, "the file is UTF-16 text: save it as UTF-8")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return [Problem(name, line, column, f"not UTF-8 text (byte {exc.start}): save it as UTF-8")]
    return load_trial_text(text, name, path.parent)


def _unstorable_text(
    node: Any, path: tuple[str | int, ...], source_name: str, positions: Positions
) -> Iterator[Problem]:
    """Every key or value holding text no database can store (NUL, a lone surrogate).

    Checked before the schema, because a file path or a title holding one breaks whatever
    touches it first: the file system, the database, or the UTF-8 encoder.
    """
    if isinstance(node, str):
        message = unstorable_message(node)
        if message:
            line, column = positions.of(path)
            yield Problem(source_name, line, column, f"{_label(path)}: {message}")
    elif isinstance(node, dict):
        for key, item in node.items():
            message = unstorable_message(key) if isinstance(key, str) else None
            if message:
                line, column = positions.of((*path, key), key=True)
                yield Problem(source_name, line, column, f"{_label((*path, key))}: {message}")
                continue
            yield from _unstorable_text(item, (*path, key), source_name, positions)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _unstorable_text(item, (*path, i), source_name, positions)


def _label(path: tuple[Any, ...]) -> str:
    """The dotted path, a lone surrogate in a key written as its escape so it can be printed."""
    dotted = _dotted(list(path)) or "the definition"
    return dotted.encode("utf-8", "backslashreplace").decode("utf-8")


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists, for pydantic."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _schema_problem(error: Any, source_name: str, positions: Positions) -> Problem:
    loc = tuple(error["loc"])
    path = _dotted(list(loc))
    kind = error["type"]
    if kind == "missing":
        message = f"missing required key '{loc[-1]}'"
        path = _dotted(list(loc[:-1]))
        line, col = positions.of(loc[:-1])
    elif kind == "extra_forbidden" and loc[0] == "arms" and loc[-1] in ("surveys", "survey"):
        message = (
            f"a survey cannot be declared under an arm: it is measurement, not treatment, so "
            f"every arm (control included) is asked alike; move '{loc[-1]}' to the top-level "
            "surveys: key"
        )
        path = _dotted(list(loc[:-1]))
        line, col = positions.of(loc, key=True)
    elif kind == "extra_forbidden":
        message = f"unknown key '{loc[-1]}'" + _suggestion(loc)
        path = _dotted(list(loc[:-1]))
        line, col = positions.of(loc, key=True)
    else:
        message = in_words(error)
        line, col = positions.of(loc)
    prefix = f"{path}: " if path else ""
    return Problem(source_name, line, col, prefix + message)


def _suggestion(loc: tuple[Any, ...]) -> str:
    allowed = _allowed_keys(TrialDefinition, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f" (allowed here: {', '.join(sorted(allowed))})" if allowed else ""


def _allowed_keys(model: Any, path: tuple[Any, ...]) -> list[str]:
    """The keys a schema model accepts at `path`, following nested models and lists of them."""
    current = model
    for step in path:
        if isinstance(step, int) or not hasattr(current, "model_fields"):
            continue
        info = current.model_fields.get(step) or next(
            (f for f in current.model_fields.values() if f.alias == step), None
        )
        if info is None:
            return []
        current = _inner_model(info.annotation)
    if not hasattr(current, "model_fields"):
        return []
    return [f.alias or name for name, f in current.model_fields.items()]


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if hasattr(found, "model_fields"):
            return found
    return annotation


def _dotted(steps: list[Any]) -> str:
    text = ""
    for step in steps:
        if step in ("text-template", "file-template"):
            continue
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _resolve_texts(
    templates: Any, source: _Source
) -> tuple[dict[str, dict[str, str]], list[Problem]]:
    """Each template's text, read from its file where it names one; a problem per file that
    cannot be read. `templates` is the schema's, or the YAML's as written when the schema
    refused the file, so that the letter files are checked either way."""
    texts: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    for name, languages in (templates if isinstance(templates, dict) else {}).items():
        texts[name] = {}
        for language, value in (languages if isinstance(languages, dict) else {}).items():
            if isinstance(value, str):
                texts[name][language] = value
                continue
            relative = value.file if isinstance(value, TemplateFile) else _file_named(value)
            if relative is None:
                continue
            text_or_error = _read_template_file(source.base_dir, relative)
            if isinstance(text_or_error, Problem):
                where = source.positions.of(("templates", name, language, "file"))
                problems.append(
                    Problem(
                        source.name,
                        *where,
                        f"templates.{name}.{language}.file: " + text_or_error.message,
                    )
                )
                continue
            texts[name][language] = text_or_error
    return texts, problems


def _file_named(value: Any) -> str | None:
    """The path a template written as {file: ...} names, when it is written that way."""
    relative = value.get("file") if isinstance(value, dict) else None
    return relative if isinstance(relative, str) else None


def _read_template_file(base_dir: Path, relative: str) -> str | Problem:
    path = (base_dir / relative).resolve()
    if not path.is_relative_to(base_dir.resolve()):
        return Problem("", None, None, f"'{relative}' is outside the definition's folder")
    problem = input_problem(path)
    if problem == "no such file":
        return Problem("", None, None, f"no file '{relative}' next to the definition")
    if problem:
        return Problem("", None, None, f"'{relative}' {problem}")
    try:
        if path.stat().st_size > MAX_TEMPLATE_FILE_BYTES:
            return Problem("", None, None, f"'{relative}' is larger than 200 KB")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return Problem("", None, None, f"no file '{relative}' next to the definition")
    except UnicodeDecodeError:
        return Problem("", None, None, f"'{relative}' is not UTF-8 text")
    except OSError as exc:
        return Problem("", None, None, f"cannot read '{relative}': {exc.strerror}")
    found = unstorable(text)
    if found:
        line = text.count("\n", 0, found[0]) + 1
        return Problem(
            "",
            None,
            None,
            f"'{relative}' line {line}: contains {found[1]}, which is not text; remove it",
        )
    return text


def canonical_form(loaded: LoadedTrial) -> dict[str, Any]:
    """The definition with every default filled and template files replaced by their text."""
    data = loaded.definition.model_dump(mode="json", by_alias=True)
    data["templates"] = loaded.texts
    return data


def canonical_json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(data: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()
