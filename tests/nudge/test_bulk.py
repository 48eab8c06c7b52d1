"""Bulk-written rows are stored exactly as the ORM would store them, named by column."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, String, bindparam, func, select, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from nudge.bulk import IdReserver, Same, UpdateEach, insert_rows, pipelined, reserve_ids
from nudge.db import encode_json
from nudge.models import AuditEvent, Participant
from nudge.models.tables import AUDIT, CASES, PEOPLE, TRIALS

AT = datetime(2027, 2, 25, 18, 0, tzinfo=UTC)


def test_bulk_rows_match_orm_rows_in_storage_and_in_queries(session: Session) -> None:
    session.add(AuditEvent(at=AT, actor="orm", action="a", details={"k": "é"}))
    ids = reserve_ids(session, AUDIT, 2)
    insert_rows(
        session,
        AUDIT,
        {
            "id": ids,
            "at": Same(AT),
            "actor": ["bulk", "bulk"],
            "action": Same("a"),
            "details": [{"k": "é"}, {}],
        },
    )
    session.commit()
    connection = session.connection()
    assert len(connection.exec_driver_sql('SELECT DISTINCT "at" FROM audit_event').all()) == 1
    stored = connection.exec_driver_sql("SELECT CAST(details AS TEXT) FROM audit_event").all()
    assert sorted(text for (text,) in stored) == ['{"k":"é"}', '{"k":"é"}', "{}"]
    found = session.execute(select(AUDIT.c.actor).where(AUDIT.c.at == AT)).scalars().all()
    assert sorted(found) == ["bulk", "bulk", "orm"]
    details = session.execute(select(AUDIT.c.id, AUDIT.c.details)).all()
    assert dict(details) == {ids[0]: {"k": "é"}, ids[1]: {}, ids[1] + 1: {"k": "é"}}


def test_columns_left_out_get_the_models_defaults(session: Session) -> None:
    insert_rows(session, TRIALS, {"id": ["t1"], "title": ["A trial"], "created_at": Same(AT)})
    row = session.execute(select(TRIALS.c.status, TRIALS.c.current_version)).one()
    assert tuple(row) == ("draft", 1)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"id": ["t1"], "title": ["A"], "created_at": [AT], "colour": ["red"]}, "no column colour"),
        ({"id": ["t1"], "created_at": [AT]}, "need title"),
        ({"id": ["t1", "t2"], "title": ["A"], "created_at": Same(AT)}, "one length"),
        ({"id": Same("t1"), "title": Same("A"), "created_at": Same(AT)}, "list of values"),
        ({"id": ["t1", "t2"], "title": "AB", "created_at": Same(AT)}, "title given as one text"),
    ],
)
def test_rows_that_do_not_fit_the_table_are_refused_before_anything_is_written(
    session: Session, columns: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        insert_rows(session, TRIALS, columns)  # type: ignore[arg-type]
    assert session.execute(select(TRIALS.c.id)).all() == []


def test_a_misnamed_column_is_refused_even_with_no_rows(session: Session) -> None:
    with pytest.raises(ValueError, match="no column colour"):
        insert_rows(session, TRIALS, {"id": [], "title": [], "created_at": [], "colour": []})


def audit_rows(ids: list[int]) -> dict[str, Any]:
    return {"id": ids, "at": Same(AT), "actor": Same("a"), "action": Same("a"), "details": Same({})}


def test_two_writers_never_reserve_the_same_ids(engine: Engine) -> None:
    """SQLite has no sequence: a reservation holds the write lock until its transaction ends,
    so a second writer waits (here refused at once) instead of taking the same ids."""
    with Session(engine) as first, Session(engine) as second:
        mine = reserve_ids(first, AUDIT, 3)
        if engine.dialect.name == "sqlite":
            second.connection().exec_driver_sql("PRAGMA busy_timeout = 0")
            with pytest.raises(OperationalError, match="locked"):
                reserve_ids(second, AUDIT, 3)
            second.rollback()
        else:
            assert not set(mine) & set(reserve_ids(second, AUDIT, 3))
        insert_rows(first, AUDIT, audit_rows(mine))
        first.commit()
        assert not set(mine) & set(reserve_ids(second, AUDIT, 3))


def test_an_id_reserver_hands_out_fresh_ids_batch_after_batch(engine: Engine) -> None:
    """Counted on after the first reservation on SQLite (the write lock is held), asked of the
    sequence on PostgreSQL: either way each batch's ids are new, and so are the next
    transaction's."""
    with Session(engine) as first:
        first.add(AuditEvent(at=AT, actor="orm", action="a", details={}))
        first.flush()
        reserve = IdReserver(first)
        batches = [reserve(AUDIT, 3), reserve(AUDIT, 0), reserve(AUDIT, 2)]
        for ids in batches:
            if ids:
                insert_rows(first, AUDIT, audit_rows(ids))
        first.commit()
    taken = [i for ids in batches for i in ids]
    assert len(set(taken)) == 5 and batches[1] == []
    assert taken == sorted(taken)
    with Session(engine) as second:
        later = IdReserver(second)(AUDIT, 2)
        assert min(later) > max(taken)
        insert_rows(second, AUDIT, audit_rows(later))
        second.commit()
        stored = second.execute(select(AUDIT.c.id)).scalars().all()
    assert len(stored) == len(set(stored)) == 8


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
    same_instant = datetime(2027, 2, 25, 19, 0, tzinfo=timezone(timedelta(hours=1)))
    later = datetime(2027, 2, 25, 19, 30, 15, 5, tzinfo=UTC)
    insert_rows(session, TRIALS, {"id": ["t1"], "title": ["A trial"], "created_at": [AT]})
    insert_rows(session, CASES, {"id": [1], "trial_id": ["t1"], "case_ref": ["C1"]})
    cases = [(True, AT), (False, same_instant), (True, later), (False, AT), (True, later)]
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
    flags = [flag for flag, _ in cases]
    insert_rows(
        session,
        PEOPLE,
        {
            "id": [i + 101 for i in range(len(cases))],
            "trial_id": Same("t1"),
            "participant_ref": [f"bulk{i}" for i in range(len(cases))],
            "case_id": Same(1),
            "role": Same("witness"),
            "address": Same([]),
            "attributes": Same({}),
            "contact_sms": flags,
            "eligible": [not flag for flag in flags],
            "enrolled_at": [when for _, when in cases],
        },
    )
    stored = session.connection().exec_driver_sql(
        "SELECT id, contact_sms, eligible, enrolled_at FROM participant ORDER BY id"
    )
    by_id = {row[0]: tuple(row[1:]) for row in stored}
    assert [by_id[i + 101] for i in range(len(cases))] == [by_id[i + 1] for i in range(len(cases))]


