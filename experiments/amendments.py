"""What an amendment changes, and whether a launched trial may accept it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from nudge.errors import printable

# After launch only these may change: how and when messages go out, not who gets what.
OPERATIONAL = (
    "title",
    "sending.quiet_hours",
    "sending.sms_from",
    "sending.notify_sms_sender_id",
    "sending.max_per_second",
    "sending.care_unit_phone",
    "sending.help_text",
    "costs",
    "mapping",
    "replies",  # which replies staff read first, not what anyone is sent
)
TEMPLATES = "templates"
# Labels only name things for people (docs/trial-definition.md): a clearer one may come later.
LABEL = re.compile(
    r"(outcomes\[\d+\]|outcomes\[\d+\]\.population|population\.eligibility\[\d+\]"
    r"|analysis\.columns\.[^.]+)\.label"
)
# An arm's tags say what it tests, for pooling closed trials: a tag may be added after launch.
TAGS = re.compile(r"arms\[\d+\]\.tags(\[\d+\])?")


# A long text is shown around what changed, with this many characters either side of it.
CONTEXT = 25
LONGEST_VALUE = 120
Steps = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldChange:
    """One changed field: where (`arms[2].weight`, and for people `arms.social_norm.weight`),
    its kind, and its old and new values as shown to people."""

    path: str
    field: str
    kind: str
    old: str
    new: str
    steps: Steps = ()  # the path as keys and positions, to find it in the file

    def stored(self) -> dict[str, str]:
        return {"field": self.field, "kind": self.kind, "old": self.old, "new": self.new}


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Each field two canonical definitions differ in, old and new value side by side.

    Arms and outcomes are named by their ids (`arms.practical.weight`, not `arms[1].weight`),
    and matched by id when one is added or removed, so the change reads as `arms.extra: added`
    rather than as the whole list of arms.
    """
    changes = []
    for steps, before, after in _differences(old, new, ()):
        path = _dotted(steps)
        shown_old, shown_new = shown_pair(before, after)
        named = _named(steps, old, new)
        cut = next((i for i, step in enumerate(steps) if isinstance(step, _Id)), len(steps))
        located = steps[:cut]
        changes.append(
            FieldChange(path, named, kind_of_change(path), shown_old, shown_new, located)
        )
    return changes


def _differences(old: Any, new: Any, steps: Steps) -> Iterator[tuple[Steps, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            yield from _differences(old.get(key, _ABSENT), new.get(key, _ABSENT), (*steps, key))
        return
    if isinstance(old, list) and isinstance(new, list) and _nested(old + new):
        by_id_old, by_id_new = _by_id(old), _by_id(new)
        if len(old) == len(new) and (by_id_old is None or list(by_id_old) == list(by_id_new or [])):
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                yield from _differences(a, b, (*steps, i))
            return
        if by_id_old is not None and by_id_new is not None:
            for key in [*by_id_old, *(k for k in by_id_new if k not in by_id_old)]:
                yield from _differences(
                    by_id_old.get(key, _ABSENT), by_id_new.get(key, _ABSENT), (*steps, _Id(key))
                )
            return
    if old != new or type(old) is not type(new):
        yield steps, old, new


def _nested(items: list[Any]) -> bool:
    """A list of plain values (block sizes, strata) reads best as one value, old and new."""
    return any(isinstance(item, dict | list) for item in items)


class _Id(str):
    """An item of a list named by its id, where the lists no longer line up by position."""


_ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "absent"})()


def _by_id(items: list[Any]) -> dict[str, Any] | None:
    ids = [item.get("id") if isinstance(item, dict) else None for item in items]
    if not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        return None
    return dict(zip(ids, items, strict=True))  # type: ignore[arg-type]


def _dotted(steps: Steps) -> str:
    """The canonical path: by position, as `changed_paths` says it (a list matched by id is
    named as a whole, as it is there)."""
    text = ""
    for step in steps:
        if isinstance(step, _Id):
            break
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _named(steps: Steps, old: Any, new: Any) -> str:
    """The path for people: a list item with an id is named by it."""
    parts: list[str] = []
    nodes = [old, new]
    for step in steps:
        if isinstance(step, int):
            item = next((n[step] for n in nodes if isinstance(n, list) and step < len(n)), None)
            name = item.get("id") if isinstance(item, dict) else None
            parts.append(name if isinstance(name, str) else f"[{step}]")
        else:
            parts.append(str(step))
        nodes = [_child(n, step) for n in nodes]
    return ".".join(parts).replace(".[", "[")


def _child(node: Any, step: str | int) -> Any:
    if isinstance(step, _Id) and isinstance(node, list):
        return next((i for i in node if isinstance(i, dict) and i.get("id") == step), None)
    if isinstance(node, dict) and not isinstance(step, int):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and step < len(node):
        return node[step]
    return None


