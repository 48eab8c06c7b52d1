"""An outcome's value by its type: read from a file's cell, checked, and said in words. Pure.

A binary outcome is yes or no (stored in `Outcome.value`); a scale, count or continuous one
is a number (stored in `Outcome.number`, a float):

- scale: a whole number from the scale's `min` to its `max`, or the words the definition
  gives a point (`labels`), in any case;
- count: a whole number, 0 or more;
- continuous: any finite number, written with a decimal point and nothing else (no
  thousands separators, no units, no currency signs), so that no cell is read two ways.

Every refusal says what the value should look like, so the person fixing a file knows what
to write; the caller adds where (file, line, column).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from experiments.definition import Outcome, Scale
from experiments.eligibility import parse_flag

Reading = bool | float
WHOLE = re.compile(r"[+-]?\d+")
DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
THOUSANDS = re.compile(r"[+-]?\d{1,3}([,\u00a0\u202f ']\d{3})+(\.\d*)?")
DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
LEADING_NUMBER = re.compile(r"[£$€]?\s*[+-]?(\d+(\.\d*)?|\.\d+)")


def read_value(outcome: Outcome, text: str) -> Reading | None:
    """The cell's value for this outcome: a bool (binary) or a float; None when blank.

    Raises ValueError saying what the cell should hold.
    """
    cell = text.strip()
    if not cell:
        return None
    if outcome.type == "binary":
        try:
            return parse_flag(cell)
        except ValueError:
            raise ValueError(
                f"'{cell}' is not yes or no (1/0, true/false; blank if not observed)"
            ) from None
    if outcome.type == "scale":
        return _scale_point(outcome, cell)
    if outcome.type == "count":
        return _count(cell)
    return _measurement(cell)


def check_number(outcome: Outcome, number: float) -> float:
    """`number` as this outcome's value, or ValueError saying why it cannot be (for values
    that arrive as numbers already, such as a survey's answer)."""
    if outcome.type == "binary":
        raise ValueError(f"outcome '{outcome.id}' is yes or no: give a value, not a number")
    if not math.isfinite(number):
        raise ValueError(f"{_shown(number)} is not a finite number")
    if outcome.type in ("scale", "count") and not float(number).is_integer():
        raise ValueError(f"{_shown(number)} is not a whole number; {expected(outcome)}")
    if outcome.type == "scale":
        assert outcome.scale is not None
        if not outcome.scale.min <= number <= outcome.scale.max:
            raise ValueError(f"{_shown(number)} is outside the scale; {expected(outcome)}")
    if outcome.type == "count" and number < 0:
        raise ValueError(f"{_shown(number)} is below 0; {expected(outcome)}")
    return float(number)


@dataclass(frozen=True)
class Wording:
    """How one kind of text says an outcome's values, type by type: a field a type, so a new
    type cannot go unsaid; a scale's words are made from its points and labels."""

    binary: str
    count: str
    continuous: str
    scale: Callable[[Scale], str]


def in_words(outcome: Outcome, wording: Wording) -> str:
    """The outcome's values as `wording` says them (for a message, a listing, a README)."""
    if outcome.type == "binary":
        return wording.binary
    if outcome.type == "count":
        return wording.count
    if outcome.type == "continuous":
        return wording.continuous
    assert outcome.scale is not None
    return wording.scale(outcome.scale)


def _expected_scale(scale: Scale) -> str:
    words = " or its words" if scale.labels else ""
    return f"give a whole number from {scale.min} to {scale.max}{words}"


def _described_scale(scale: Scale) -> str:
    points = [
        f"{point} ({scale.labels[point]})" if point in scale.labels else str(point)
        for point in (scale.min, scale.max)
    ]
    return f"a scale from {points[0]} to {points[1]}"


EXPECTED = Wording(
    binary="give yes or no (1/0, true/false)",
    count="give a whole number, 0 or more",
    continuous="give a number with a decimal point if needed (such as 1234.5)",
    scale=_expected_scale,
)
DESCRIBED = Wording(
    binary="yes or no",
    count="a count (a whole number, 0 or more)",
    continuous="a number",
    scale=_described_scale,
)


def expected(outcome: Outcome) -> str:
    """What a cell of this outcome holds, for messages: 'give a whole number from 1 to 5'."""
    return in_words(outcome, EXPECTED)


def describe(outcome: Outcome) -> str:
    """The outcome's type in words: 'a scale from 1 (not at all confident) to 5 (...)'."""
    return in_words(outcome, DESCRIBED)


def value_words(outcome: Outcome | None, value: bool | None, number: float | None) -> str:
    """A recorded value as people read it: 'yes', '4 (fairly confident)', '2.5'."""
    if number is not None:
        shown = _shown(number)
        scale = outcome.scale if outcome is not None else None
        if scale is not None and number.is_integer() and int(number) in scale.labels:
            return f"{shown} ({scale.labels[int(number)]})"
        return shown
    return {True: "yes", False: "no", None: "not known"}[value]


def _shown(number: float) -> str:
    """A number in its shortest exact form: 4, not 4.0; 2.5 as 2.5."""
    return str(int(number)) if number.is_integer() and abs(number) < 2.0**53 else repr(number)


def _scale_point(outcome: Outcome, cell: str) -> float:
    scale = outcome.scale
    assert scale is not None
    by_words = {_words(label): point for point, label in scale.labels.items()}
    if _words(cell) in by_words:
        return float(by_words[_words(cell)])
    if not WHOLE.fullmatch(cell):
        return _refused(cell, expected(outcome), whole=True)
    point = int(cell)
    if not scale.min <= point <= scale.max:
        raise ValueError(f"'{cell}' is outside the scale; {expected(outcome)}")
    return float(point)


def _count(cell: str) -> float:
    if not WHOLE.fullmatch(cell):
        return _refused(cell, EXPECTED.count, whole=True)
    count = int(cell)
    if count < 0:
        raise ValueError(f"'{cell}' is below 0: a count is a whole number, 0 or more")
    return float(count)


def _measurement(cell: str) -> float:
    if not DECIMAL.fullmatch(cell):
        return _refused(cell, "give a number such as 1234.5", whole=False)
    number = float(cell)
    if not math.isfinite(number):
        raise ValueError(f"'{cell}' is too large to be a measurement; check the value")
    return number


def _refused(cell: str, what: str, *, whole: bool) -> float:
    """Raise the clearest reason a cell is not the number asked for."""
    if THOUSANDS.fullmatch(cell):
        plain = re.sub(r"[,\u00a0\u202f ']", "", cell)
        raise ValueError(
            f"'{cell}' has a thousands separator: write the number without it ({plain})"
        )
    if DECIMAL_COMMA.fullmatch(cell):
        raise ValueError(f"'{cell}' has a decimal comma: use a decimal point; {what}")
    if whole and DECIMAL.fullmatch(cell):
        raise ValueError(f"'{cell}' is not a whole number; {what}")
    leading = LEADING_NUMBER.match(cell)
    if leading is not None:
        raise ValueError(
            f"'{cell}' is not a number alone: write the number without units or signs "
            f"({leading.group(0).lstrip('£$€').strip()}); {what}"
        )
    raise ValueError(f"'{cell}' is not a number; {what} (blank if not observed)")


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()
