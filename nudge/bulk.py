"""Bulk writes: rows by column name, the driver's fastest path, SQLAlchemy's own types.

SQLAlchemy spends ~10 µs a row per table building parameters, and RETURNING makes SQLite fall
back to a statement per row. So rows go in through sqlite3's executemany or PostgreSQL's COPY,
each column converted by its own type's bind processor, and ids are reserved up front (a
sequence on PostgreSQL; on SQLite max(id)+1 under the database's write lock, which
`reserve_ids` takes itself).

`insert_rows` takes the rows a column at a time, by name (`{"id": ids, "trial_id":
Same(trial_id), ...}`), the form an import already has: nothing is transposed twice, and a
value the same for every row is converted once. The names are checked against the table's
metadata before anything is written. Table and column names come only from the metadata;
values only as parameters or COPY data. `UpdateEach` is the same idea for updates of a group
of rows (dispatch's tens of texts).

On PostgreSQL, `pipelined` lets a large import's COPYs run beside its work: a second thread
sends them while this one works out the next batch, so the server stores one batch as the
import reads the next instead of each waiting for the other (BENCHMARKS.md, issue 23).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Table,
    Update,
    bindparam,
    column,
    false,
    func,
    select,
    text,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import TypeEngine
from sqlmodel import Session

from nudge.models.types import UTCDateTime


@dataclass(frozen=True, slots=True)
class Same:
    """One value for every row of an `insert_rows` call (converted once, not once a row)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Encoded:
    """A column's values already in the form its type's bind processor would give the driver
    (JSON text written by the engine's serializer, worked out in an import's reader process):
    passed on as they are, not converted again."""

    values: Sequence[Any]

    def __len__(self) -> int:
        return len(self.values)


