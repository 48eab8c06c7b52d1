"""A hearing vacated and then listed again is planned again, whatever time it is listed for."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from messages.intake import update_hearings_and_replan
from nudge.clock import FixedClock
from tests.factories import launch, person, write_people
from tests.messages.test_outbox import TRIAL, enrol, messages_of, treated


@pytest.mark.parametrize("listed_at", ["", "2027-03-04T10:00", "2027-03-11T10:00"])
def test_a_hearing_vacated_then_relisted_replans_its_reminders_whatever_the_time(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path, listed_at: str
) -> None:
    launch(session, clock, example_dir / "witness-reminders.yaml")
    enrol(session, clock, write_people(tmp_path / "a.csv", [person(i) for i in range(1, 13)]))
    ref = treated(session)
    case = ref.replace("P", "C")
    planned = len(messages_of(session, ref))
    for name, status in (("vacated.csv", "vacated"), ("relisted.csv", "listed")):
        update = tmp_path / name
        start = "" if status == "vacated" else listed_at
        update.write_text(f"case_ref,hearing_start,status\n{case},{start},{status}\n")
        update_hearings_and_replan(session, clock, TRIAL, update, "test")
        session.commit()
    history = messages_of(session, ref)
    assert planned > 0
    latest = [m for m in history if m.hearing_version == history[-1].hearing_version]
    assert [m.status for m in latest if m.timing in ("before", "after")] == ["scheduled"] * planned
    assert {(m.status, m.reason) for m in history[:planned]} == {("cancelled", "hearing_vacated")}
    # The "you no longer need to come" text had not gone: listed again, it never will.
    assert [(m.status, m.reason) for m in history if m.timing == "hearing_vacated"] == [
        ("superseded", "hearing_moved")
    ]
    # Listed for another time than the one the person knew, they are told of the move.
    moved = [m.status for m in latest if m.timing == "hearing_moved"]
    assert moved == (["scheduled"] if listed_at == "2027-03-11T10:00" else [])
