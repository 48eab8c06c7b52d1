"""Returned letters: the print supplier's returned-mail list, recorded all or nothing.

`nudge letters returned TRIAL FILE.csv` reads `participant_ref, returned_on, reason` (the
supplier's own words for why: "addressee gone away", "no such address"). For each row the
person's latest letter posted on or before `returned_on` becomes `returned`, with the
supplier's reason in its event. Then:

- it counts as not delivered: for the complier average causal effect (analysis/frame.py's
  `delivered`) and for the guardrail on returned letters (analysis/guardrails.py);
- the person's letters still waiting are cancelled (`letter_returned`), and any planned later
  are withheld at the print run's last check: the address is known to be wrong, and a letter
  to it tells a stranger that a named person is due at court.

Any bad row (an unknown reference, a date that is not one or is in the future, a reason
missing, a person with no letter posted by that date) rejects the whole file, each problem
at its line, and nothing changes. A letter already returned is left as it is: importing the
same list again changes nothing.

GOV.UK Notify reports a letter it posted and got back through its returned-letter callback
(messages/notify_webhooks.py): `record_returned_letter` does the same for that one letter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from experiments import trials
from experiments.csvfile import CsvRecord, read_records, read_required_header
from experiments.dates import parse_day
from messages.schedule import local_instant
from nudge import audit
from nudge.clock import Clock
from nudge.errors import ImportRejected, Problem
from nudge.models import MessageStatus, Reason
from nudge.models.tables import EVENTS, MESSAGES, PEOPLE

COLUMNS = ("participant_ref", "returned_on", "reason")
MAX_REASON = 200
PENDING_LETTER = (MessageStatus.SCHEDULED, MessageStatus.HELD)
# A letter the provider may have posted: taken (`sent`), or taken before a crash was settled.
POSTED = (MessageStatus.SENT, MessageStatus.SENDING, MessageStatus.UNKNOWN)


@dataclass
class ReturnedSummary:
    read: int = 0
    returned: int = 0
    already: int = 0
    cancelled: int = 0  # the people's letters still waiting
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    line: int
    participant_id: int
    returned_on: date
    reason: str


def record_returned(
    session: Session, clock: Clock, trial_id: str, path: Path, actor: str
) -> ReturnedSummary:
    """Record FILE's returned letters; the caller commits (or rolls back for a dry run)."""
    trial = trials.lock_trial(session, trial_id)
    definition = trials.current_definition(session, trial)
    zone, now = ZoneInfo(definition.timezone), clock.now()
    rows, read = _read(session, trial_id, path, zone, now)
    summary = ReturnedSummary(read=read)
    letters: list[tuple[_Row, int]] = []
    for row in rows:
        letter = _posted_letter(session, trial_id, row, zone)
        if letter is None:
            summary.problems.append(
                Problem(
                    str(path),
                    row.line,
                    None,
                    f"no letter was posted to this person on or before {row.returned_on}; "
                    "check the reference and the date against the print run's manifest",
                )
            )
        elif letter[1] == MessageStatus.RETURNED:
            summary.already += 1
        else:
            letters.append((row, letter[0]))
    if summary.problems:  # nothing written yet
        raise ImportRejected(
            f"{path}: {len(summary.problems)} row(s) rejected, so nothing was changed",
            summary.problems,
        )
    for row, letter_id in letters:
        _mark(session, now, [letter_id], MessageStatus.RETURNED, None, row.reason)
    summary.returned = len(letters)
    summary.cancelled = _cancel_waiting(
        session, now, trial_id, sorted({row.participant_id for row in rows})
    )
    audit.record(
        session,
        clock,
        actor=actor,
        action="letters.returned",
        trial_id=trial_id,
        subject=path.name,
        details={
            "read": summary.read,
            "returned": summary.returned,
            "already": summary.already,
            "cancelled": summary.cancelled,
        },
    )
    return summary


def returned_people(session: Session, trial_id: str) -> set[int]:
    """The people of the trial with a returned letter: their address is known to be wrong."""
    query = select(MESSAGES.c.participant_id).where(
        MESSAGES.c.trial_id == trial_id, MESSAGES.c.status == MessageStatus.RETURNED
    )
    return set(session.execute(query.distinct()).scalars())


def _read(
    session: Session, trial_id: str, path: Path, zone: ZoneInfo, now: datetime
) -> tuple[list[_Row], int]:
    encoding, columns = read_required_header(path, COLUMNS)
    records = list(read_records(path, encoding, columns))
    refs = {r.values["participant_ref"].strip() for r in records if isinstance(r, CsvRecord)}
    people = _people(session, trial_id, refs)
    today = now.astimezone(zone).date()
    rows, problems = [], []
    for record in records:
        if isinstance(record, Problem):
            problems.append(record)
            continue
        found = _row(record, people, today)
        if isinstance(found, str):
            problems.append(Problem(str(path), record.line, None, found))
        else:
            rows.append(found)
    if problems:
        raise ImportRejected(
            f"{path}: {len(problems)} row(s) rejected, so nothing was changed", problems
        )
    return rows, len(records)


