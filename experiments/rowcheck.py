"""Reading and checking an export's rows, in file order: in this process, or beside it.

Checking is about 40% of a large import. For a large file a second process reads and checks
while this one writes, so both cores work; the checker stays one sequential reader, because
duplicates and a case's consistency depend on the rows before.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice, repeat
from pathlib import Path
from queue import Empty, Full
from typing import Any

from experiments.csvfile import CsvRecord, read_records
from experiments.rows import (
    ADDRESS,
    ATTRIBUTES,
    Derivation,
    Derived,
    ParsedRow,
    RowError,
    RowRules,
    as_derived,
    as_parsed_row,
    parse_row,
    sent_whole,
)
from nudge.errors import ImportRejected, Problem

BATCH = 2000
PARALLEL_FROM_BYTES = 8 << 20  # below ~50,000 rows a second process costs more than it saves
_QUEUE_DEPTH = 4
_READER_TIMEOUT_S = 600
_PARENT_CHECK_S = 1.0


@dataclass
class Reject:
    line: int
    reason: str
    values: dict[str, str] | None


@dataclass
class CheckedBatch:
    rows: list[ParsedRow] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    read: int = 0
    # With a Derivation, what storing each row (in the order of `rows`) needs: None for a row
    # whose derivation failed here, so that the writer works it out and fails as it would.
    derived: list[Derived | None] = field(default_factory=list)
    # When every row has its whole Derived, the batch is sent without the rows' addresses and
    # attributes, which the writer then stores only as the Derived's JSON (`Derivation.json_only`).
    json_only: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent a column at a time, transposed in C both ways (zip): plain tuples pickle in C,
        # named tuples through copyreg, twice as slowly; and a batch that leaves its rows'
        # addresses and attributes behind sends one None for each of those two columns.
        count = len(self.rows)
        columns: list[tuple[Any, ...] | None] = list(zip(*self.rows, strict=True))
        if self._leaves_json_behind():
            columns[ADDRESS] = columns[ATTRIBUTES] = None
        derived: list[Any]
        if None in self.derived:  # a row whose derivation failed: the writer works it out
            derived = [None if d is None else tuple(d) for d in self.derived]
            return (_rebuilt, (columns, count, self.rejects, self.read, derived, False))
        derived = list(zip(*self.derived, strict=True))
        return (_rebuilt, (columns, count, self.rejects, self.read, derived, True))

    def _leaves_json_behind(self) -> bool:
        return (
            self.json_only
            and bool(self.rows)
            and len(self.derived) == len(self.rows)
            and not any(map(sent_whole, self.derived))
        )


def _rebuilt(
    columns: list[tuple[Any, ...] | None],
    count: int,
    rejects: list[Reject],
    read: int,
    derived: list[Any],
    derived_by_column: bool,
) -> CheckedBatch:
    # tuple.__new__ in C, as _make does less its length check: the tuples came from these types.
    cells = [repeat(None, count) if column is None else column for column in columns]
    return CheckedBatch(
        list(map(as_parsed_row, zip(*cells, strict=True))),
        rejects,
        read,
        list(map(as_derived, zip(*derived, strict=True)))
        if derived_by_column
        else [None if d is None else as_derived(d) for d in derived],
    )


class RowChecker:
    """Checks rows in file order: each alone, then against the rows before it; with a
    Derivation, also works out what storing each good row needs."""

    def __init__(self, rules: RowRules, derivation: Derivation | None = None) -> None:
        self.rules = rules
        self.derivation = derivation
        # Python hashes of (participant_ref, case_ref) keep a million keys in ~100 MB; a
        # collision (odds ~1e-8 at that size) would show as a visible, checkable rejection.
        self.seen: dict[int, int] = {}
        self.case_lines: dict[str, tuple[int, datetime, str, dict[str, datetime]]] = {}

    def check(self, records: list[CsvRecord | Problem]) -> CheckedBatch:
        batch = CheckedBatch(read=len(records))
        for record in records:
            if isinstance(record, Problem):
                batch.rejects.append(Reject(record.line or 0, record.message, None))
                continue
            try:
                row = parse_row(record.line, record.values, self.rules)
                self._against_earlier_rows(row)
            except RowError as exc:
                batch.rejects.append(Reject(record.line, str(exc), record.values))
                continue
            batch.rows.append(row)
        if self.derivation is not None:
            batch.derived = list(map(self._derive, batch.rows))
            batch.json_only = self.derivation.json_only
        return batch

    def _derive(self, row: ParsedRow) -> Derived | None:
        assert self.derivation is not None
        try:
            return self.derivation(row)
        except Exception:  # the writer derives it again, and fails there as it always did
            return None

    def _against_earlier_rows(self, row: ParsedRow) -> None:
        key = hash((row.participant_ref, row.case_ref))
        if key in self.seen:
            raise RowError(
                "participant_ref",
                f"'{row.participant_ref}' in case "
                f"'{row.case_ref}' is already on line {self.seen[key]}",
            )
        earlier = self.case_lines.get(row.case_ref)
        if earlier is None:
            self.case_lines[row.case_ref] = (
                row.line,
                row.hearing_start,
                row.court,
                row.milestones,
            )
        else:
            line, start, court, milestones = earlier
            if start != row.hearing_start:
                raise RowError(
                    "hearing_start",
                    f"case '{row.case_ref}' has a different hearing_start on line {line}",
                )
            if court != row.court:
                raise RowError(
                    "court", f"case '{row.case_ref}' is at court '{court}' on line {line}"
                )
            if milestones != row.milestones:
                self._different_milestone(row, line, milestones)
        self.seen[key] = row.line

    def _different_milestone(self, row: ParsedRow, line: int, earlier: dict[str, datetime]) -> None:
        """A case's milestone is one date: every row of the case must give the same one."""
        column = next(
            column
            for column, name in self.rules.milestone_columns
            if earlier.get(name) != row.milestones.get(name)
        )
        raise RowError(
            column,
            f"case '{row.case_ref}' has a different {column} on line {line} (give each row of a "
            "case the same date, or the same blank)",
        )


