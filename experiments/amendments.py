"""What an amendment changes, and whether a launched trial may accept it."""

from __future__ import annotations

import re
from typing import Any

# After launch only these may change: how and when messages go out, not who gets what.
OPERATIONAL = (
    "title",
    "sending.quiet_hours",
    "sending.sms_from",
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
    if LABEL.fullmatch(path):
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
