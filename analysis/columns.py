"""Read each analysed column by its declared type, count what does not fit, and label subgroups.

The type comes from the definition (`experiments.columns`), never from the values, so one
stray "NA" cannot turn a number into 62 levels. What a value becomes:

- numeric: a float; text that is not a finite number ("NA", "n/a", "-", "unknown") is missing;
- categorical: a level, whatever it looks like ("1", "2", "3" are three levels, not a line);
  levels that look like numbers come first in numeric order, then the rest as text;
- flag: 1.0 for yes/y/true/t/1 and 0.0 for no/n/false/f/0 (any case, and "1.0" or "0.0" as a
  program may write them); anything else is missing.

A blank cell is missing and nothing more. A value that is not blank but does not fit the type
is missing too and is counted, per column, in `frame.attrs["unreadable"]`: the plan's
`missing:` rule then drops or indicates it like any other missing value. Each distinct value
is converted once, so a million rows cost a few thousand conversions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.flatfile import FLAGS
from experiments.columns import ColumnTyping
from experiments.definition import Column

TYPES = "column_types"  # frame.attrs key: column name → Column
UNREADABLE = "unreadable"  # frame.attrs key: column name → values that did not fit its type
INFERRED = "inferred_types"  # frame.attrs key: column name → why an undeclared column has its type
_AS = {"numeric": "numbers", "flag": "yes or no"}


def read_columns(frame: pd.DataFrame, types: Mapping[str, ColumnTyping]) -> pd.DataFrame:
    """Convert each typed column of `frame` in place; record the types and counts in attrs."""
    unreadable = {}
    for name, typing in types.items():
        if name not in frame:
            continue
        frame[name], count = read_column(frame[name], typing.column)
        if count:
            unreadable[name] = count
    frame.attrs[TYPES] = {name: typing.column for name, typing in types.items()}
    frame.attrs[UNREADABLE] = unreadable
    frame.attrs[INFERRED] = {n: t.reason for n, t in types.items() if not t.declared}
    return frame


def read_column(values: pd.Series, column: Column) -> tuple[pd.Series, int]:
    """One column as its type reads it, and how many non-blank values did not fit."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # as the flat-file reader gives
        codes = np.asarray(values.cat.codes.to_numpy(), dtype=np.intp)
        uniques: Sequence[object] = list(values.cat.categories)
    else:
        codes, found = pd.factorize(values.astype(object), use_na_sentinel=True)
        codes, uniques = np.asarray(codes, dtype=np.intp), found.tolist()
    text = [str(u).strip() for u in uniques]
    if column.type == "categorical":
        return _categorical(codes, text, values.index), 0
    if column.type == "numeric":
        parsed = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce")
        numbers = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        numbers = np.where(np.isfinite(numbers), numbers, np.nan)
    else:
        numbers = np.array([_flag(t) for t in text], dtype=np.float64)
    unfit = np.isnan(numbers) & (np.array(text, dtype=object) != "")
    counts = np.bincount(codes[codes >= 0], minlength=len(text))
    taken = np.append(numbers, np.nan)[codes]
    return pd.Series(taken, index=values.index, dtype="float64"), int(counts[unfit].sum())


def _flag(text: str) -> float:
    """yes/no words, or a number that is exactly 1 or 0 ("1.0" from a program's export)."""
    found = FLAGS.get(text.lower())
    if found is not None:
        return found
    try:
        number = float(text)
    except ValueError:
        return math.nan
    return number if number in (0.0, 1.0) else math.nan


def _categorical(codes: np.ndarray, text: list[str], index: pd.Index) -> pd.Series:
    levels = sorted({t for t in text if t}, key=_level_order)
    position = {level: i for i, level in enumerate(levels)}
    remap = np.array([position.get(t, -1) for t in text] + [-1], dtype=np.intp)
    categorical = pd.Categorical.from_codes(remap[codes], dtype=pd.CategoricalDtype(levels))
    return pd.Series(categorical, index=index)


