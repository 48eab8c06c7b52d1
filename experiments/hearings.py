"""Hearing updates from court lists: moved, vacated, effective, concluded, each kept as history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from experiments import trials
from experiments.csvfile import read_records, read_required_header
from experiments.keys import normalise_key
from experiments.rows import RowError, parse_hearing_start
from experiments.sites import ImportSite, import_site, not_yours, of_site
from nudge import audit
from nudge.clock import Clock
from nudge.errors import ImportRejected, Problem, TrialStateError
from nudge.models import (
    HEARING_ENDED,
    HEARING_STATUSES,
    Case,
    Hearing,
    HearingChange,
    HearingStatus,
    TrialStatus,
)
from nudge.models.types import column_length, fitted

COLUMNS = ("case_ref", "hearing_start", "status")


@dataclass
class HearingsSummary:
    read: int = 0
    moved: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    status_changed: int = 0
    unchanged: int = 0


def update_hearings(
    session: Session,
    clock: Clock,
    trial_id: str,
    path: Path,
    actor: str,
    site: str | None = None,
) -> HearingsSummary:
    """Apply a court-list update; any bad row rejects the file and nothing changes.

    A multi-site trial's list is one site's (`site`, required then): a row naming another
    site's case is refused as if unknown."""
    trial = trials.lock_trial(session, trial_id)
    if trial.status != TrialStatus.LIVE:
        raise TrialStateError(
            f"trial '{trial_id}' is {trial.status}; hearings are updated only in a live trial"
        )
    zone = ZoneInfo(trials.current_definition(session, trial).timezone)
    own = import_site(session, trial_id, site)
    encoding, columns = read_required_header(path, COLUMNS)
    hearings = _hearings_by_case(session, trial_id, own)
    # Another site's case reads as unknown: a site's staff learn nothing of the others' cases.
    unknown = "is not a case enrolled in this trial" + not_yours(own, "cases")
    summary, problems, now = HearingsSummary(), [], clock.now()
    seen: dict[str, int] = {}
    for record in read_records(path, encoding, columns):
        summary.read += 1
        if isinstance(record, Problem):
            problems.append(record)
            continue
        try:
            ref = record.values["case_ref"] = normalise_key(record.values["case_ref"])
            if ref in seen:
                raise RowError("case_ref", f"'{ref}' is already on line {seen[ref]}")
            seen[ref] = record.line
            _apply(session, record.values, hearings, zone, summary, now, path.name, unknown)
        except RowError as exc:
            problems.append(Problem(str(path), record.line, None, str(exc)))
    if problems:
        raise ImportRejected(
            f"{path}: {len(problems)} row(s) rejected, so nothing was changed", problems
        )
    audit.record(
        session,
        clock,
        actor=actor,
        action="hearings.updated",
        trial_id=trial_id,
        subject=path.name,
        details={"read": summary.read, "moved": len(summary.moved), "ended": len(summary.ended)},
    )
    return summary


def _hearings_by_case(
    session: Session, trial_id: str, own: ImportSite | None
) -> dict[str, Hearing]:
    """The trial's hearings by case reference; only one site's cases when `own`."""
    query = (
        select(Case.case_ref, Hearing)
        .join(Hearing, col(Hearing.case_id) == Case.id)
        .where(Case.trial_id == trial_id)
    )
    return {ref: hearing for ref, hearing in session.exec(of_site(query, Case.site_id, own))}


def _apply(
    session: Session,
    values: dict[str, str],
    hearings: dict[str, Hearing],
    zone: ZoneInfo,
    summary: HearingsSummary,
    now: datetime,
    source: str,
    unknown: str,
) -> None:
    ref, given = values["case_ref"], values["status"].lower()
    hearing = hearings.get(ref)
    if hearing is None:
        raise RowError("case_ref", f"'{ref}' {unknown}")
    if given not in HEARING_STATUSES:
        raise RowError(
            "status", f"'{values['status']}' is not one of {', '.join(HEARING_STATUSES)}"
        )
    status = HearingStatus(given)
    starts_at = (
        parse_hearing_start(values["hearing_start"], zone)
        if values["hearing_start"]
        else hearing.starts_at
    )
    if starts_at == hearing.starts_at and status == hearing.status:
        summary.unchanged += 1
        return
    # A vacated or concluded hearing listed again needs its reminders again, even at its old
    # time: a new version makes it a move, so the outbox plans it afresh.
    relisted = hearing.status in HEARING_ENDED and status not in HEARING_ENDED
    if starts_at != hearing.starts_at or relisted:
        hearing.version += 1
        summary.moved.append(hearing.id or 0)
    if status in HEARING_ENDED and hearing.status not in HEARING_ENDED:
        summary.ended.append(hearing.id or 0)
    summary.status_changed += status != hearing.status
    session.add(
        HearingChange(
            hearing_id=hearing.id or 0,
            previous_status=hearing.status,
            previous_starts_at=hearing.starts_at,
            status=status,
            starts_at=starts_at,
            recorded_at=now,
            source=fitted(f"hearings:{source}", column_length(HearingChange, "source")),
        )
    )
    hearing.starts_at, hearing.status, hearing.updated_at = starts_at, status, now
    session.add(hearing)
