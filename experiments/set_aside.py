"""A definition with schema errors, its invalid values set aside, so the rest can still be checked.

Without this, a researcher fixes a misspelt key, uploads again, and only then hears that an
arm's weight is 0 or a letter file is missing: problems come in waves. Here each value the
schema refuses is replaced by a stand-in value of the right type (an unknown key is dropped),
twice over with different stand-ins, and the design checks run on both copies. A problem the
checks find is believable only when both copies give it word for word, it is not at a place set
aside, and it does not name a stand-in (see `loader.StandIn.believable`): an arm weight written
"two" stands in as 1 and then 2, so a complaint about the total weight, which depends on it,
differs between the copies and is left out, while a bad timezone elsewhere is reported.

Where a value is wrong as a whole mapping or list (a rule without its operator, a list given
where a mapping belongs), nothing stands in for it: its contents could be what other parts of
the file refer to, and every check would be a guess. Then only the schema problems are shown.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Tag, TypeAdapter, ValidationError

from experiments.definition import TrialDefinition

PLACEHOLDER = "nudge-set-aside"
MAX_SET_ASIDE = 50  # more errors than this is a different file, not a few slips
ROUNDS = 3  # a value set aside can reveal an error the first pass could not see
_TAGS = ("text-template", "file-template")
_NOTHING = object()

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class SetAside:
    """Two copies of a document that pass the schema, and the paths whose values stand in."""

    first: TrialDefinition
    second: TrialDefinition
    paths: list[Path]


def set_aside(document: dict[str, Any], errors: list[Any]) -> SetAside | None:
    """Stand-ins for every value the schema refused, or None when that cannot be done."""
    first, second = copy.deepcopy(document), copy.deepcopy(document)
    paths: list[Path] = []
    for _ in range(ROUNDS):
        if len(paths) + len(errors) > MAX_SET_ASIDE:
            return None
        for error in errors:
            path = tuple(step for step in error["loc"] if step not in _TAGS)
            if not _stand_in(first, second, error, len(paths)):
                return None
            paths.append(path)
        try:
            definition = TrialDefinition.model_validate(first)
        except ValidationError as exc:
            errors = exc.errors()
            continue
        try:
            other = TrialDefinition.model_validate(second)
        except ValidationError:
            other = definition  # no second stand-in fits: the first one alone must do
        return SetAside(definition, other, paths)
    return None


def _stand_in(first: dict[str, Any], second: dict[str, Any], error: Any, number: int) -> bool:
    """Put a stand-in at the error's place in both copies; False when there is none."""
    steps = tuple(step for step in error["loc"] if step not in _TAGS)
    if not steps:
        return False
    parent_first, parent_second = _node(first, steps[:-1]), _node(second, steps[:-1])
    last = steps[-1]
    if not _holds(parent_first, last) and error["type"] != "missing":
        return False
    if error["type"] == "extra_forbidden":
        del parent_first[last], parent_second[last]
        return True
    expected = _expected(error["loc"])
    if expected is None:
        return False
    fits = list(_fitting(*expected, number))
    if not fits or not isinstance(parent_second, dict | list):
        return False
    parent_first[last] = fits[0]
    parent_second[last] = fits[1] if len(fits) > 1 else fits[0]
    return True


def _node(document: Any, steps: Path) -> Any:
    node = document
    for step in steps:
        node = node[step] if _holds(node, step) else None
    return node


def _holds(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)


def _fitting(annotation: Any, default: Any, number: int) -> Iterator[Any]:
    """Plain values the annotation accepts, its default first; at most two, and different.

    None comes when no such value fits: the place holds a mapping or a list, not one value.
    """
    adapter = TypeAdapter(annotation)
    candidates = [
        *([] if default is _NOTHING else [default]),
        *_literal_choices(annotation),
        f"{PLACEHOLDER}-{number}a",
        f"{PLACEHOLDER}-{number}b",
        1,
        2,
        0.5,
        0.25,
        0,
        False,
        True,
        None,
    ]
    found: list[Any] = []
    for candidate in candidates:
        try:
            value = adapter.validate_python(candidate)
        except ValidationError:
            continue
        if value is not None and not isinstance(value, bool | int | float | str):
            continue
        if all(value != earlier or type(value) is not type(earlier) for earlier in found):
            found.append(candidate)
            yield candidate
        if len(found) == 2:
            return


def _literal_choices(annotation: Any) -> list[Any]:
    base = _strip(annotation)
    if typing.get_origin(base) is typing.Literal:
        return list(typing.get_args(base))
    return []


def _expected(loc: tuple[Any, ...]) -> tuple[Any, Any] | None:
    """The type (with its constraints) the schema expects at `loc` and its default (or
    _NOTHING); None when the schema has no such place."""
    current: tuple[Any, Any] = (TrialDefinition, _NOTHING)
    for step in loc:
        found = _step(current[0], step)
        if found is None:
            return None
        current = found
    return current


def _step(annotation: Any, step: str | int) -> tuple[Any, Any] | None:
    if isinstance(step, str) and step in _TAGS:
        return _tagged(annotation, step)
    for member in _choices(_strip(annotation)):
        choice = _strip(member)
        if isinstance(choice, type) and issubclass(choice, BaseModel) and isinstance(step, str):
            info = choice.model_fields.get(step) or next(
                (f for f in choice.model_fields.values() if f.alias == step), None
            )
            if info is not None:
                default = _NOTHING if info.is_required() else info.get_default()
                return _constrained(info.annotation, info.metadata), default
        origin, args = typing.get_origin(choice), typing.get_args(choice)
        if origin is list and isinstance(step, int) and args:
            return args[0], _NOTHING
        if origin is dict and isinstance(step, str) and len(args) == 2:
            return args[1], _NOTHING
    return None


def _constrained(annotation: Any, metadata: list[Any]) -> Any:
    """A model field's type with its constraints (pattern, bounds), as TypeAdapter needs it."""
    return typing.Annotated[annotation, *metadata] if metadata else annotation


def _tagged(annotation: Any, tag: str) -> tuple[Any, Any] | None:
    for choice in _choices(_strip(annotation)):
        metadata = getattr(choice, "__metadata__", ())
        if any(isinstance(m, Tag) and m.tag == tag for m in metadata):
            return choice, _NOTHING
    return None


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _choices(annotation: Any) -> list[Any]:
    """A union's members (as written, tags and all), or the annotation alone."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return list(typing.get_args(annotation))
    return [annotation]