def _level_order(level: str) -> tuple[int, float, str]:
    """Levels that read as numbers first, in numeric order ("2" before "10"), then text."""
    try:
        number = float(level)
    except ValueError:
        return 1, 0.0, level
    return (0, number, level) if math.isfinite(number) else (1, 0.0, level)


def column_notes(frame: pd.DataFrame) -> list[str]:
    """Sentences for the report: values that did not fit their column, and inferred types."""
    types: Mapping[str, Column] = frame.attrs.get(TYPES, {})
    notes = []
    for name, count in frame.attrs.get(UNREADABLE, {}).items():
        kind = types[name].type if name in types else "numeric"
        notes.append(
            f"column {name}: {count} value(s) could not be read as {_AS.get(kind, kind)} and "
            "are treated as missing"
        )
    for name, reason in frame.attrs.get(INFERRED, {}).items():
        kind = types[name].type if name in types else "categorical"
        notes.append(f"column {name}: no declared type; analysed as {kind} because {reason}")
    return notes


def subgroup_labels(data: pd.DataFrame, name: str) -> pd.Series:
    """Each row's subgroup level as text in a categorical whose categories are in level order.

    Categorical levels are kept as written and flags read "yes"/"no". A numeric column is cut
    at its plan's `bins` into levels such as "under 25", "25 to 39", "40 and over"; one with
    no cut points (a trial launched before cut points existed) is split at its median, and the
    labels say so. A frame without types (built by hand) keeps each value as written.
    """
    values = data[name]
    column = data.attrs.get(TYPES, {}).get(name)
    if column is None:
        return _as_written(values)
    if column.type == "categorical":
        return _as_written(values)
    if column.type == "flag":
        flags = values.map({1.0: "yes", 0.0: "no"}).to_numpy(dtype=object)
        return pd.Series(pd.Categorical(flags, categories=["no", "yes"]), index=values.index)
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    cuts = sorted({float(c) for c in column.bins or () if math.isfinite(c)})
    return _binned(numbers, cuts, values.index)


def _as_written(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.rename_categories([str(c) for c in values.cat.categories])
    text = values.map(_number_text, na_action="ignore")
    return pd.Series(pd.Categorical(text, categories=sorted(text.dropna().unique())), values.index)


def _binned(numbers: np.ndarray, cuts: list[float], index: pd.Index) -> pd.Series:
    observed = numbers[~np.isnan(numbers)]
    if not cuts:
        if not observed.size:
            return pd.Series(pd.Categorical([None] * len(numbers)), index=index)
        median = float(np.median(observed))
        cuts = [median]
        names = [
            f"below the median ({_number_text(median)})",
            f"the median ({_number_text(median)}) and over",
        ]
    else:
        whole = all(c.is_integer() for c in cuts) and bool(np.all(observed == np.floor(observed)))
        names = _bin_names(cuts, whole)
    position = np.searchsorted(np.array(cuts), numbers, side="right")
    codes = np.where(np.isnan(numbers), -1, position)
    categorical = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(names))
    return pd.Series(categorical, index=index)


def _bin_names(cuts: list[float], whole: bool) -> list[str]:
    """Level names for [-inf, c0), [c0, c1), ..., [cn, inf); in whole numbers when all are."""
    text = [_number_text(c) for c in cuts]
    names = [f"under {text[0]}"]
    for i in range(1, len(cuts)):
        if not whole:
            names.append(f"{text[i - 1]} to under {text[i]}")
        elif cuts[i] - cuts[i - 1] == 1:
            names.append(text[i - 1])
        else:
            names.append(f"{text[i - 1]} to {_number_text(cuts[i] - 1)}")
    return [*names, f"{text[-1]} and over"]


def _number_text(value: object) -> str:
    """25.0 as "25", 2.5 as "2.5"; anything that is not a number as its text."""
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else f"{number:.12g}"
    return str(value)
