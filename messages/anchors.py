"""The dates a case's messages are timed from: its hearing's start and its milestones' dates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from experiments.definition import HEARING
from experiments.milestones import current_milestones
from nudge.models.tables import HEARINGS

Anchors = dict[str, datetime]  # anchor name ("hearing", a milestone's) -> its date, aware UTC
CHUNK = 2000


def anchors_for(
    session: Session, case_ids: Sequence[int], *, milestones: bool = True
) -> dict[int, Anchors]:
    """Each case's anchors, by case id: one query a chunk of cases, whatever the messages.

    This is the one place planning reads the dates it times messages from: the hearing's
    start, and each milestone's current date (`experiments.milestones.current_milestones`).
    A trial that declares no milestones (`milestones=False`) has none to read: the hearing's
    query alone, which keeps dispatch's and enrolment's paths as they were before milestones.
    """
    anchors: dict[int, Anchors] = {}
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), CHUNK):
        query = select(HEARINGS.c.case_id, HEARINGS.c.starts_at).where(
            HEARINGS.c.case_id.in_(ids[start : start + CHUNK])
        )
        for case_id, starts_at in session.execute(query):
            anchors[case_id] = {HEARING: starts_at}
        if not milestones:
            continue
        recorded = current_milestones(session, ids[start : start + CHUNK])
        for case_id, dates in recorded.items():
            if dates:
                anchors.setdefault(case_id, {}).update(dates)
    return anchors
