"""Characters that are never wanted in what Nudge sends: bidirectional controls.

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