# A column's values: one a row, in row order, already encoded, or the same for all.
Values = Sequence[Any] | Encoded | Same


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` new primary keys for `table`, unique even with other writers.

    On SQLite this takes the database's write lock for the rest of the transaction (a write
    that matches no row takes it as any write does): another connection can then neither
    insert nor reserve until this one ends, so the ids after the highest stay free.
    """
    if count == 0:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        query = text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
        )
        # While COPYs are being sent (`pipelined`), from the pipe's own connection: a sequence
        # is outside transactions, so the ids are the same, and nothing waits for the COPYs.
        pipe = _pipe_of(connection)
        source = connection if pipe is None else pipe.id_connection()
        return list(source.execute(query, {"table": f'"{table.name}"', "n": count}).scalars())
    connection.execute(update(table).where(false()).values(id=table.c.id))
    highest = connection.execute(select(func.max(table.c.id))).scalar() or 0
    return list(range(highest + 1, highest + 1 + count))


class IdReserver:
    """`reserve_ids` for one transaction that inserts batch after batch into the same tables.

    On SQLite the first reservation takes the database's write lock for the rest of the
    transaction, so nobody else can insert meanwhile: the ids after it are counted on here, not
    asked for again (two statements a batch and table). Only for tables that nothing else in the
    transaction inserts into without reserving here. PostgreSQL's sequences are asked each time.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._counts_on = session.get_bind().dialect.name == "sqlite"
        self._next: dict[str, int] = {}  # each table's next free id, once one is reserved

    def __call__(self, table: Table, count: int) -> list[int]:
        start = self._next.get(table.name)
        if start is None:
            ids = reserve_ids(self.session, table, count)
            if ids and self._counts_on:
                self._next[table.name] = ids[-1] + 1
            return ids
        self._next[table.name] = start + count
        return list(range(start, start + count))


def insert_rows(session: Session, table: Table, columns: Mapping[str, Values]) -> int:
    """Insert rows given a column at a time by name, in one driver call; return how many.

    A column left out gets the model's scalar default, or NULL. An unknown name, a required
    column left out, or lists of different lengths raise ValueError before anything is
    written, even for no rows: each is a mistake in the calling code.
    """
    count = _row_count(table, columns)
    if count == 0:
        return 0
    columns = {**columns, **_defaults(table, columns)}
    connection = session.connection()
    rows = _converted(table, columns, count, connection.dialect)
    raw = connection.connection.driver_connection
    names = ", ".join(f'"{name}"' for name in columns)
    if connection.dialect.name == "postgresql":
        statement = f'COPY "{table.name}" ({names}) FROM STDIN'
        pipe = _pipe_of(connection)
        if pipe is None:
            _copy(raw, statement, rows)
        else:
            pipe.send(table.name, statement, rows)
        return count
    marks = ", ".join("?" for _ in columns)
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)
    finally:
        cursor.close()
    return count


def _copy(raw: Any, statement: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with raw.cursor() as cursor:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


@contextmanager
def pipelined(session: Session) -> Iterator[None]:
    """Within the block, on PostgreSQL, `insert_rows` hands its COPY to a second thread and
    returns: the server stores those rows while this thread goes on. Elsewhere, nothing changes.

    The COPYs go in the order given, on the session's connection. Any other statement on that
    connection (a query, an update, the ORM's flush, a commit) first waits for every COPY sent
    to end, so it sees their rows, and raises the first that failed (an `insert_rows` error
    arrives there, not at its call); so does leaving the block. `reserve_ids` uses a connection
    of its own meanwhile. The values given to `insert_rows` are read by the sending thread after
    it returns: the caller must not change them.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql" or _PIPE in connection.info:
        yield
        return
    pipe = _CopyPipe(connection)
    connection.info[_PIPE] = pipe
    listeners = (
        ("before_cursor_execute", pipe.before_statement),
        ("commit", pipe.before_end),
        ("rollback", pipe.before_rollback),
    )
    for name, listener in listeners:
        sa_event.listen(connection, name, listener)
    try:
        yield
        pipe.wait()
    except BaseException:
        pipe.failed = True  # the caller rolls back: the COPYs still queued are not sent
        raise
    finally:
        pipe.close()
        for name, listener in listeners:
            sa_event.remove(connection, name, listener)
        del connection.info[_PIPE]


_PIPE = "nudge.bulk.pipe"
# COPYs queued beyond the one being sent: about two batches of an import's five tables, which
# is enough to keep the server busy and bounds the rows held in memory.
_PIPE_DEPTH = 10


def _pipe_of(connection: Connection) -> _CopyPipe | None:
    return cast("_CopyPipe | None", connection.info.get(_PIPE))


class _CopyPipe:
    """One connection's COPYs, sent in order by a thread of their own (see `pipelined`)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.raw = connection.connection.driver_connection
        self.jobs: queue.Queue[tuple[str, str, Iterable[tuple[Any, ...]]] | None] = queue.Queue(
            maxsize=_PIPE_DEPTH
        )
        self.failed = False  # a COPY failed: the transaction is aborted, later ones are skipped
        self.failure: BaseException | None = None  # that failure, until raised once
        self.ids: Connection | None = None
        self.thread = threading.Thread(target=self._run, name="nudge-copy", daemon=True)
        self.thread.start()

    def send(self, table: str, statement: str, rows: Iterable[tuple[Any, ...]]) -> None:
        self.jobs.put((table, statement, rows))

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                if job is None:
                    return
                table, statement, rows = job
                if not self.failed:
                    try:
                        _copy(self.raw, statement, rows)
                    except BaseException as exc:  # raised by the other thread (`wait`)
                        exc.add_note(f"while inserting rows into {table}")
                        self.failed, self.failure = True, exc
            finally:
                self.jobs.task_done()

    def wait(self) -> None:
        """Until every COPY sent has ended; raise the first failure, once."""
        self.jobs.join()
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure

    def before_statement(self, *_args: Any) -> None:
        self.wait()

    def before_end(self, _connection: Connection) -> None:
        self.wait()

    def before_rollback(self, _connection: Connection) -> None:
        self.jobs.join()  # rolled back anyway: nothing to raise

    def id_connection(self) -> Connection:
        if self.ids is None:
            engine = self.connection.engine
            self.ids = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.ids

    def close(self) -> None:
        """Stop the thread (after the COPYs already sent) and the ids' connection."""
        self.jobs.put(None)
        self.thread.join()
        if self.ids is not None:
            self.ids.close()


def columns_of(rows: Sequence[Any], names: Iterable[str]) -> dict[str, list[Any]]:
    """The attributes `names` of each row, a list a name: named rows (a NamedTuple's fields
    named after the table's columns) in the form `insert_rows` takes, gathered in C."""
    return {name: list(map(attrgetter(name), rows)) for name in names}


Columns = tuple[tuple[str, TypeEngine[Any]], ...]


@dataclass(frozen=True)
class UpdateEach:
    """One UPDATE a row, as one statement on PostgreSQL.

    PostgreSQL gets one UPDATE joined to the rows, passed as one array a column (`unnest`):
    a statement a row costs its driver about 0.1 ms of CPU each, even pipelined. SQLite (no
    arrays) gets the same statement with one row's parameters, executed once a row in a loop
    its driver runs in C. Both are built once, by `of`.
    """

    columns: Columns
    for_rows: Update
    for_arrays: Update
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(name for name, _kind in self.columns))

    @classmethod
    def of(cls, statement: Callable[..., Update], columns: Columns) -> UpdateEach:
        """`statement(*columns)`, given one column expression for each of `columns`."""
        arrays = [bindparam(name, type_=ARRAY(kind)) for name, kind in columns]
        given = (
            func.unnest(*arrays)
            .table_valued(*(column(name, kind) for name, kind in columns))
            .render_derived(name="given")
        )
        one_row = [bindparam(name, type_=kind) for name, kind in columns]
        return cls(columns, statement(*one_row), statement(*given.c))

    def execute(
        self, session: Session, columns: Mapping[str, Sequence[Any]], **shared: object
    ) -> None:
        """The update for each row, its values given a column at a time by name (as for
        `insert_rows`); `shared` the same for all rows."""
        if set(columns) != set(self.names):
            raise ValueError(
                f"the update takes the columns {', '.join(self.names)}; given {', '.join(columns)}"
            )
        cells = [list(columns[name]) for name in self.names]
        if len({len(values) for values in cells}) > 1:
            raise ValueError("the update's columns have different numbers of values")
        if not cells[0]:
            return
        if session.get_bind().dialect.name == "postgresql":
            arrays = dict(zip(self.names, cells, strict=True))
            session.execute(self.for_arrays, {**arrays, **shared})
            return
        each = [
            {**dict(zip(self.names, row, strict=True)), **shared}
            for row in zip(*cells, strict=True)
        ]
        session.execute(self.for_rows, each)


def _row_count(table: Table, columns: Mapping[str, Values]) -> int:
    """How many rows `columns` holds, once the names are known to fit the table."""
    unknown = sorted(columns.keys() - table.c.keys())
    if unknown:
        raise ValueError(f"table {table.name} has no column {', '.join(unknown)}")
    missing = [c.name for c in table.c if c.name not in columns and _required(table, c)]
    if missing:
        raise ValueError(
            f"rows for {table.name} need {', '.join(missing)}: not null, and no default to fill"
        )
    texts = sorted(name for name, values in columns.items() if isinstance(values, str | bytes))
    if texts:
        raise ValueError(
            f"rows for {table.name}: {', '.join(texts)} given as one text, not one value a row "
            "(Same(text) stores it in every row)"
        )
    lengths = sorted({len(values) for values in columns.values() if not isinstance(values, Same)})
    if len(lengths) != 1:
        raise ValueError(
            f"rows for {table.name} need columns of one length, not {lengths}"
            if lengths
            else f"rows for {table.name}: give at least one column as a list of values"
        )
    return lengths[0]


def _required(table: Table, col: Column[Any]) -> bool:
    """Whether an insert must name the column: the database would refuse NULL in it."""
    return not (
        col.nullable
        or col is table.autoincrement_column
        or col.server_default is not None
        or (col.default is not None and col.default.is_scalar)
    )


def _defaults(table: Table, columns: Mapping[str, Values]) -> dict[str, Same]:
    """The scalar defaults the ORM would have filled for columns the caller left out."""
    return {
        col.name: Same(col.default.arg)  # type: ignore[attr-defined]
        for col in table.c
        if col.name not in columns and col.default is not None and col.default.is_scalar
    }


def _converted(
    table: Table, columns: Mapping[str, Values], count: int, dialect: Dialect
) -> Iterator[tuple[Any, ...]]:
    """The rows, each column converted by its type's bind processor, a column at a time.

    Column-wise, the converting runs mostly in C (map), and zip builds the rows in C: row by
    row, a million rows cost ~10 s of interpreted loops on this machine.
    """
    cells: list[Iterable[Any]] = []
    for name, values in columns.items():
        process = _processor(table.c[name].type, dialect)
        if isinstance(values, Encoded):
            cells.append(values.values)
        elif isinstance(values, Same):
            one = values.value if process is None else process.process(values.value)
            cells.append(repeat(one, count))
        else:
            cells.append(values if process is None else process.column(values))
    return zip(*cells, strict=True)


class _Column:
    """One column's bind processor, applied to a whole column of values."""

    def __init__(self, process: Callable[[Any], Any], *, few_values: bool) -> None:
        self.process = process
        # Flags and the instants an import stamps take a handful of values: each is converted
        # once and looked up after (in C); the rest are converted value by value.
        self.memo: dict[Any, Any] | None = {} if few_values else None

    def column(self, values: Sequence[Any]) -> list[Any]:
        memo = self.memo
        if memo is None:
            return list(map(self.process, values))
        try:
            return list(map(memo.__getitem__, values))
        except KeyError:
            for value in set(values) - memo.keys():
                memo[value] = self.process(value)
            return list(map(memo.__getitem__, values))


def _processor(column_type: TypeEngine[Any], dialect: Dialect) -> _Column | None:
    if isinstance(column_type, JSON):
        # COPY and sqlite3 take JSON as its text: SQLAlchemy's generic JSON processor writes
        # it with the engine's serializer (make_engine's), as the ORM's statements do. Only a
        # driver that serializes JSON itself, given no serializer, gets none: json.dumps then.
        process = column_type.bind_processor(dialect) or json.dumps
        return _Column(process, few_values=False)
    # The dialect's own implementation: SQLite's DATETIME formats the text SQLAlchemy reads
    # back and compares with; the generic type would leave that to sqlite3's adapter.
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    return _Column(process, few_values=isinstance(column_type, UTCDateTime | Boolean))
