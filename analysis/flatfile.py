"""Read a flat analysis file (one row per randomised participant) and check every cell.

Read with polars' columnar parser (pandas' C parser for a Windows-1252 file, or one with a
blank line): each column becomes integer codes and its distinct values, so trimming,
normalising references, parsing flags and numbers and the checks each work once per distinct
value, vectorised over rows. Outcomes are read by their type: binary ones as yes/no flags, the
others (scale, count, continuous) as numbers. Problems name the file, line and column like
every other import; line numbers are worked out (by a second, exact pass with the csv module)
only when there is something to report.
"""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.stats.cells import first_rows, unique_first
from experiments.csvfile import duplicate_columns, read_header, read_records
from experiments.definition import SITE_COLUMN, Outcome, TrialDefinition
from experiments.eligibility import FALSE_WORDS, TRUE_WORDS
from experiments.keys import normalise_key
from nudge.errors import ImportRejected, Problem

FLAGS = {word: 1.0 for word in TRUE_WORDS} | {word: 0.0 for word in FALSE_WORDS}
MAX_PROBLEMS = 100
# Values that every normalising and trimming leaves as they are (experiments/keys.py).
PLAIN_PATTERN = r"^[A-Za-z0-9]*$"
PLAIN = "plain_columns"  # frame.attrs key while reading: columns whose values are all plain
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

    Only the columns the definition uses are kept, each as a categorical of its text (as
    plain text when read by pandas); ``as_text`` gives plain strings.

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
    optional: list[str] = [
        c for c in ("case_ref", "delivered", "cost", "open_arms") if c in columns
    ]
    # A multi-site trial's file may carry each row's site (its organisation's short name).
    optional += [SITE_COLUMN] if definition.sites and SITE_COLUMN in columns else []
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
    codes, uniques = _codes_and_text(values)
    lookup = [FLAGS.get(u.lower(), np.nan) if u != "" else np.nan for u in uniques]
    parsed = np.array([*lookup, np.nan], dtype=np.float64)[codes]
    return pd.Series(parsed, index=values.index, dtype="float64")


def parse_numbers(values: pd.Series) -> pd.Series:
    """Text to float64 (NaN where not a number), converting each distinct value once."""
    codes, uniques = _codes_and_text(values)
    numbers = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce")
    parsed = np.append(numbers.to_numpy(dtype=np.float64), np.nan)[codes]
    return pd.Series(parsed, index=values.index, dtype="float64")


def parse_outcome(values: pd.Series, outcome: Outcome) -> pd.Series:
    """An outcome column by its type: a binary one as flags, any other (scale, count,
    continuous) as numbers; blank or unreadable → NaN."""
    if outcome.type == "binary":
        return parse_flags(values)
    return parse_numbers(values)


