"""Read messy CSV exports: UTF-8, UTF-8 with BOM or Windows-1252, streamed, with line numbers."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from experiments.characters import bidi_control, unstorable
from experiments.files import input_problem
from nudge.errors import ImportRejected, Problem

_CHUNK = 1 << 20
csv.field_size_limit(1 << 20)  # a 1 MB field is already absurd; larger is a broken file
MAX_COLUMNS = 500  # an export has a few dozen; thousands means a broken or hostile file
# NUL and the other control characters are never data (PostgreSQL cannot even store NUL);
# tab and line breaks may sit inside a quoted address.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class CsvRecord(NamedTuple):
    """One data row: `line` is where it starts in the file, the header being line 1. (A tuple:
    a large import reads a million, and a tuple is made in a fraction of a dataclass's time.)"""

    line: int
    values: dict[str, str]


def detect_encoding(path: Path) -> str:
    """'utf-8-sig' when the whole file decodes as UTF-8 (BOM or not), else 'cp1252'."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def read_header(path: Path, mapping: dict[str, str]) -> tuple[str, list[str]]:
    """The file's encoding and its column names after trimming and the trial's renames."""
    problem = input_problem(path)
    if problem:
        raise ImportRejected(f"{path}: {problem}; nothing was imported")
    with path.open("rb") as handle:
        if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise ImportRejected(
                f"{path}: the file is UTF-16 text (Excel's 'Unicode text'); save it as CSV UTF-8"
            )
    encoding = detect_encoding(path)
    try:
        with path.open(encoding=encoding, newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:  # cp1252 leaves five bytes undefined
        raise ImportRejected(
            f"{path}: byte {exc.start} is not text in UTF-8 or Windows-1252; "
            "export the file as CSV UTF-8"
        ) from None
    except csv.Error as exc:
        raise ImportRejected(f"{path}:1: header: {exc}") from None
    if not header or not any(cell.strip() for cell in header):
        raise ImportRejected(f"{path}: the file is empty; the first line must be the header")
    if len(header) > MAX_COLUMNS:
        raise ImportRejected(
            f"{path}:1: header: {len(header):,} columns; an export has at most {MAX_COLUMNS} "
            "(is this the right file, saved as CSV?)"
        )
    return encoding, [mapping.get(name.strip(), name.strip()) for name in header]


def duplicate_columns(path: Path, columns: list[str]) -> list[Problem]:
    """A column named twice (after renames): which of the two holds the data is a guess."""
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    return [Problem(str(path), 1, None, f"header: column '{c}' appears twice") for c in repeated]


def read_required_header(path: Path, required: tuple[str, ...]) -> tuple[str, list[str]]:
    """`read_header` for a file of fixed columns: every one of `required` present, none twice;
    ImportRejected naming each that is not, and nothing changed."""
    encoding, columns = read_header(path, {})
    missing = [c for c in required if c not in columns]
    header = [Problem(str(path), 1, None, f"header: missing column '{c}'") for c in missing]
    header += duplicate_columns(path, columns)
    if header:
        raise ImportRejected(f"{path}: nothing was changed", header)
    return encoding, columns


def read_records(path: Path, encoding: str, columns: list[str]) -> Iterator[CsvRecord | Problem]:
    """Each data row as a record; a row with the wrong number of cells as a Problem."""
    name = str(path)
    width = len(columns)
    control = _CONTROL.search
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        try:
            next(reader)
            end = reader.line_num  # each row starts on the line after the last one ended
            for cells in reader:
                start, end = end + 1, reader.line_num
                if len(cells) != width or width == 1:  # a blank line has one cell, or none
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue
                    if len(cells) != width:
                        yield Problem(
                            name,
                            start,
                            None,
                            f"row: has {len(cells)} cells but the header has {width} columns",
                        )
                        continue
                joined = "".join(cells)
                if control(joined):
                    yield _control_character(name, start, columns, cells)
                    continue
                if not joined.isascii():
                    if unstorable(joined):  # NUL is a control, above
                        yield _unstorable_character(name, start, columns, cells)
                        continue
                    if bidi_control(joined):
                        yield _bidi_character(name, start, columns, cells)
                        continue
                yield CsvRecord(start, dict(zip(columns, map(str.strip, cells), strict=True)))
        except csv.Error as exc:
            yield Problem(name, reader.line_num, None, f"row: {exc}")
        except UnicodeDecodeError as exc:
            yield Problem(
                name,
                reader.line_num,
                None,
                f"row: byte {exc.start} is not text in UTF-8 or Windows-1252",
            )


def _control_character(name: str, line: int, columns: list[str], cells: list[str]) -> Problem:
    column, found = next(
        (c, match.group())
        for c, v in zip(columns, cells, strict=True)
        if (match := _CONTROL.search(v))
    )
    return Problem(
        name,
        line,
        None,
        f"{column}: contains the control character {found!r} (U+{ord(found):04X}), which is "
        "never part of real data; remove it and export again",
    )


def _bidi_character(name: str, line: int, columns: list[str], cells: list[str]) -> Problem:
    column, found = next(
        (c, found) for c, v in zip(columns, cells, strict=True) if (found := bidi_control(v))
    )
    return Problem(
        name,
        line,
        None,
        f"{column}: contains the bidirectional control character {found[1]}, which can make "
        "a text or letter display differently from what is sent; remove it and export again",
    )


def _unstorable_character(name: str, line: int, columns: list[str], cells: list[str]) -> Problem:
    column, found = next(
        (c, found) for c, v in zip(columns, cells, strict=True) if (found := unstorable(v))
    )
    return Problem(
        name, line, None, f"{column}: contains {found[1]}, which is not text; export it again"
    )