def shown_pair(old: Any, new: Any) -> tuple[str, str]:
    """Two values as people read them; two long texts only around where they differ."""
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > 2 * CONTEXT:
        start = next(
            (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
            min(len(old), len(new)),
        )
        end = 0
        while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
            end += 1
        return _around(old, start, end), _around(new, start, end)
    return shown_value(old), shown_value(new)


def _around(text: str, start: int, end: int) -> str:
    first = max(start - CONTEXT, 0)
    last = min(len(text) - end + CONTEXT, len(text))
    middle = printable(text[first:last])
    return f"'{'…' if first else ''}{middle}{'…' if last < len(text) else ''}'"


def shown_value(value: Any) -> str:
    if value is _ABSENT:
        return "(none)"
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = printable(value)
        return f"'{text}'" if len(text) <= LONGEST_VALUE else f"'{text[:LONGEST_VALUE]}…'"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return printable(text if len(text) <= LONGEST_VALUE else text[:LONGEST_VALUE] + "…")


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two canonical definitions differ (`arms[1].weight`)."""
    if isinstance(old, dict) and isinstance(new, dict):
        paths = []
        for key in sorted(set(old) | set(new), key=str):
            child = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                paths.append(child)
            else:
                paths.extend(changed_paths(old[key], new[key], child))
        return paths
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            p
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for p in changed_paths(a, b, f"{prefix}[{i}]")
        ]
    return [] if old == new else [prefix]


def kind_of_change(path: str) -> str:
    """'operational', 'template' (a flagged typo fix) or 'design' (never after launch)."""
    if any(path == allowed or path.startswith(allowed + ".") for allowed in OPERATIONAL):
        return "operational"
    if LABEL.fullmatch(path) or TAGS.fullmatch(path):
        return "operational"
    if path == TEMPLATES or path.startswith(TEMPLATES + "."):
        return "template"
    return "design"


def value_at(data: Any, path: str) -> Any:
    """The value a dotted path names in a canonical definition, or None when absent."""
    node = data
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            index = int(part[1:-1])
            node = node[index] if isinstance(node, list) and index < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
    return node


class PausePeriod(Protocol):
    """A pause as stored (nudge.models.Pause): an arm's key, or None for the whole trial."""

    arm_key: str | None
    reason: str
    paused_at: datetime
    paused_by: str
    resumed_at: datetime | None
    resumed_by: str | None


@dataclass(frozen=True)
class AllocationChange:
    """A change of the arms open to new participants, by a pause or a resume under
    `randomisation.paused_arm_enrolment: exclude`: a design change, listed with the versions."""

    at: datetime
    by: str
    what: str  # "Social norm paused", "the whole trial resumed"
    reason: str | None
    open_arms: tuple[str, ...]  # the arms' titles, open after the change
    every_arm: bool = False  # every arm is open after it

    @property
    def words(self) -> str:
        if self.every_arm:
            return "new participants allocated among every arm again"
        if len(self.open_arms) < 2:
            return "nobody new can be randomised (fewer than two arms open)"
        return f"new participants allocated among {', '.join(self.open_arms)}"


def allocation_changes(
    pauses: Iterable[PausePeriod], titles: Mapping[str, str]
) -> list[AllocationChange]:
    """Each time the arms open to new units changed, oldest first, from the trial's pauses
    (`titles`: each arm's id and title, in declared order)."""
    events: list[tuple[datetime, int, PausePeriod, bool]] = []
    for order, pause in enumerate(pauses):
        events.append((pause.paused_at, order, pause, True))
        if pause.resumed_at is not None:
            events.append((pause.resumed_at, order, pause, False))
    events.sort(key=lambda event: (event[0], not event[3], event[1]))
    active: list[PausePeriod] = []
    closed: set[str] = set()
    changes = []
    for at, _, pause, starts in events:
        if starts:
            active.append(pause)
        else:
            active.remove(pause)
        keys = {p.arm_key for p in active}
        now_closed = set(titles) if None in keys else {k for k in keys if k is not None}
        if now_closed == closed:
            continue
        closed = now_closed
        named = "the whole trial" if pause.arm_key is None else titles.get(pause.arm_key, "")
        by = pause.paused_by if starts else (pause.resumed_by or "")
        changes.append(
            AllocationChange(
                at=at,
                by=by,
                what=f"{named} {'paused' if starts else 'resumed'}",
                reason=pause.reason if starts else None,
                open_arms=tuple(title for key, title in titles.items() if key not in closed),
                every_arm=not closed,
            )
        )
    return changes
