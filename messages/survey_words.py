"""Reading a reply to a survey question: pure, plain values in and out.

A scale's answer is one number, written in digits ("4", "4 - fairly", "4/5") or as a word in
English or Welsh ("four", "pedwar"); a yes/no question's is one of its listed words, in any of
its languages. A reply holding two different answers ("3 or 4", "yes and no"), a number off
the scale, or a fraction ("3.5") is not read: it gets one clarifying text (docs/messages.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# Whole words only. Welsh has feminine forms (dwy, tair, pedair) and forms used before a noun
# (pum, chwe, deng); "dim" ("none", as in "dim o gwbl", "not at all") is not a number here.
NUMBER_WORDS: Mapping[str, int] = {
    "zero": 0,
    "nought": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "sero": 0,
    "un": 1,
    "dau": 2,
    "dwy": 2,
    "tri": 3,
    "tair": 3,
    "pedwar": 4,
    "pedair": 4,
    "pump": 5,
    "pum": 5,
    "chwech": 6,
    "chwe": 6,
    "saith": 7,
    "wyth": 8,
    "naw": 9,
    "deg": 10,
    "deng": 10,
}
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+")
_OUT_OF = r"(?:/|\bout of\b|\ballan o\b)\s*"


@dataclass(frozen=True)
class Accepted:
    """The answers a question takes: a scale's points (`low` to `high`), and listed words in
    any language with the value each means."""

    low: int | None = None
    high: int | None = None
    words: Mapping[str, bool | int] = field(default_factory=dict)

    @property
    def is_scale(self) -> bool:
        return self.low is not None and self.high is not None


def normalised(text: str) -> str:
    """Lower case, one space between words, typographic apostrophes made plain."""
    return " ".join(text.casefold().replace("\u2019", "'").split())


def read_answer(body: str, accepted: Accepted) -> bool | int | None:
    """The answer a reply gives, or None when it cannot be read as exactly one answer.

    Numbers come first on a scale ("4 - fairly" is 4, whatever the words say); "out of 5"
    after the answer is the scale's end, not a second answer. Words are matched whole.
    """
    text = normalised(body)
    if accepted.is_scale:
        number = _number(text, accepted)
        if number is not _NONE:
            return number if isinstance(number, int) else None
    return _word(text, accepted.words)


_NONE = object()


def _number(text: str, accepted: Accepted) -> object:
    """The one number a reply holds on the scale; None if it holds a wrong one or two;
    _NONE if it holds none."""
    assert accepted.low is not None and accepted.high is not None
    text = re.sub(_OUT_OF + rf"(?:{accepted.high}\b)", " ", text)
    found: set[int] = set()
    for token in _TOKEN.findall(text):
        if token[0].isdigit():
            if not token.isdigit():
                return None  # a fraction is not a point of the scale
            found.add(int(token))
        elif token in NUMBER_WORDS:
            found.add(NUMBER_WORDS[token])
    if not found:
        return _NONE
    if len(found) > 1:
        return None
    (value,) = found
    return value if accepted.low <= value <= accepted.high else None


def _word(text: str, words: Mapping[str, bool | int]) -> bool | int | None:
    plain = " ".join(_TOKEN.findall(text))
    values = {
        value
        for word, value in words.items()
        if re.search(
            rf"(?<!\w){re.escape(' '.join(_TOKEN.findall(normalised(word))))}(?!\w)", plain
        )
    }
    if len(values) != 1:
        return None
    (value,) = values
    return value
