"""Which replies staff read first: those holding one of the trial's triage words.

A word or phrase matches only whole (`threat` is not found in `threatre`, nor `hit me` in
`white metal`), in any case, across any spacing between a phrase's words, and with a curly
apostrophe counted as a straight one (phones type `can’t`). The list is the trial's
`replies.triage_words`, or the default in experiments/definition.py; docs/trial-definition.md
says how to choose one. Pure: plain text in, the words found out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def _key(text: str) -> str:
    """The form two spellings of one word share: apostrophes straight, spaces single, no case."""
    return " ".join(text.translate(APOSTROPHES).split()).casefold()


@lru_cache(maxsize=64)
def _matcher(words: tuple[str, ...]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """One pattern for the whole list, longest first so a phrase wins over a word inside it,
    and the written form of each word by its key."""
    written: dict[str, str] = {}
    for word in words:
        if word.strip():
            written.setdefault(_key(word), word)
    if not written:
        return None, written
    alternatives = sorted(written, key=len, reverse=True)
    body = "|".join(r"\s+".join(re.escape(part) for part in key.split()) for key in alternatives)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE), written


def triage_words_in(text: str, words: Sequence[str]) -> tuple[str, ...]:
    """The triage words found in a reply, each once, as the list writes them, in list order."""
    pattern, written = _matcher(tuple(words))
    if pattern is None:
        return ()
    found = {_key(match) for match in pattern.findall(text.translate(APOSTROPHES))}
    return tuple(word for key, word in written.items() if key in found)
