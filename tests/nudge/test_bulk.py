"""Bulk-written rows are stored exactly as the ORM would store them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import Session

from nudge.bulk import encode_json, insert_rows, reserve_ids
from nudge.models import AuditEvent, Participant
from nudge.models.tables import AUDIT, CASES, PEOPLE, TRIALS


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
    table = TRIALS
    insert_rows(
        session,
        table,
        ("id", "title", "created_at"),
        [("t1", "A trial", datetime(2027, 1, 1, tzinfo=UTC))],
    )
    row = session.execute(select(table.c.status, table.c.current_version)).one()
    assert tuple(row) == ("draft", 1)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text()) | st.dictionaries(st.text(), st.text()) | _JSON)
def test_json_is_written_exactly_as_the_json_module_writes_it(value: object) -> None:
    assert encode_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_flags_and_instants_are_stored_as_the_orm_stores_them(session: Session) -> None:
    at = datetime(2027, 2, 25, 18, 0, tzinfo=UTC)
    same_instant = datetime(2027, 2, 25, 19, 0, tzinfo=timezone(timedelta(hours=1)))
    later = datetime(2027, 2, 25, 19, 30, 15, 5, tzinfo=UTC)
    insert_rows(session, TRIALS, ("id", "title", "created_at"), [("t1", "A trial", at)])
    insert_rows(session, CASES, ("id", "trial_id", "case_ref"), [(1, "t1", "C1")])
    cases = [(True, at), (False, same_instant), (True, later), (False, at), (True, later)]
    for i, (flag, when) in enumerate(cases):
        session.add(
            Participant(
                id=i + 1,
                trial_id="t1",
                participant_ref=f"orm{i}",
                case_id=1,
                role="witness",
                contact_sms=flag,
                eligible=not flag,
                enrolled_at=when,
            )
        )
    session.flush()
    columns = ("id", "trial_id", "participant_ref", "case_id", "role", "address", "attributes")
    insert_rows(
        session,
        PEOPLE,
        (*columns, "contact_sms", "eligible", "enrolled_at"),
        [
            (i + 101, "t1", f"bulk{i}", 1, "witness", [], {}, flag, not flag, when)
            for i, (flag, when) in enumerate(cases)
        ],
    )
    stored = session.connection().exec_driver_sql(
        "SELECT id, contact_sms, eligible, enrolled_at FROM participant ORDER BY id"
    )
    by_id = {row[0]: tuple(row[1:]) for row in stored}
    assert [by_id[i + 101] for i in range(len(cases))] == [by_id[i + 1] for i in range(len(cases))]
