"""JSON as the database stores it: compact text, written the same by the ORM and bulk inserts.

Its own module, without the database stack, so that an import's reader process can write it.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any

# One encoder for all values: json.dumps with options builds a new one on every call.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_json(value: Any) -> str:
    """`value` as compact JSON text, exactly as `_json` writes it, faster for the usual shapes.

    An address (a list of texts) and attributes (a dict of texts to texts) are most of a large
    import's JSON: joining the escaped texts directly is about three times quicker.
    """
    kind = type(value)
    if kind is list and all(type(item) is str for item in value):
        return "[" + ",".join(map(encode_basestring, value)) + "]"
    if kind is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
        return (
            "{"
            + ",".join(
                [encode_basestring(k) + ":" + encode_basestring(v) for k, v in value.items()]
            )
            + "}"
        )
    return _json(value)
