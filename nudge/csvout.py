"""Every CSV Nudge writes goes through here, so no cell can run as a spreadsheet formula.

A CSV meant to be opened in a spreadsheet (the results download) may start with a UTF-8 byte
order mark, which Excel needs to read UTF-8; files read back by Nudge, R or scripts (imports,
exports, the reproduction bundle) are written without one.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BYTE_ORDER_MARK = "\ufeff"


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run gets a leading apostrophe; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_rows(
    stream: TextIO,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    byte_order_mark: bool = False,
) -> int:
    if byte_order_mark:
        stream.write(BYTE_ORDER_MARK)
    # CRLF, as RFC 4180 says: with a bare "\n" terminator the csv module leaves a cell with
    # a carriage return unquoted, and spreadsheets break the row there, so "x\r=1" became a
    # new row starting "=1": a formula, past the check above.
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    count = 0
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        count += 1
    return count


def write_file(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a whole CSV atomically: readers see the old file or the new one, never half.

    The rows go to a temporary file beside the target, reach the disk (fsync), and only then
    replace the target; the folder is synced too, so a power cut cannot undo the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            count = write_rows(stream, header, rows)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return count


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
