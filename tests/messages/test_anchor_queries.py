"""Planning reads milestones only for a trial that declares some: enrolment and the court
list's re-planning of a trial without them run the queries they ran before milestones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session

from messages.intake import enrol_and_plan, update_hearings_and_replan
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE
from tests.conftest import EXAMPLE_TRIAL as TRIAL
from tests.factories import launch, person, write_people
from tests.milestone_factories import milestone_trial, write_people_with_milestones


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block."""
    seen: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def milestone_reads(seen: list[str]) -> int:
    return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT") and "case_milestone" in s)


def enrol_then_move(session: Session, clock: FixedClock, people: Path, tmp_path: Path) -> None:
    enrol_and_plan(session, clock, TRIAL, people, "t")
    court_list = tmp_path / "list.csv"
    court_list.write_text(
        "case_ref,hearing_start,status\nC00001,2027-03-15T10:00,adjourned\n", encoding="utf-8"
    )
    update_hearings_and_replan(session, clock, TRIAL, court_list, "t")
    session.commit()


def test_a_trial_without_milestones_never_reads_them_when_planning(
    engine: Engine, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, EXAMPLE)
    session.commit()
    people = write_people(tmp_path / "p.csv", [person(i) for i in range(1, 4)])
    with statements(engine) as seen:
        enrol_then_move(session, clock, people, tmp_path)
    assert seen and milestone_reads(seen) == 0


def test_a_trial_with_milestones_reads_them_to_plan(
    engine: Engine, session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    launch(session, clock, milestone_trial(example_dir))
    session.commit()
    rows = [person(i, charge_date="2027-01-05") for i in range(1, 4)]
    people = write_people_with_milestones(tmp_path / "p.csv", rows)
    with statements(engine) as seen:
        enrol_then_move(session, clock, people, tmp_path)
    assert milestone_reads(seen) > 0
