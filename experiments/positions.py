"""Where each key and value stands in a YAML file, so every problem can name its line and column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

Location = tuple[int, int]  # 1-based line and column


class Positions:
    """Looks up the position of a path such as ('arms', 1, 'weight') in the loaded document."""

    def __init__(self, root: Any) -> None:
        self._root = root

    def of(self, path: Sequence[str | int], *, key: bool = False) -> Location:
        """The position of the value at `path` (or of its key, with key=True).

        Steps that do not exist in the document (a missing key, a pydantic union tag) are
        skipped, so the answer is the deepest place that does exist.
        """
        node, where = self._root, _own(self._root)
        for step in path:
            found = _child(node, step, key=key)
            if found is None:
                continue
            node, where = found
        return where

    def value(self, path: Sequence[str | int]) -> Any:
        node = self._root
        for step in path:
            found = _child(node, step, key=False)
            if found is None:
                return None
            node = found[0]
        return node


def _own(node: Any) -> Location:
    if isinstance(node, CommentedMap | CommentedSeq) and node.lc.line is not None:
        return node.lc.line + 1, node.lc.col + 1
    return 1, 1


def _child(node: Any, step: str | int, *, key: bool) -> tuple[Any, Location] | None:
    if isinstance(node, CommentedMap) and step in node:
        line, col = node.lc.key(step) if key else node.lc.value(step)
        return node[step], (line + 1, col + 1)
    if isinstance(node, CommentedSeq) and isinstance(step, int) and 0 <= step < len(node):
        line, col = node.lc.item(step)
        return node[step], (line + 1, col + 1)
    return None