def _row(record: CsvRecord, people: dict[str, int], today: date) -> _Row | str:
    ref = record.values["participant_ref"].strip()
    if not ref:
        return "participant_ref: missing; give the reference printed on the returned letter"
    if ref not in people:
        return f"participant_ref: '{ref}' is not a participant of this trial"
    try:
        day = parse_day(record.values["returned_on"])
    except ValueError as exc:
        return f"returned_on: {exc}"
    if day > today:
        return f"returned_on: {day} is in the future; give the day the letter came back"
    reason = " ".join(record.values["reason"].split())
    if not reason:
        return "reason: missing; give the supplier's reason (e.g. addressee gone away)"
    if len(reason) > MAX_REASON:
        return f"reason: longer than {MAX_REASON} characters; shorten it"
    return _Row(record.line, people[ref], day, reason)


def _people(session: Session, trial_id: str, refs: set[str]) -> dict[str, int]:
    wanted = sorted(ref for ref in refs if ref)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 1000):
        query = select(PEOPLE.c.participant_ref, PEOPLE.c.id).where(
            PEOPLE.c.trial_id == trial_id,
            PEOPLE.c.participant_ref.in_(wanted[start : start + 1000]),
        )
        found.update({ref: pid for ref, pid in session.execute(query)})
    return found


def _posted_letter(
    session: Session, trial_id: str, row: _Row, zone: ZoneInfo
) -> tuple[int, str] | None:
    """The person's latest letter posted (or already returned) by the end of `returned_on`."""
    end = local_instant(row.returned_on + timedelta(days=1), "00:00", zone)
    query = (
        select(MESSAGES.c.id, MESSAGES.c.status)
        .where(
            MESSAGES.c.trial_id == trial_id,
            MESSAGES.c.participant_id == row.participant_id,
            MESSAGES.c.channel == "letter",
            MESSAGES.c.status.in_((MessageStatus.SENT, MessageStatus.RETURNED)),
            func.coalesce(MESSAGES.c.sent_at, MESSAGES.c.due_at) < end,
        )
        .order_by(MESSAGES.c.due_at.desc(), MESSAGES.c.id.desc())
        .limit(1)
    )
    found = session.execute(query).first()
    return (found[0], found[1]) if found else None


def _mark(
    session: Session,
    now: datetime,
    ids: list[int],
    status: MessageStatus,
    reason: Reason | None,
    supplier_reason: str | None,
) -> None:
    if not ids:
        return
    session.execute(
        update(MESSAGES)
        .where(MESSAGES.c.id.in_(ids))
        .values(status=status, reason=reason, updated_at=now)
    )
    detail = {"reason": reason} if reason else {"returned_because": supplier_reason}
    session.execute(
        insert(EVENTS),
        [{"message_id": i, "status": status, "detail": detail, "occurred_at": now} for i in ids],
    )


def _cancel_waiting(session: Session, now: datetime, trial_id: str, people: list[int]) -> int:
    """The people's letters still waiting, cancelled (`letter_returned`); how many."""
    waiting = list(
        session.execute(
            select(MESSAGES.c.id).where(
                MESSAGES.c.trial_id == trial_id,
                MESSAGES.c.channel == "letter",
                MESSAGES.c.status.in_(PENDING_LETTER),
                MESSAGES.c.participant_id.in_(people),
            )
        ).scalars()
    )
    _mark(session, now, waiting, MessageStatus.CANCELLED, Reason.LETTER_RETURNED, None)
    return len(waiting)


def record_returned_letter(
    session: Session, clock: Clock, *, message_id: int | None, provider_id: str, why: str
) -> bool:
    """One letter the provider reports returned (GOV.UK Notify's returned-letter callback),
    found by our reference or else by the provider's id: `returned`, and the person's waiting
    letters cancelled, as from the supplier's list. Whether anything changed: a letter not
    ours, already returned, or never posted changes nothing. The caller commits."""
    query = select(
        MESSAGES.c.id, MESSAGES.c.trial_id, MESSAGES.c.participant_id, MESSAGES.c.status
    ).where(MESSAGES.c.channel == "letter")
    found = None
    if message_id is not None:
        found = session.execute(
            query.where(
                MESSAGES.c.id == message_id,
                func.coalesce(MESSAGES.c.provider_id, provider_id) == provider_id,
            ).with_for_update()
        ).first()
    if found is None:
        found = session.execute(
            query.where(MESSAGES.c.provider_id == provider_id).with_for_update()
        ).first()
    if found is None or found.status not in POSTED:
        return False
    now = clock.now()
    _mark(session, now, [found.id], MessageStatus.RETURNED, None, why)
    _cancel_waiting(session, now, found.trial_id, [found.participant_id])
    return True
