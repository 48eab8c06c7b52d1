"""Bulk writes: the driver's fastest path, the ORM's own types.

SQLAlchemy spends ~10 µs a row per table building parameters, and RETURNING makes SQLite fall
back to a statement per row. So ids are reserved up front (a sequence on PostgreSQL; on SQLite
the caller holds the database's write lock, so max(id)+1 is safe), and rows go in through
sqlite3's executemany or PostgreSQL's COPY, converted by each column's own bind processor.
Table and column names come only from the metadata; values only as parameters or COPY data.
`UpdateEach` is the same idea for updates of a group of rows (dispatch's tens of texts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import Boolean, Table, Update, bindparam, column, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlalchemy.types import TypeEngine
from sqlmodel import Session

from nudge.models.types import UTCDateTime


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` new primary keys for `table`, unique even with other writers."""
    if count == 0:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        query = text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
        )
        return list(connection.execute(query, {"table": f'"{table.name}"', "n": count}).scalars())
    highest = connection.execute(select(func.max(table.c.id))).scalar() or 0
    return list(range(highest + 1, highest + 1 + count))


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows (values in `columns` order) in one driver call."""
    if not rows:
        return
    columns, rows = _with_defaults(table, columns, rows)
    connection = session.connection()
    dialect = connection.dialect
    converted = _converted(table, columns, rows, dialect)
    raw = connection.connection.driver_connection
    names = ", ".join(f'"{name}"' for name in columns)
    if dialect.name == "postgresql":
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for row in converted:
                    copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', converted)
    finally:
        cursor.close()


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
        self, session: Session, rows: Sequence[tuple[object, ...]], **shared: object
    ) -> None:
        """The update for each row (values in `columns` order); `shared` the same for all."""
        if not rows:
            return
        if session.get_bind().dialect.name == "postgresql":
            cells = map(list, zip(*rows, strict=True))
            arrays = dict(zip(self.names, cells, strict=True))
            session.execute(self.for_arrays, {**arrays, **shared})
            return
        each = [{**dict(zip(self.names, row, strict=True)), **shared} for row in rows]
        session.execute(self.for_rows, each)


def _converted(
    table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], dialect: Any
) -> Sequence[Sequence[Any]]:
    """The rows with each column's bind processor applied, a column at a time.

    Column-wise, the transposing and most of the converting run in C (zip, map): row by row,
    a million rows cost ~10 s of interpreted loops on this machine.
    """
    processors = [
        (i, p)
        for i, name in enumerate(columns)
        if (p := _processor(table, name, dialect)) is not None
    ]
    if not processors:
        return rows
    cells: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for index, process in processors:
        cells[index] = process.column(cells[index])
    return list(zip(*cells, strict=True))


def _with_defaults(
    table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[Sequence[str], Sequence[Sequence[Any]]]:
    """Add the scalar defaults the ORM would have filled for columns the caller left out."""
    given = set(columns)
    defaults = [
        (column.name, column.default.arg)
        for column in table.c
        if column.name not in given and isinstance(column.default, ScalarElementColumnDefault)
    ]
    if not defaults:
        return columns, rows
    names = [*columns, *(name for name, _ in defaults)]
    values = tuple(value for _, value in defaults)
    return names, [(*row, *values) for row in rows]


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


def _processor(table: Table, name: str, dialect: Any) -> _Column | None:
    column_type = table.c[name].type
    if column_type.__class__.__name__ == "JSON":
        return _Column(encode_json, few_values=False)  # COPY and sqlite3 take JSON as its text
    # The dialect's own implementation: SQLite's DATETIME formats the text SQLAlchemy reads
    # back and compares with; the generic type would leave that to sqlite3's adapter.
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    return _Column(process, few_values=isinstance(column_type, UTCDateTime | Boolean))


# One encoder for all rows: json.dumps with options builds a new one on every call.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_json(value: Any) -> str:
    """`value` as compact JSON text, exactly as `_json` writes it, faster for the usual shapes.

    An address (a list of texts) and attributes (a dict of texts to texts) are most of a large
    import's JSON: joining the escaped texts directly is about three times quicker.
    """
    kind = type(value)
    if kind is list and all(type(item) is str for item in value):
        return "[" + ",".join(map(encode_basestring, value)) + "]"
    if kind is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
        return (
            "{"
            + ",".join(
                [encode_basestring(k) + ":" + encode_basestring(v) for k, v in value.items()]
            )
            + "}"
        )
    return _json(value)
