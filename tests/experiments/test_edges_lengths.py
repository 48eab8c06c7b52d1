"""Values longer than their PostgreSQL columns: refused at their row, or made to fit.

The row check's limits are held to the models' columns (`nudge/models/types.py::column_length`,
tests/experiments/test_row_limits.py), so the two cannot drift apart; values built from file
paths are cut in the middle to fit (`fitted`). Run these on PostgreSQL: SQLite never enforces a
VARCHAR length.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from analysis.outcomes import import_outcomes
from experiments.enrol import enrol_file
from experiments.hearings import update_hearings
from nudge.clock import FixedClock
from nudge.errors import ImportRejected
from nudge.models import (
    AllocatedUnit,
    Hearing,
    HearingChange,
    Message,
    Outcome,
    Participant,
    TrialVersion,
)
from nudge.models.types import column_length, fitted
from tests.conftest import EXAMPLE
from tests.experiments.test_definition_rules import BASE, problems_for
from tests.factories import PEOPLE_COLUMNS, launch, person, row_counts, write_people

TRIAL = "witness-reminders-2027"
COURT = column_length(Hearing, "court")
ROLE = column_length(Participant, "role")


@pytest.mark.parametrize(
    ("column", "limit"), [("court", COURT), ("role", ROLE), ("participant_ref", 100)]
)
def test_a_value_one_longer_than_its_column_is_refused_at_its_row_and_one_that_fits_enrols(
    session: Session, clock: FixedClock, tmp_path: Path, column: str, limit: int
) -> None:
    trial = launch(session, clock, EXAMPLE)
    before = row_counts(session)
    too_long = write_people(
        tmp_path / "long.csv", [person(1), person(2, **{column: "w" * (limit + 1)})]
    )
    with pytest.raises(ImportRejected) as caught:
        enrol_file(session, clock, trial, too_long, "test")
    session.rollback()
    assert [str(p) for p in caught.value.problems] == [
        f"{too_long}:3: {column}: longer than {limit} characters"
    ]
    assert row_counts(session) == before
    fits = write_people(tmp_path / "fits.csv", [person(1), person(2, **{column: "w" * limit})])
    assert enrol_file(session, clock, trial, fits, "test").enrolled == 2
    session.commit()


def test_a_unit_value_longer_than_the_allocation_column_is_refused(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    limit = column_length(AllocatedUnit, "unit")
    definition = tmp_path / "trial.yaml"
    definition.write_text(BASE + "population:\n  unit: officer\n", encoding="utf-8")
    trial = launch(session, clock, definition)
    columns = [*PEOPLE_COLUMNS, "officer"]
    too_long = write_people(
        tmp_path / "long.csv", [person(1, officer="o" * (limit + 1))], columns=columns
    )
    with pytest.raises(ImportRejected) as caught:
        enrol_file(session, clock, trial, too_long, "test")
    session.rollback()
    assert f"{too_long}:2: officer: longer than {limit} characters" in str(caught.value)
    fits = write_people(tmp_path / "fits.csv", [person(1, officer="o" * limit)], columns=columns)
    assert enrol_file(session, clock, trial, fits, "test").randomised == 1
    session.commit()
    assert len(session.exec(select(AllocatedUnit)).one().unit) == limit


def test_strata_whose_key_is_longer_than_its_column_are_refused(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    definition = tmp_path / "trial.yaml"
    definition.write_text(BASE + "population:\n  strata: [area, team]\n", encoding="utf-8")
    trial = launch(session, clock, definition)
    columns = [*PEOPLE_COLUMNS, "area", "team"]
    rows = [person(1, area="a" * 200, team="t|" * 100), person(2, area="a" * 200, team="t")]
    path = write_people(tmp_path / "long.csv", rows, columns=columns)
    with pytest.raises(ImportRejected) as caught:
        enrol_file(session, clock, trial, path, "test")
    session.rollback()
    assert [p.line for p in caught.value.problems] == [2]
    assert "together are longer than 500 characters" in str(caught.value)
    enrol_file(session, clock, trial, path, "test", skip_invalid=True)
    session.commit()  # the row that fits is stored whole


def long_folder(tmp_path: Path) -> Path:
    """A folder whose path alone is longer than any source column (255)."""
    folder = tmp_path
    for i in range(6):
        folder = folder / f"{i}-{'court-lists-' * 4}"
    folder.mkdir(parents=True)
    assert len(str(folder)) > 300
    return folder


def test_sources_built_from_long_paths_fit_their_columns_and_keep_the_file_name(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    folder = long_folder(tmp_path)
    name = "x" * 230 + ".csv"  # close to the file system's 255-byte limit on a name
    yaml_path = folder / ("trial-" * 30 + ".yaml")
    yaml_path.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    for letter in (EXAMPLE.parent / "letters").iterdir():
        (folder / "letters").mkdir(exist_ok=True)
        (folder / "letters" / letter.name).write_bytes(letter.read_bytes())
    trial = launch(session, clock, yaml_path)
    enrol_file(session, clock, trial, write_people(folder / "a.csv", [person(1)]), "t")
    session.commit()
    moved = write_people(folder / name, [person(1, hearing_start="2027-03-09T10:00")])
    enrol_file(session, clock, trial, moved, "t")  # a move recorded with the enrolment's source
    session.commit()
    hearings = folder / ("h" * 230 + ".csv")
    hearings.write_text("case_ref,hearing_start,status\nC00001,2027-03-10T10:00,listed\n")
    update_hearings(session, clock, trial, hearings, "t")
    session.commit()
    outcomes = folder / ("o" * 230 + ".csv")
    outcomes.write_text("participant_ref,case_ref,attended,withdrew\nP00001,C00001,yes,no\n")
    import_outcomes(session, clock, trial, outcomes, "t")
    session.commit()
    sources = [c.source for c in session.exec(select(HearingChange))]
    sources += [o.source for o in session.exec(select(Outcome))]
    sources += [v.source_name for v in session.exec(select(TrialVersion))]
    assert all(len(s) <= 255 for s in sources), sources
    assert any(s.startswith("enrol:") and s.endswith(name[-100:]) for s in sources)
    assert any(s.startswith("hearings:") and s.endswith(".csv") for s in sources)
    assert any(s.startswith("outcomes:") and s.endswith(".csv") for s in sources)
    assert any(s.endswith(".yaml") and "…" in s for s in sources)


def test_fitting_cuts_in_the_middle_keeping_both_ends() -> None:
    text = "enrol:/very/long/" + "folder/" * 60 + "people.csv"
    short = fitted(text, 80)
    assert len(short) == 80 and short.startswith("enrol:/very/") and short.endswith("people.csv")
    assert fitted("short", 80) == "short"


def test_a_template_name_longer_than_the_message_column_is_refused_at_validation(
    tmp_path: Path,
) -> None:
    name = "r" * (column_length(Message, "template") + 1)
    text = BASE.replace("template: reminder", f"template: {name}").replace(
        "  reminder:\n", f"  {name}:\n"
    )
    problems = problems_for(tmp_path, text)
    assert any("a template name is at most 100 characters" in p for p in problems), problems