def test_update_each_sets_each_rows_own_values_by_column_name(session: Session) -> None:
    """Dispatch's group updates: one statement on PostgreSQL, one a row on SQLite, same rows."""
    insert_rows(
        session,
        TRIALS,
        {"id": ["t1", "t2", "t3"], "title": ["A", "B", "C"], "created_at": Same(AT)},
    )
    retitle = UpdateEach.of(
        lambda trial_id, title: (
            update(TRIALS)
            .where(TRIALS.c.id == trial_id)
            .values(title=title, status=bindparam("status", type_=String()))
        ),
        (("trial_id", String()), ("title", String())),
    )
    retitle.execute(session, {"title": ["Z", "Y"], "trial_id": ["t3", "t1"]}, status="live")
    rows = session.execute(select(TRIALS.c.id, TRIALS.c.title, TRIALS.c.status)).all()
    assert sorted(map(tuple, rows)) == [
        ("t1", "Y", "live"),
        ("t2", "B", "draft"),
        ("t3", "Z", "live"),
    ]
    with pytest.raises(ValueError, match="takes the columns trial_id, title"):
        retitle.execute(session, {"trial_id": ["t1"], "name": ["X"]}, status="live")


def _audit_rows(count: int, actor: str, ids: list[int]) -> dict[str, object]:
    return {
        "id": ids,
        "at": Same(AT),
        "actor": [actor] * count,
        "action": Same("a"),
        "details": [{"n": n} for n in range(count)],
    }


def test_rows_inserted_while_pipelined_are_seen_by_the_next_statement(session: Session) -> None:
    """On PostgreSQL the COPYs go from a second thread: a query, an update and the ORM's
    flush each wait for them, so every one sees the rows in the order they were inserted."""
    with pipelined(session):
        first = reserve_ids(session, AUDIT, 3000)
        insert_rows(session, AUDIT, _audit_rows(3000, "first", first))
        second = reserve_ids(session, AUDIT, 2)
        insert_rows(session, AUDIT, _audit_rows(2, "second", second))
        counted = session.execute(select(AUDIT.c.actor, func.count()).group_by(AUDIT.c.actor))
        assert dict(counted.all()) == {"first": 3000, "second": 2}
        session.execute(update(AUDIT).where(AUDIT.c.id == second[1]).values(actor="changed"))
        session.add(AuditEvent(at=AT, actor="orm", action="a", details={}))
        session.flush()
        insert_rows(session, AUDIT, _audit_rows(1, "last", reserve_ids(session, AUDIT, 1)))
    session.commit()
    stored = session.execute(select(AUDIT.c.actor, func.count()).group_by(AUDIT.c.actor))
    assert dict(stored.all()) == {
        "first": 3000,
        "second": 1,
        "changed": 1,
        "orm": 1,
        "last": 1,
    }
    assert len(set(first) | set(second)) == 3002


def test_a_failed_pipelined_insert_is_raised_and_nothing_is_kept(session: Session) -> None:
    """An insert that fails in the sending thread is raised in the caller's (at the next
    statement or the end of the block, naming the table), and rolling back keeps nothing."""
    ids = reserve_ids(session, AUDIT, 2)
    with pytest.raises(Exception, match="audit_event") as raised:
        with pipelined(session):
            insert_rows(session, AUDIT, _audit_rows(2, "once", ids))
            insert_rows(session, AUDIT, _audit_rows(2, "twice", ids))  # the same ids again
            session.execute(select(AUDIT.c.id)).all()
    assert "unique" in str(raised.value).lower() or "duplicate" in str(raised.value).lower()
    session.rollback()
    assert session.execute(select(func.count()).select_from(AUDIT)).scalar() == 0
    # The session works as before once rolled back, and outside the block inserts at once.
    insert_rows(session, AUDIT, _audit_rows(1, "after", reserve_ids(session, AUDIT, 1)))
    session.commit()
    assert session.execute(select(AUDIT.c.actor)).scalars().all() == ["after"]


def test_a_failure_in_the_block_stops_the_pipe_and_leaves_the_session_usable(
    session: Session,
) -> None:
    with pytest.raises(RuntimeError, match="the caller's own"):
        with pipelined(session):
            for _ in range(20):  # more COPYs than the pipe holds at once
                ids = reserve_ids(session, AUDIT, 500)
                insert_rows(session, AUDIT, _audit_rows(500, "lost", ids))
            raise RuntimeError("the caller's own mistake")
    session.rollback()
    assert not any(t.name == "nudge-copy" and t.is_alive() for t in threading.enumerate())
    assert session.execute(select(func.count()).select_from(AUDIT)).scalar() == 0
