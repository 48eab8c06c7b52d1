"""A reference with invisible differences (zero-width space, BOM, no-break space, decomposed
accents) is the same reference on every import: enrolment, hearings, outcomes, the flat file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from analysis.frame import frame_from_csv
from analysis.outcomes import import_outcomes
from experiments.enrol import enrol_file
from experiments.hearings import update_hearings
from experiments.keys import normalise_key
from nudge.clock import FixedClock
from nudge.errors import ImportRejected
from nudge.models import Case, Hearing, Outcome, Participant
from tests.analysis.test_frame import FLAT_HEADER, flat_definition, write_flat
from tests.analysis.test_outcomes import write_outcomes
from tests.conftest import EXAMPLE
from tests.factories import launch, person, write_people

# The same reference as an export, a spreadsheet and a copy-paste from a web page write it.
DISGUISES = {
    "zero-width space": "P\u200b00001",
    "byte-order mark": "\ufeffP00001",
    "word joiner": "P000\u206001",
}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("P\u200b00001", "P00001"),
        ("\ufeffP00001", "P00001"),
        ("P\u00a000001", "P 00001"),
        ("P\u202f00001", "P 00001"),
        ("Cafe\u0301", "Caf\u00e9"),
        ("  C 1\t", "C 1"),
    ],
)
def test_a_key_is_composed_without_format_characters_and_with_plain_spaces(
    text: str, key: str
) -> None:
    assert normalise_key(text) == key


@pytest.mark.parametrize("disguise", list(DISGUISES))
def test_a_known_person_whose_reference_hides_an_invisible_character_is_not_enrolled_twice(
    session: Session, clock: FixedClock, tmp_path: Path, disguise: str
) -> None:
    trial = launch(session, clock, EXAMPLE)
    enrol_file(session, clock, trial, write_people(tmp_path / "a.csv", [person(1)]), "test")
    session.commit()
    again = person(1, participant_ref=DISGUISES[disguise], case_ref="C00001\u200b")
    summary = enrol_file(session, clock, trial, write_people(tmp_path / "b.csv", [again]), "t")
    session.commit()
    assert (summary.enrolled, summary.already_enrolled) == (0, 1)
    assert [p.participant_ref for p in session.exec(select(Participant))] == ["P00001"]
    assert [c.case_ref for c in session.exec(select(Case))] == ["C00001"]


def test_hearings_and_outcomes_find_a_case_and_person_through_invisible_characters(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    trial = launch(session, clock, EXAMPLE)
    enrol_file(session, clock, trial, write_people(tmp_path / "a.csv", [person(1)]), "test")
    session.commit()
    hearings = tmp_path / "hearings.csv"
    hearings.write_text(
        "case_ref,hearing_start,status\n\ufeffC\u200b00001,2027-03-05T10:00,listed\n",
        encoding="utf-8",
    )
    assert len(update_hearings(session, clock, trial, hearings, "test").moved) == 1
    outcomes = write_outcomes(
        tmp_path / "outcomes.csv",
        [["P\u200b00001", "C00001\ufeff", "yes"]],
        ["participant_ref", "case_ref", "attended"],
    )
    import_outcomes(session, clock, trial, outcomes, "test")
    session.commit()
    assert len(session.exec(select(Hearing)).all()) == 1
    assert [o.value for o in session.exec(select(Outcome))] == [True]


def test_a_flat_file_counts_a_person_once_whatever_invisible_characters_their_rows_carry(
    tmp_path: Path,
) -> None:
    rows = [
        ["P1", "C1", "control", "BRS", "40", "no", "victim", "yes", "no"],
        ["P\u200b1", "\ufeffC1", "control", "BRS", "40", "no", "victim", "yes", "no"],
    ]
    path = write_flat(tmp_path / "flat.csv", rows, FLAT_HEADER)
    with pytest.raises(ImportRejected) as caught:
        frame_from_csv(path, flat_definition(tmp_path))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: participant_ref: 'P1' is already on line 2"
    ]
