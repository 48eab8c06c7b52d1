"""Characters that are never wanted in what Nudge sends (bidirectional controls) or stores.

An override or isolate (U+202A-U+202E, U+2066-U+2069) or a directional mark (U+200E, U+200F,
U+061C) makes a text display in an order other than the one it is stored and sent in: a
reminder could show a different date, time or number from the one checked (the "Trojan
Source" trick). No reminder, letter, reference or name needs one, so every place text comes in
(the trial definition and its templates, every CSV import) refuses them.
"""

from __future__ import annotations

import re
import unicodedata

BIDI_CONTROL = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def bidi_control(text: str) -> tuple[int, str] | None:
    """The index and name of the first bidirectional control character in `text`, if any."""
    found = BIDI_CONTROL.search(text)
    if found is None:
        return None
    char = found.group()
    return found.start(), f"U+{ord(char):04X} ({unicodedata.name(char).lower()})"


# Characters no database column can hold: NUL (PostgreSQL refuses it in text) and the lone
# halves of a UTF-16 surrogate pair (U+D800-U+DFFF), which are not characters at all and
# cannot be encoded as UTF-8. YAML escapes ("\0", "\ud800"), form fields and non-UTF-8 command
# line arguments can all produce them; every place text comes in refuses them with this check.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> tuple[int, str] | None:
    """The index and description of the first character no database can store, if any."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    what = "the NUL character" if char == "\x00" else "a lone surrogate"
    return found.start(), f"{what} U+{ord(char):04X}"


def unstorable_message(text: str) -> str | None:
    """What to tell the user about `text`, or None when it can be stored."""
    found = unstorable(text)
    if found is None:
        return None
    return (
        f"contains {found[1]}, which is not text and cannot be stored; remove it (check "
        "for a \\0 or \\u escape)"
    )