def as_codes(values: pd.Series) -> pd.Series:
    """Text as a categorical in order of first appearance: one hash pass, no sort."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return pd.Series(pd.Categorical.from_codes(codes, categories=uniques), index=values.index)


def _read_cells(path: Path, encoding: str, columns: list[str], wanted: list[str]) -> pd.DataFrame:
    """The wanted columns as categoricals of their (stripped) text, in order of appearance.

    A UTF-8 file is read by polars' columnar parser, each column turned into integer codes
    and its distinct values, so every later step works on a column's distinct values; only
    the columns the plan uses are read. A file polars cannot parse (a short or long row, a
    stray quote) goes to the exact pass, which names the rows; a Windows-1252 file, or one
    the exact pass finds nothing wrong with, is read by pandas' parser as before.
    """
    cells = _polars_cells(path, encoding, columns, wanted)
    if cells is None:
        return _pandas_cells(path, encoding, columns, wanted)
    # A column of plain letters and digits has nothing to trim; the others' distinct values
    # are trimmed (the same as trimming every cell, as the pandas path does when needed).
    frame = pd.DataFrame(
        {
            name: _categorical(codes, uniques, padded=not plain)
            for name, (codes, uniques, plain) in cells.items()
        },
        copy=False,
    )
    frame.attrs[PLAIN] = {name for name in wanted if cells[name][2]}
    return frame


def _polars_cells(
    path: Path, encoding: str, columns: list[str], wanted: list[str]
) -> dict[str, tuple[np.ndarray, list[str], bool]] | None:
    """Each wanted column's codes, distinct values and plainness, or None for pandas to read.

    polars refuses a row with more cells than the header, but pads a short row with blanks
    and reads a blank line as a row of blanks: only a file whose last column has a blank
    cell can hold either, so only such a file pays for the exact pass, which refuses short
    rows; one with a row of nothing but blanks (a blank line) is left to pandas.
    """
    if not encoding.startswith("utf-8"):
        return None
    import polars as pl

    try:
        table = pl.read_csv(
            path,
            has_header=False,
            skip_rows=1,
            infer_schema=False,
            empty_string_is_null=False,
            raise_if_empty=False,
            truncate_ragged_lines=False,
        )
    except (pl.exceptions.PolarsError, ValueError):
        _refuse_unreadable(path, encoding, columns)
        return None
    if table.width != len(columns):
        return None
    # Without a header polars names each column by its place in the file, from 0.
    table.columns = [f"column_{i}" for i in range(len(columns))]
    if len(table) and bool((table[f"column_{len(columns) - 1}"] == "").any()):
        _refuse_unreadable(path, encoding, columns)
        blank = pl.all_horizontal(pl.all().str.strip_chars() == "")
        if bool(table.select(blank.any()).item()):
            return None
    # Two columns at a time: hashing and factorising leave the GIL, and the reference columns
    # (a million distinct values each) are the slow ones.
    with ThreadPoolExecutor(max_workers=2) as pool:
        coded = pool.map(_codes, (table[f"column_{columns.index(name)}"] for name in wanted))
        return dict(zip(wanted, coded, strict=True))


def _codes(values: object) -> tuple[np.ndarray, list[str], bool]:
    """A polars text column as each row's integer code (in order of first appearance), the
    distinct values, and whether each is plain ASCII letters and digits (a reference that no
    normalising or trimming changes). Hashed and factorised in bulk, then checked value by
    value against the distinct values, so a hash collision can only cost the slow, exact
    way."""
    import polars as pl

    assert isinstance(values, pl.Series)
    codes, _ = pd.factorize(values.hash(seed=0).to_numpy())
    codes = np.asarray(codes, dtype=np.intp)
    first = first_rows(codes)
    if len(first) == len(values):
        # A reference column: each row its own hash, so its own value, and codes 0, 1, 2, ...
        plain = bool(values.str.contains(PLAIN_PATTERN).all())
        return np.arange(len(values), dtype=np.intp), values.to_list(), plain
    distinct = values.gather(first)
    if not bool((distinct.gather(codes) == values).all()):
        exact, uniques = pd.factorize(values.to_numpy())
        return np.asarray(exact, dtype=np.intp), [str(u) for u in uniques], False
    plain = bool(distinct.str.contains(PLAIN_PATTERN).all())
    return codes, distinct.to_list(), plain


def _categorical(codes: np.ndarray, uniques: list[str], *, padded: bool) -> pd.Series:
    """Codes and distinct values as a categorical, each distinct value stripped once."""
    if padded:
        stripped = [u.strip() for u in uniques]
        if stripped != uniques:
            remap, merged = pd.factorize(pd.Series(stripped, dtype=object))
            codes = np.asarray(remap, dtype=np.intp)[codes]
            uniques = [str(u) for u in merged]
    levels = pd.Index(uniques, dtype=object)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=_distinct_levels(levels)))


def _distinct_levels(levels: pd.Index) -> pd.CategoricalDtype:
    """A categorical type of levels known to be distinct (factorised, or hashed and checked).

    pandas checks the levels are distinct by hashing them all again (a quarter of a second
    for a million references); its constructor without that check is used where it exists.
    """
    unchecked = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if unchecked is None:  # a pandas without it
        return pd.CategoricalDtype(levels)
    made = unchecked(levels, False)
    assert isinstance(made, pd.CategoricalDtype)
    return made


def _refuse_unreadable(path: Path, encoding: str, columns: list[str]) -> None:
    problems = [p for p in read_records(path, encoding, columns) if isinstance(p, Problem)]
    if problems:
        raise ImportRejected(
            f"{path}: {len(problems)} row(s) could not be read; nothing was analysed",
            problems[:MAX_PROBLEMS],
        )


def _pandas_cells(path: Path, encoding: str, columns: list[str], wanted: list[str]) -> pd.DataFrame:
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
    plain = frame.attrs.pop(PLAIN, set())
    for name in dict.fromkeys(k for k in keys if k in frame and k not in plain):
        frame[name] = _keys(frame[name])
    # Case and unit references repeat: as categoricals they are hashed once, then compared
    # and grouped as integer codes.
    for name in dict.fromkeys(c for c in (unit, "case_ref") if c in frame):
        frame[name] = as_codes(frame[name])
    return frame


def _keys(values: pd.Series) -> pd.Series:
    """References in their canonical form, each distinct value normalised once.

    A categorical (as the columnar reader gives) stays one, its categories normalised and
    merged where two become the same; plain ASCII letters and digits, as most references are,
    are kept as they are without a call.
    """
    codes, uniques = _codes_and_text(values)
    keys = [u if u.isascii() and u.isalnum() else normalise_key(u) for u in uniques]
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Series(np.array(keys, dtype=object)[codes], index=values.index, dtype="str")
    if keys != uniques:
        remap, merged = pd.factorize(pd.Series(keys, dtype=object))
        codes = np.append(np.asarray(remap, dtype=np.intp), -1)[codes]
        keys = [str(k) for k in merged]
    levels = pd.Index(keys, dtype=object)
    categorical = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(levels))
    return pd.Series(categorical, index=values.index)


def _codes_and_text(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's value as an integer code (-1: missing) and the distinct values as text."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes.to_numpy(), dtype=np.intp)
        categories = values.cat.categories
        if categories.dtype == object and all(isinstance(c, str) for c in categories[:1]):
            return codes, categories.tolist()  # the reader's text, already str
        return codes, [str(c) for c in categories]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.intp), [str(u) for u in uniques]


def blank(values: pd.Series) -> np.ndarray:
    """True for each empty cell; for a categorical, found among its levels, not row by row
    (pandas would hash a million references to compare them with one value)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return np.asarray(values == "", dtype=bool)
    levels = values.cat.categories.to_numpy(dtype=object)
    codes = values.cat.codes.to_numpy()
    return np.isin(codes, np.flatnonzero(levels == ""))


