"""Reading the audit log back, for admins: filtered, a page at a time, or whole as CSV.

The log is written never to hold a name, phone number or address (nudge.audit). As a second
line of defence the reader also hides anything shaped like a phone number, so a number typed
into the login form's email field, say, is never shown or downloaded.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, true
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from nudge.csvout import write_rows
from nudge.models import AuditEvent
from nudge.paging import PER_PAGE, page_window

HIDDEN = "[number hidden]"
# A phone number as people write one: + or 0 then 9 to 14 more digits, single spaces or dashes
# allowed between; or any 10 digits or more standing alone. Dates, times, counts, ids and IP
# addresses do not match.
_NUMBER = re.compile(r"(?<![\w.:])(?:[+0]\d(?:[ -]?\d){8,14}|\d{10,})(?![\w.])")
CSV_HEADER = ("Time (UTC)", "Who", "Action", "Trial", "Subject", "Details")


@dataclass(frozen=True)
class AuditFilters:
    """What the admin asked for; an empty filter matches every event."""

    who: str | None = None
    action: str | None = None
    trial_id: str | None = None
    since: date | None = None
    until: date | None = None

    def given(self) -> dict[str, str]:
        """The filters set, as text for the audit log's own record of this view."""
        return {k: str(v) for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    trial_id: str
    subject: str
    details: str


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    pages: int


def audit_page(
    session: Session, filters: AuditFilters, page: int = 1, within: Any = None
) -> AuditPage:
    """One page of matching events, newest first; only those `within` (nudge.scope) if given."""
    query = _matching(filters, within)
    total = int(session.exec(select(func.count()).select_from(query.subquery())).one())
    pages, page, offset = page_window(total, page)
    found = session.exec(query.order_by(col(AuditEvent.id).desc()).offset(offset).limit(PER_PAGE))
    return AuditPage([_row(event) for event in found], total, page, pages)


def audit_csv(session: Session, filters: AuditFilters, within: Any = None) -> str:
    """Every matching event, oldest first, as spreadsheet-safe CSV (BOM first, for Excel)."""
    stream = io.StringIO()
    write_rows(stream, CSV_HEADER, _csv_rows(session, filters, within), byte_order_mark=True)
    return stream.getvalue()


def _csv_rows(session: Session, filters: AuditFilters, within: Any) -> Iterator[tuple[str, ...]]:
    for event in session.exec(_matching(filters, within).order_by(col(AuditEvent.id))):
        row = _row(event)
        at = row.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        yield (at, row.actor, row.action, row.trial_id, row.subject, row.details)


def choices(session: Session, within: Any = None) -> tuple[list[str], list[str]]:
    """The actions and the trials the log holds (`within`, if given), for the filters' lists."""
    seen = true() if within is None else within
    actions = session.exec(
        select(AuditEvent.action).where(seen).distinct().order_by(AuditEvent.action)
    )
    trials = session.exec(
        select(AuditEvent.trial_id)
        .where(col(AuditEvent.trial_id).is_not(None), seen)
        .distinct()
        .order_by(col(AuditEvent.trial_id))
    )
    return list(actions), [t for t in trials if t]


def _matching(filters: AuditFilters, within: Any = None) -> SelectOfScalar[AuditEvent]:
    query = select(AuditEvent) if within is None else select(AuditEvent).where(within)
    if filters.who:
        # autoescape: a % or _ typed in the filter is matched as itself, not as a wildcard.
        who = filters.who.lower()
        query = query.where(func.lower(AuditEvent.actor).contains(who, autoescape=True))
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.trial_id:
        query = query.where(AuditEvent.trial_id == filters.trial_id)
    if filters.since:
        query = query.where(col(AuditEvent.at) >= datetime.combine(filters.since, time(), UTC))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(), UTC)
        query = query.where(col(AuditEvent.at) < end)
    return query


def _row(event: AuditEvent) -> AuditRow:
    details = json.dumps(event.details, sort_keys=True, default=str) if event.details else ""
    return AuditRow(
        at=event.at,
        actor=hide_numbers(event.actor),
        action=event.action,
        trial_id=event.trial_id or "",
        subject=hide_numbers(event.subject or ""),
        details=hide_numbers(details),
    )


def hide_numbers(text: str) -> str:
    """The text with anything shaped like a phone number replaced by HIDDEN."""
    return _NUMBER.sub(HIDDEN, text)
