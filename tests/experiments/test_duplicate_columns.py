"""A column named twice is refused on every import, at line 1, and nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from analysis.frame import frame_from_csv
from analysis.outcomes import import_outcomes
from experiments.enrol import enrol_file
from experiments.hearings import update_hearings
from nudge.clock import FixedClock
from nudge.errors import ImportRejected
from tests.analysis.test_frame import FLAT_HEADER, FLAT_ROWS, flat_definition, write_flat
from tests.conftest import EXAMPLE
from tests.factories import PEOPLE_COLUMNS, launch, person, row_counts, write_people

FILES = {
    "hearings": "case_ref,hearing_start,status,hearing_start\nC00001,2027-03-05T10:00,listed,\n",
    "outcomes": "participant_ref,case_ref,attended,attended\nP00001,C00001,yes,no\n",
}


@pytest.mark.parametrize("kind", ["enrolment", "hearings", "outcomes"])
def test_an_import_with_a_column_twice_is_refused_and_changes_nothing(
    session: Session, clock: FixedClock, tmp_path: Path, kind: str
) -> None:
    trial = launch(session, clock, EXAMPLE)
    enrol_file(session, clock, trial, write_people(tmp_path / "a.csv", [person(1)]), "test")
    session.commit()
    before = row_counts(session)
    path = tmp_path / f"{kind}.csv"
    if kind == "enrolment":
        write_people(path, [person(2)], columns=[*PEOPLE_COLUMNS, "court"])
        column = "court"
    else:
        path.write_text(FILES[kind], encoding="utf-8")
        column = "hearing_start" if kind == "hearings" else "attended"
    run = {"enrolment": enrol_file, "hearings": update_hearings, "outcomes": import_outcomes}
    with pytest.raises(ImportRejected) as caught:
        run[kind](session, clock, trial, path, "test")
    session.rollback()
    assert f"{path}:1: header: column '{column}' appears twice" in [
        str(p) for p in caught.value.problems
    ]
    assert row_counts(session) == before


def test_a_flat_file_with_a_column_twice_is_refused_at_line_1(tmp_path: Path) -> None:
    path = write_flat(tmp_path / "flat.csv", [[*FLAT_ROWS[0], "no"]], [*FLAT_HEADER, "attended"])
    with pytest.raises(ImportRejected) as caught:
        frame_from_csv(path, flat_definition(tmp_path))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:1: header: column 'attended' appears twice"
    ]
