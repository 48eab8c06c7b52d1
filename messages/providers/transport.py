"""Whether a failed HTTP request to a provider can have reached it: one rule for every client."""

from __future__ import annotations

import requests
from urllib3.exceptions import ConnectTimeoutError


def never_connected(error: BaseException) -> bool:
    """True when the chain of causes shows the connection itself failed (refused, DNS, timeout).

    Before a connection existed nothing was sent; after, the request may have arrived."""
    seen: list[object] = [error]
    visited: set[int] = set()
    while seen:
        current = seen.pop()
        if id(current) in visited:
            continue
        visited.add(id(current))
        if isinstance(current, ConnectTimeoutError | requests.exceptions.ConnectTimeout):
            return True  # urllib3's NewConnectionError and NameResolutionError are subclasses
        if isinstance(current, BaseException):
            seen.extend(a for a in current.args if isinstance(a, BaseException))
            seen.extend(x for x in (current.__cause__, getattr(current, "reason", None)) if x)
    return False
