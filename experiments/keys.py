"""References and other keys in one canonical form, the same on every import.

A reference typed or exported twice can differ in ways no one sees: composed or decomposed
accents (NFC), a zero-width space or byte-order mark (format characters, Unicode category Cf),
a no-break or other Unicode space. Each import (enrolment, hearings update, outcomes import,
the flat analysis file) passes its keys through `normalise_key`, so a person, case or court
matches itself whichever file it comes from, and is never counted twice.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def normalise_key(text: str) -> str:
    """NFC, without format characters, each run of spaces of any kind one ASCII space, trimmed."""
    if text.isascii():
        return _SPACES.sub(" ", text).strip() if not text.isalnum() else text
    composed = unicodedata.normalize("NFC", text)
    visible = "".join(c for c in composed if unicodedata.category(c) != "Cf")
    return _SPACES.sub(" ", visible).strip()
