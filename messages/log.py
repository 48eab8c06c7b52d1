"""The message log: a trial's messages, filtered and paged in the database, never in memory.

The download holds every page of the same filtered view, with the codes a script can match
(`opted_out`, `practical`, `survey:confidence:reminder`) where the page shows words ("Survey
reminder: confidence"), and times in the trial's timezone with their UTC offset, so that each
is exact without knowing the zone.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, true
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from experiments.definition import TrialDefinition
from messages.surveys import PREFIX, REMINDER
from nudge.csvout import write_rows
from nudge.models import Arm, Assignment, Message, MessageStatus, Participant
from nudge.paging import PER_PAGE, page_window

CSV_HEADER = (
    "participant_ref",
    "arm",
    "channel",
    "template",
    "language",
    "due_at",
    "status",
    "reason",
    "sent_at",
    "attempts",
)
Columns = TypeVarTuple("Columns")


@dataclass(frozen=True)
class LogFilters:
    """What the researcher asked for; None means any. Dates are local dates of `due_at`."""

    status: MessageStatus | None = None
    channel: str | None = None
    arm: str | None = None
    reason: str | None = None
    due_from: date | None = None
    due_to: date | None = None
    participant_ref: str | None = None

    def given(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class LogRow:
    message_id: int
    participant_ref: str
    arm: str | None  # the key
    arm_title: str | None
    channel: str
    template: str
    language: str
    due_at: datetime
    status: str
    reason: str | None
    sent_at: datetime | None
    attempts: int


@dataclass(frozen=True)
class LogPage:
    rows: list[LogRow]
    total: int
    page: int
    pages: int
    counts: dict[str, int]  # by status, under every filter but the status one
    participant_ids: list[int]  # whose messages a reference filter matched, for the audit log


def message_log(
    session: Session,
    trial_id: str,
    zone: ZoneInfo,
    filters: LogFilters,
    *,
    page: int = 1,
    within: ColumnElement[bool] | None = None,
) -> LogPage:
    """One page of a trial's messages, newest due first, with counts by status; of the
    participants `within` admits only (nudge.scope.people_within: a site's own people)."""
    within = true() if within is None else within
    conditions = [*_conditions(trial_id, zone, filters), within]
    counts_query = _joined(select(Message.status, func.count()).select_from(Message))
    counts_query = counts_query.where(*conditions).group_by(Message.status)
    counts = {status: int(n) for status, n in session.exec(counts_query).all()}
    total = counts.get(filters.status, 0) if filters.status else sum(counts.values())
    pages, page, offset = page_window(total, page)
    rows = list(_rows(session, trial_id, zone, filters, within, offset=offset, limit=PER_PAGE))
    return LogPage(rows, total, page, pages, counts, _matched(session, trial_id, filters, within))


@dataclass(frozen=True)
class LogDownload:
    text: str
    rows: int
    participant_ids: list[int]  # as on LogPage


def message_log_csv(
    session: Session,
    trial_id: str,
    zone: ZoneInfo,
    filters: LogFilters,
    *,
    within: ColumnElement[bool] | None = None,
) -> LogDownload:
    """Every message the filters match (of the participants `within` admits), in the page's
    order, as spreadsheet-safe CSV (BOM first, for Excel)."""
    within = true() if within is None else within
    stream = io.StringIO()
    count = write_rows(
        stream,
        CSV_HEADER,
        (_csv_row(row, zone) for row in _rows(session, trial_id, zone, filters, within)),
        byte_order_mark=True,
    )
    return LogDownload(stream.getvalue(), count, _matched(session, trial_id, filters, within))


def _csv_row(row: LogRow, zone: ZoneInfo) -> tuple[Any, ...]:
    return (
        row.participant_ref,
        row.arm,
        row.channel,
        row.template,
        row.language,
        _local_iso(row.due_at, zone),
        row.status,
        row.reason,
        _local_iso(row.sent_at, zone),
        row.attempts,
    )


def _local_iso(instant: datetime | None, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat(timespec="seconds") if instant else ""


def _rows(
    session: Session,
    trial_id: str,
    zone: ZoneInfo,
    filters: LogFilters,
    within: ColumnElement[bool],
    *,
    offset: int = 0,
    limit: int | None = None,
) -> Iterator[LogRow]:
    """The matching messages, newest due first (the id breaks ties, so pages never overlap)."""
    query = _joined(select(Message, Participant.participant_ref, Arm.key, Arm.title))
    query = query.where(*_conditions(trial_id, zone, filters), within)
    if filters.status:
        query = query.where(Message.status == filters.status)
    query = query.order_by(col(Message.due_at).desc(), col(Message.id).desc()).offset(offset)
    for message, ref, arm, title in session.exec(query.limit(limit)):
        yield _row(message, ref, arm, title)


def _joined(query: Select[*Columns]) -> Select[*Columns]:
    """A message with its participant and, once randomised, the arm they were allocated."""
    return (
        query.join(Participant, col(Participant.id) == Message.participant_id)
        .outerjoin(Assignment, col(Assignment.participant_id) == Message.participant_id)
        .outerjoin(Arm, col(Arm.id) == Assignment.arm_id)
    )


def _conditions(trial_id: str, zone: ZoneInfo, filters: LogFilters) -> list[Any]:
    conditions: list[Any] = [Message.trial_id == trial_id]
    if filters.channel:
        conditions.append(Message.channel == filters.channel)
    if filters.arm:
        conditions.append(Arm.key == filters.arm)
    if filters.reason:
        conditions.append(Message.reason == filters.reason)
    if filters.participant_ref:
        conditions.append(Participant.participant_ref == filters.participant_ref)
    if filters.due_from:
        conditions.append(col(Message.due_at) >= _start_of(filters.due_from, zone))
    if filters.due_to:
        conditions.append(col(Message.due_at) < _start_of(filters.due_to + timedelta(days=1), zone))
    return conditions


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight of a day as an aware instant (never in a clock-change gap in the UK)."""
    return datetime.combine(day, time(0), tzinfo=zone)


def _matched(
    session: Session, trial_id: str, filters: LogFilters, within: ColumnElement[bool]
) -> list[int]:
    if not filters.participant_ref:
        return []
    query = select(Participant.id).where(
        Participant.trial_id == trial_id,
        Participant.participant_ref == filters.participant_ref,
        within,
    )
    return sorted(i for i in session.exec(query).all() if i is not None)


def _row(message: Message, ref: str, arm: str | None, title: str | None) -> LogRow:
    assert message.id is not None
    return LogRow(
        message.id,
        ref,
        arm,
        title,
        message.channel,
        message.template,
        message.language,
        message.due_at,
        message.status,
        message.reason,
        message.sent_at,
        message.attempts,
    )


def reasons_in(session: Session, trial_id: str) -> list[str]:
    """The reason codes a trial's messages carry, for the filter's choices."""
    query = (
        select(Message.reason)
        .where(Message.trial_id == trial_id, col(Message.reason).is_not(None))
        .distinct()
    )
    return sorted(r for r in session.exec(query).all() if r)


def template_words(template: str, definition: TrialDefinition | None = None) -> str:
    """What a message is, for the page: an arm's own template by its name; a survey's question
    or reminder as "Survey question: confidence", with the outcome it measures when that is
    named otherwise ("Survey question: court-feeling (feeling supported)")."""
    if not template.startswith(PREFIX):
        return template
    name = template.removeprefix(PREFIX)
    kind = "Survey reminder" if name.endswith(REMINDER) else "Survey question"
    survey_id = name.removesuffix(REMINDER)
    said = f"{kind}: {survey_id}"
    if definition is None:
        return said
    survey = next((s for s in definition.surveys if s.id == survey_id), None)
    outcome = next(
        (o for o in definition.outcomes if survey is not None and o.id == survey.outcome), None
    )
    measured = (outcome.label or outcome.description) if outcome is not None else None
    return f"{said} ({measured})" if measured and measured != survey_id else said
