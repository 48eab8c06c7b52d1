"""Column types shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from nudge.clock import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every engine (SQLite keeps no zone, so it is restored on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def column_length(model: Any, name: str) -> int:
    """The most characters a model's text column holds: the one number the checks on
    incoming text read, so a check and its column cannot drift apart."""
    length = model.__table__.c[name].type.length
    if length is None:
        raise ValueError(f"{model.__name__}.{name} has no length limit")
    return int(length)


def fitted(text: str, limit: int) -> str:
    """`text` cut in the middle to at most `limit` characters, keeping its start and its end
    (for a path: the file name), with an ellipsis where characters were left out."""
    if len(text) <= limit:
        return text
    keep = limit - 1
    head = keep // 3
    return f"{text[:head]}…{text[len(text) - (keep - head) :]}"