def as_text(values: pd.Series) -> pd.Series:
    """A column of text as plain strings (a categorical's values gathered from its levels)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values
    codes, uniques = _codes_and_text(values)
    return pd.Series(np.array([*uniques, ""], dtype=object)[codes], index=values.index, dtype="str")


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
        issues += _where(blank(frame[name]), name, reason)
    arms = [arm.id for arm in definition.arms]
    issues += _where(
        ~frame["arm"].isin(arms),
        "arm",
        lambda v: f"'{v}' is not an arm of trial '{definition.id}' (arms: {', '.join(arms)})",
        frame["arm"],
    )
    for outcome in definition.outcomes:
        values = frame[outcome.id]
        if outcome.type == "binary":
            unread = parse_flags(values).isna()
            message = "'{}' is not yes or no (1/0, true/false; blank if not observed)"
        else:
            unread = ~np.isfinite(parse_outcome(values, outcome))
            message = "'{}' is not a number (blank if not observed)"
        issues += _where(~blank(values) & unread, outcome.id, message.format, values)
    if "delivered" in frame:
        bad = parse_flags(frame["delivered"]).isna()
        issues += _where(bad, "delivered", "'{}' is not 0 or 1".format, frame["delivered"])
    if "cost" in frame:
        amounts = parse_numbers(frame["cost"])
        bad = amounts.isna() | (amounts < 0) | ~np.isfinite(amounts.fillna(0.0))
        message = "'{}' is not an amount of money (a number, 0 or more)"
        issues += _where(bad, "cost", message.format, frame["cost"])
    if "open_arms" in frame:
        issues += _open_arms(frame["open_arms"], frame["arm"], arms)
    if definition.sites and SITE_COLUMN in frame:
        slugs = definition.site_slugs
        issues += _where(
            ~frame[SITE_COLUMN].isin(slugs),
            SITE_COLUMN,
            lambda v: (
                f"'{v}' is not a site of trial '{definition.id}' (sites: {', '.join(slugs)}); "
                "give each row its site's short name"
            ),
            frame[SITE_COLUMN],
        )
    return issues + _duplicates(frame) + _split_units(frame, unit)


def _open_arms(values: pd.Series, arm: pd.Series, arms: list[str]) -> list[_Issue]:
    """`open_arms` (a bundle's: the arms open at allocation, by id, separated by commas; blank
    when every arm was open) must name two or more of the trial's arms, the row's own among
    them; each distinct pair of value and arm is checked once."""
    text = as_text(values).astype(object)
    pairs = text + "\n" + as_text(arm).astype(object)
    problems = {}
    for pair in dict.fromkeys(pairs):
        value, _, own = str(pair).partition("\n")
        named = value.split(",") if value else []
        unknown = [name for name in named if name not in arms]
        if unknown:
            problems[pair] = (
                f"'{value}' names {', '.join(repr(n) for n in unknown)}, not an arm of the trial "
                f"(arms: {', '.join(arms)}); list the arms open when the row was allocated, "
                "separated by commas, or leave it blank when every arm was open"
            )
        elif value and len(set(named)) < 2:
            problems[pair] = f"'{value}' names fewer than two arms: nobody is allocated then"
        elif value and own in arms and own not in named:
            problems[pair] = f"'{value}' does not name the row's own arm, {own}"
    if not problems:
        return []
    return _where(pairs.isin(list(problems)), "open_arms", problems.__getitem__, pairs)


def _where(
    mask: pd.Series | np.ndarray, column: str, message: object, values: pd.Series | None = None
) -> list[_Issue]:
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))[:MAX_PROBLEMS]
    if callable(message):
        assert values is not None
        return [_Issue(int(i), column, message(values.iloc[i])) for i in positions]
    return [_Issue(int(i), column, str(message)) for i in positions]


def _duplicates(frame: pd.DataFrame) -> list[_Issue]:
    keys = ["participant_ref", "case_ref"] if "case_ref" in frame else ["participant_ref"]
    if not frame["participant_ref"].duplicated().any():
        return []  # no reference repeats, so no (reference, case) pair does either
    repeated = frame.duplicated(keys, keep="first") & ~blank(frame["participant_ref"])
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
    first_arm = _first_arms(frame[unit], frame["arm"])
    if first_arm is None:
        first_arm = frame.groupby(unit, sort=False, observed=True)["arm"].transform("first")
    split = np.asarray(frame["arm"] != first_arm) & ~blank(frame[unit])
    return [
        _Issue(
            int(i),
            unit,
            f"unit '{frame[unit].iloc[i]}' is in arm '{first_arm.iloc[i]}' on an earlier row "
            f"but in arm '{frame['arm'].iloc[i]}' here; a unit is randomised to one arm",
        )
        for i in np.flatnonzero(split)[:MAX_PROBLEMS]
    ]


def _first_arms(units: pd.Series, arms: pd.Series) -> pd.Series | None:
    """The arm of each row's unit's first row, from the categoricals' integer codes: what a
    groupby's "first" gives, without hashing the units again. None unless both columns are
    categoricals without a missing value (the groupby then decides)."""
    if not (
        isinstance(units.dtype, pd.CategoricalDtype) and isinstance(arms.dtype, pd.CategoricalDtype)
    ):
        return None
    unit_codes = np.asarray(units.cat.codes.to_numpy(), dtype=np.intp)
    arm_codes = np.asarray(arms.cat.codes.to_numpy(), dtype=np.intp)
    if unit_codes.min(initial=0) < 0 or arm_codes.min(initial=0) < 0:
        return None
    seen, first = unique_first(unit_codes)
    first_row = np.zeros(len(units.cat.categories), dtype=np.intp)
    first_row[seen] = first
    codes = arm_codes[first_row[unit_codes]]
    return pd.Series(pd.Categorical.from_codes(codes, dtype=arms.dtype), index=arms.index)


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
