"""Read a flat analysis file (one row per randomised participant) and check every cell.

Read with pandas' C parser for speed; checks are vectorised over columns. Problems name the
file, line and column like every other import; line numbers are worked out (by a second,
exact pass with the csv module) only when there is something to report.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.csvfile import duplicate_columns, read_header, read_records
from experiments.definition import TrialDefinition
from experiments.eligibility import FALSE_WORDS, TRUE_WORDS
from experiments.keys import normalise_key
from nudge.errors import ImportRejected, Problem

FLAGS = {word: 1.0 for word in TRUE_WORDS} | {word: 0.0 for word in FALSE_WORDS}
MAX_PROBLEMS = 100
# A space or tab next to a delimiter or line end: only then does any cell need trimming.
PADDING = (b" ,", b", ", b" \n", b" \r", b"\n ", b"\t")


@dataclass(frozen=True)
class _Issue:
    """A problem found at a row position (0-based among data rows), before lines are known."""

    position: int
    column: str
    message: str
    earlier: int | None = None  # a row the message names as "{line}" (a duplicate's first)


def unit_column(definition: TrialDefinition) -> str:
    """The flat file's column holding the randomisation unit."""
    unit = definition.population.unit
    return {"participant": "participant_ref", "case": "case_ref"}.get(unit, unit)


