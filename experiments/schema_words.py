"""Schema errors in words a researcher reads, not pydantic's.

Pydantic says "String should match pattern '^[a-z0-9][a-z0-9_-]*$'" or "Input should be a
valid integer, unable to parse string as an integer": true, but written for programmers. Each
kind of error a trial definition can meet is said here as what the value must be, and what it
was, so the researcher knows what to type. A kind not listed keeps pydantic's sentence.
"""

from __future__ import annotations

from typing import Any

from experiments.definition import SLUG

# The patterns the schema uses, each said as what the value must look like.
PATTERNS = {
    SLUG: "must be lower-case letters, digits, - or _ and start with a letter or digit",
    r"^[A-Z]{3}$": "must be a currency code of three capital letters, such as GBP",
}
LONGEST_SHOWN = 40


def in_words(error: Any) -> str:
    """The message for one pydantic error (a dict from ValidationError.errors()), in words."""
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    found = f" (not {shown(given)})"
    if kind == "string_pattern_mismatch":
        return PATTERNS.get(str(ctx.get("pattern")), "is not in the form this key needs") + found
    if kind == "string_too_long":
        length = f" (this one has {len(given):,})" if isinstance(given, str) else ""
        return f"must be at most {ctx['max_length']:,} characters long{length}"
    simple = {
        "string_type": "must be text",
        "int_type": "must be a whole number, such as 2",
        "int_parsing": "must be a whole number, such as 2",
        "int_from_float": "must be a whole number, such as 2",
        "float_type": "must be a number, such as 0.5",
        "float_parsing": "must be a number, such as 0.5",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list: each item on its own line starting with '- ', or [a, b]",
        "dict_type": "must be a mapping of keys and values (key: value)",
        "model_type": "must be a mapping of keys and values (key: value)",
        "model_attributes_type": "must be a mapping of keys and values (key: value)",
    }
    if kind in simple:
        return simple[kind] + found
    bounds = {
        "greater_than": ("more than", "gt"),
        "greater_than_equal": ("at least", "ge"),
        "less_than": ("less than", "lt"),
        "less_than_equal": ("at most", "le"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {_number(ctx[key])}{found}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}{found}"
    if kind == "too_short":
        wanted, actual = ctx["min_length"], ctx["actual_length"]
        return f"list at least {wanted} {_items(wanted)} (there {_are(actual)} {actual})"
    return _lower_first(error["msg"])


def shown(value: Any) -> str:
    """A value as the researcher wrote it, short enough for one line of a message."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {_number(value)}"
    if isinstance(value, str):
        text = value if len(value) <= LONGEST_SHOWN else value[: LONGEST_SHOWN - 1] + "…"
        return f"'{text}'" if text.strip() else "blank text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _items(count: int) -> str:
    return "item" if count == 1 else "items"


def _are(count: int) -> str:
    return "is" if count == 1 else "are"


def _lower_first(message: str) -> str:
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]
