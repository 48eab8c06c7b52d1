"""Bulk writes for imports of a million rows: the driver's fastest path, the ORM's own types.

SQLAlchemy spends ~10 µs a row per table building parameters, and RETURNING makes SQLite fall
back to a statement per row. So ids are reserved up front (a sequence on PostgreSQL; on SQLite
the caller holds the database's write lock, so max(id)+1 is safe), and rows go in through
sqlite3's executemany or PostgreSQL's COPY, converted by each column's own bind processor.
Table and column names come only from the metadata; values only as parameters or COPY data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.sql.schema import ScalarElementColumnDefault
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
    processors = [
        (i, p)
        for i, name in enumerate(columns)
        if (p := _processor(table, name, dialect)) is not None
    ]
    converted: Sequence[Sequence[Any]] = rows
    if processors:
        converted = [_convert(row, processors) for row in rows]
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


def _convert(row: Sequence[Any], processors: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    values = list(row)
    for index, process in processors:
        values[index] = process(values[index])
    return values


def _processor(table: Table, name: str, dialect: Any) -> Callable[[Any], Any] | None:
    column_type = table.c[name].type
    if column_type.__class__.__name__ == "JSON":
        return _json  # COPY and sqlite3 both take JSON as its text
    # The dialect's own implementation: SQLite's DATETIME formats the text SQLAlchemy reads
    # back and compares with; the generic type would leave that to sqlite3's adapter.
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None or not isinstance(column_type, UTCDateTime):
        return process
    # An import stamps every row with the same few instants: convert each one once.
    memo: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        if value not in memo:
            memo[value] = process(value)
        return memo[value]

    return remembered


# One encoder for all rows: json.dumps with options builds a new one on every call.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
