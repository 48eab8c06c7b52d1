"""Bulk-written rows are stored exactly as the ORM would store them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Table, select
from sqlmodel import Session

from nudge.bulk import insert_rows, reserve_ids
from nudge.models import AuditEvent, Trial

AUDIT: Table = AuditEvent.__table__  # type: ignore[attr-defined]


def test_bulk_rows_match_orm_rows_in_storage_and_in_queries(session: Session) -> None:
    at = datetime(2027, 2, 25, 18, 0, tzinfo=UTC)
    session.add(AuditEvent(at=at, actor="orm", action="a", details={"k": "é"}))
    ids = reserve_ids(session, AUDIT, 2)
    insert_rows(
        session,
        AUDIT,
        ("id", "at", "actor", "action", "details"),
        [(ids[0], at, "bulk", "a", {"k": "é"}), (ids[1], at, "bulk", "a", {})],
    )
    session.commit()
    raw = session.connection().exec_driver_sql('SELECT DISTINCT "at" FROM audit_event').all()
    assert len(raw) == 1  # one stored form, whoever wrote it
    found = session.execute(select(AUDIT.c.actor).where(AUDIT.c.at == at)).scalars().all()
    assert sorted(found) == ["bulk", "bulk", "orm"]
    details = session.execute(select(AUDIT.c.id, AUDIT.c.details)).all()
    assert dict(details) == {ids[0]: {"k": "é"}, ids[1]: {}, ids[1] + 1: {"k": "é"}}


def test_columns_left_out_get_the_models_defaults(session: Session) -> None:
    table: Table = Trial.__table__  # type: ignore[attr-defined]
    insert_rows(
        session,
        table,
        ("id", "title", "created_at"),
        [("t1", "A trial", datetime(2027, 1, 1, tzinfo=UTC))],
    )
    row = session.execute(select(table.c.status, table.c.current_version)).one()
    assert tuple(row) == ("draft", 1)