def read_flat_file(
    path: Path, definition: TrialDefinition, needed: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """The file's cells as stripped text, checked; and the columns it has.

    Raises ImportRejected naming every missing column (line 1) or bad cell (its line).
    """
    encoding, columns = read_header(path, definition.mapping)
    required = ["participant_ref", "arm", unit_column(definition), *needed]
    required += [o.id for o in definition.outcomes]
    missing = [name for name in dict.fromkeys(required) if name not in columns]
    problems = [Problem(str(path), 1, None, f"header: missing column '{c}'") for c in missing]
    problems += duplicate_columns(path, columns)
    if problems:
        raise ImportRejected(
            f"{path}: the header does not fit trial '{definition.id}'; nothing was analysed",
            problems,
        )
    optional = [c for c in ("case_ref", "delivered", "cost") if c in columns]
    wanted = list(dict.fromkeys([*required, *optional]))
    frame = _canonical_keys(_read_cells(path, encoding, columns, wanted), definition)
    issues = _check_cells(frame, definition, needed)
    if issues:
        _reject(path, encoding, issues)
    return frame, columns


def parse_flags(values: pd.Series) -> pd.Series:
    """yes/no/true/false/1/0 in any case → 1.0/0.0; blank or anything else → NaN.

    Each distinct spelling is looked up once; rows are mapped through integer codes.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    lookup = [FLAGS.get(str(u).lower(), np.nan) if str(u) != "" else np.nan for u in uniques]
    parsed = np.array([*lookup, np.nan], dtype=np.float64)[codes]
    return pd.Series(parsed, index=values.index, dtype="float64")


def parse_numbers(values: pd.Series) -> pd.Series:
    """Text to float64 (NaN where not a number), converting each distinct value once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    numbers = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce")
    parsed = np.append(numbers.to_numpy(dtype=np.float64), np.nan)[codes]
    return pd.Series(parsed, index=values.index, dtype="float64")


def as_codes(values: pd.Series) -> pd.Series:
    """Text as a categorical in order of first appearance: one hash pass, no sort."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return pd.Series(pd.Categorical.from_codes(codes, categories=uniques), index=values.index)


def _read_cells(path: Path, encoding: str, columns: list[str], wanted: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path,
            encoding=encoding,
            header=0,
            names=columns,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
        problems = [p for p in read_records(path, encoding, columns) if isinstance(p, Problem)]
        raise ImportRejected(
            f"{path}: {len(problems)} row(s) could not be read; nothing was analysed",
            problems[:MAX_PROBLEMS] or [Problem(str(path), None, None, "not a readable CSV")],
        ) from None
    if len(frame) and (frame[columns[-1]] == "").any():
        _refuse_short_rows(path, encoding, len(columns))
    frame = frame[wanted]
    raw = path.read_bytes()
    padded = raw.endswith(b" ") or any(raw.find(mark) >= 0 for mark in PADDING)
    for name in frame.columns:
        frame[name] = _stripped(frame[name].fillna("")) if padded else frame[name].fillna("")
    return frame


def _canonical_keys(frame: pd.DataFrame, definition: TrialDefinition) -> pd.DataFrame:
    """References, unit and strata as every import keeps them (experiments/keys.py)."""
    unit = unit_column(definition)
    keys = ["participant_ref", "case_ref", unit, *definition.population.strata]
    for name in dict.fromkeys(k for k in keys if k in frame):
        frame[name] = _keys(frame[name])
    # Case and unit references repeat: as categoricals they are hashed once, then compared
    # and grouped as integer codes.
    for name in dict.fromkeys(c for c in (unit, "case_ref") if c in frame):
        frame[name] = as_codes(frame[name])
    return frame


def _keys(values: pd.Series) -> pd.Series:
    """References in their canonical form, each distinct value normalised once."""
    codes, uniques = pd.factorize(values)
    keys = np.array([normalise_key(str(u)) for u in uniques], dtype=object)
    return pd.Series(keys[codes], index=values.index, dtype="str")


def _refuse_short_rows(path: Path, encoding: str, width: int) -> None:
    """pandas pads a short row with blanks, silently; the exact pass finds and refuses it.

    Only a file whose last column has a blank cell can hold a short row, so only such a file
    pays for the second pass.
    """
    problems = [
        p
        for p in read_records(path, encoding, [str(i) for i in range(width)])
        if isinstance(p, Problem)
    ]
    if problems:
        raise ImportRejected(
            f"{path}: {len(problems)} row(s) could not be read; nothing was analysed",
            problems[:MAX_PROBLEMS],
        )


def _stripped(values: pd.Series) -> pd.Series:
    """Trim each distinct value once (a column has far fewer values than rows)."""
    codes, uniques = pd.factorize(values)
    trimmed = np.array([str(u).strip() for u in uniques], dtype=object)
    return pd.Series(trimmed[codes], index=values.index, dtype="str")


def _check_cells(
    frame: pd.DataFrame, definition: TrialDefinition, needed: list[str]
) -> list[_Issue]:
    issues: list[_Issue] = []
    unit = unit_column(definition)
    for name in dict.fromkeys(["participant_ref", unit, *definition.population.strata]):
        reason = "missing (the randomisation unit)" if name == unit else "missing"
        issues += _where(frame[name] == "", name, reason)
    arms = [arm.id for arm in definition.arms]
    issues += _where(
        ~frame["arm"].isin(arms),
        "arm",
        lambda v: f"'{v}' is not an arm of trial '{definition.id}' (arms: {', '.join(arms)})",
        frame["arm"],
    )
    for outcome in definition.outcomes:
        bad = (frame[outcome.id] != "") & parse_flags(frame[outcome.id]).isna()
        message = "'{}' is not yes or no (1/0, true/false; blank if not observed)"
        issues += _where(bad, outcome.id, message.format, frame[outcome.id])
    if "delivered" in frame:
        bad = parse_flags(frame["delivered"]).isna()
        issues += _where(bad, "delivered", "'{}' is not 0 or 1".format, frame["delivered"])
    if "cost" in frame:
        amounts = parse_numbers(frame["cost"])
        bad = amounts.isna() | (amounts < 0) | ~np.isfinite(amounts.fillna(0.0))
        message = "'{}' is not an amount of money (a number, 0 or more)"
        issues += _where(bad, "cost", message.format, frame["cost"])
    return issues + _duplicates(frame) + _split_units(frame, unit)


def _where(
    mask: pd.Series, column: str, message: object, values: pd.Series | None = None
) -> list[_Issue]:
    positions = np.flatnonzero(mask.to_numpy())[:MAX_PROBLEMS]
    if callable(message):
        assert values is not None
        return [_Issue(int(i), column, message(values.iloc[i])) for i in positions]
    return [_Issue(int(i), column, str(message)) for i in positions]


def _duplicates(frame: pd.DataFrame) -> list[_Issue]:
    keys = ["participant_ref", "case_ref"] if "case_ref" in frame else ["participant_ref"]
    if not frame["participant_ref"].duplicated().any():
        return []  # no reference repeats, so no (reference, case) pair does either
    repeated = frame.duplicated(keys, keep="first") & (frame["participant_ref"] != "")
    if not repeated.any():
        return []
    positions = pd.Series(np.arange(len(frame)), index=frame.index)
    first = positions.groupby([frame[k] for k in keys], sort=False).transform("first")
    return [
        _Issue(
            int(i),
            "participant_ref",
            f"'{frame['participant_ref'].iloc[i]}' is already on line {{line}}",
            int(first.iloc[i]),
        )
        for i in np.flatnonzero(repeated.to_numpy())[:MAX_PROBLEMS]
    ]


def _split_units(frame: pd.DataFrame, unit: str) -> list[_Issue]:
    """A randomisation unit is in one arm: rows putting it in a second arm are wrong."""
    if unit == "participant_ref":
        return []
    first_arm = frame.groupby(unit, sort=False, observed=True)["arm"].transform("first")
    split = (frame["arm"] != first_arm) & (frame[unit] != "")
    return [
        _Issue(
            int(i),
            unit,
            f"unit '{frame[unit].iloc[i]}' is in arm '{first_arm.iloc[i]}' on an earlier row "
            f"but in arm '{frame['arm'].iloc[i]}' here; a unit is randomised to one arm",
        )
        for i in np.flatnonzero(split.to_numpy())[:MAX_PROBLEMS]
    ]


def _reject(path: Path, encoding: str, issues: list[_Issue]) -> None:
    lines = _data_lines(path, encoding)
    ordered = sorted(issues, key=lambda issue: (issue.position, issue.column))
    problems = [
        Problem(str(path), lines[i.position], None, f"{i.column}: {_located(i, lines)}")
        for i in ordered[:MAX_PROBLEMS]
    ]
    more = len(ordered) - len(problems)
    suffix = f" (the first {MAX_PROBLEMS} are shown)" if more > 0 else ""
    raise ImportRejected(
        f"{path}: {len({i.position for i in issues})} row(s) have problems{suffix}; "
        "nothing was analysed",
        problems,
    )


def _located(issue: _Issue, lines: list[int]) -> str:
    if issue.earlier is None:
        return issue.message
    return issue.message.replace("{line}", str(lines[issue.earlier]))


def _data_lines(path: Path, encoding: str) -> list[int]:
    """The line each data row starts on, skipping blank lines as pandas does."""
    lines = []
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        start = reader.line_num + 1
        for cells in reader:
            if cells and not (len(cells) == 1 and not cells[0].strip()):
                lines.append(start)
            start = reader.line_num + 1
    return lines