def checked_batches(
    path: Path,
    encoding: str,
    columns: list[str],
    rules: RowRules,
    derivation: Derivation | None = None,
) -> Iterator[CheckedBatch]:
    """The file's rows, checked (and derived, given a Derivation), in batches: beside this
    process when the file is large."""
    if path.stat().st_size >= PARALLEL_FROM_BYTES:
        return _from_reader_process(path, encoding, columns, rules, derivation)
    return _check_here(path, encoding, columns, rules, derivation)


def _check_here(
    path: Path,
    encoding: str,
    columns: list[str],
    rules: RowRules,
    derivation: Derivation | None = None,
) -> Iterator[CheckedBatch]:
    checker = RowChecker(rules, derivation)
    records = read_records(path, encoding, columns)
    while batch := list(islice(records, BATCH)):
        yield checker.check(batch)


def _reader(
    queue: Any,
    path: Path,
    encoding: str,
    columns: list[str],
    rules: RowRules,
    derivation: Derivation | None,
) -> None:
    parent = os.getppid()
    # The checker's rows and memos are millions of objects that live to the end: the cyclic
    # collector would walk them all again and again, finding nothing (the process ends here).
    gc.disable()
    try:
        for batch in _check_here(path, encoding, columns, rules, derivation):
            _hand_over(queue, ("batch", batch), parent)
        _hand_over(queue, ("done", None), parent)
    except Exception as exc:  # reported to the parent, which raises it for the user
        _hand_over(queue, ("error", f"{type(exc).__name__}: {exc}"), parent)


def _hand_over(queue: Any, item: tuple[str, Any], parent: int) -> None:
    """Wait for room in the queue, but not for a parent that is gone (killed mid-import)."""
    while True:
        try:
            queue.put(item, timeout=_PARENT_CHECK_S)
            return
        except Full:
            if os.getppid() != parent:  # re-parented: nobody will ever read this queue
                os._exit(1)


def _from_reader_process(
    path: Path,
    encoding: str,
    columns: list[str],
    rules: RowRules,
    derivation: Derivation | None = None,
) -> Iterator[CheckedBatch]:
    # spawn, not fork: a forked child would share the parent's database connections.
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=_QUEUE_DEPTH)
    reader = context.Process(
        target=_reader, args=(queue, path, encoding, columns, rules, derivation), daemon=True
    )
    reader.start()
    try:
        while True:
            try:
                kind, payload = queue.get(timeout=_READER_TIMEOUT_S)
            except Empty:
                raise ImportRejected(
                    f"{path}: reading the file stalled; nothing was imported"
                ) from None
            if kind == "done":
                return
            if kind == "error":
                raise ImportRejected(f"{path}: could not be read ({payload}); nothing was imported")
            yield payload
    finally:
        if reader.is_alive():
            reader.terminate()
        reader.join()
        queue.close()
        queue.join_thread()
