"""Statuses and reason codes are stored as their text, whichever way they are written."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import Session

from nudge.bulk import Same, insert_rows
from nudge.models import AuditEvent, Reason, Trial, TrialStatus
from nudge.models.tables import AUDIT, TRIALS

AT = datetime(2027, 2, 25, 18, 0, tzinfo=UTC)


def test_a_status_is_stored_as_its_text_by_bulk_insert_core_and_orm(session: Session) -> None:
    insert_rows(
        session,
        TRIALS,
        {"id": ["bulk"], "title": ["A"], "status": [TrialStatus.LIVE], "created_at": Same(AT)},
    )
    insert_rows(session, TRIALS, {"id": ["default"], "title": ["B"], "created_at": Same(AT)})
    session.add(Trial(id="orm", title="C", status=TrialStatus.CLOSED, created_at=AT))
    session.add(Trial(id="updated", title="D", created_at=AT))
    session.flush()
    session.execute(update(TRIALS).where(TRIALS.c.id == "updated").values(status=TrialStatus.LIVE))
    session.commit()
    stored = session.connection().exec_driver_sql("SELECT id, status FROM trial").all()
    assert sorted(map(tuple, stored)) == [
        ("bulk", "live"),
        ("default", "draft"),
        ("orm", "closed"),
        ("updated", "live"),
    ]


def test_a_reason_inside_json_is_stored_as_its_text(session: Session) -> None:
    details = {"reason": Reason.OPTED_OUT}
    insert_rows(session, AUDIT, {"at": [AT], "actor": ["b"], "action": ["a"], "details": [details]})
    session.add(AuditEvent(at=AT, actor="orm", action="a", details=details))
    session.commit()
    stored = (
        session.connection()
        .exec_driver_sql("SELECT CAST(details AS TEXT) FROM audit_event")
        .scalars()
    )
    assert [json.loads(text) for text in stored] == [{"reason": "opted_out"}] * 2
