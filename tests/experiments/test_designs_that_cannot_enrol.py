"""Designs that would launch and then never enrol anyone: refused at validation, with location."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from experiments.enrol import enrol_file
from experiments.randomise import AllocationScheme
from nudge.clock import FixedClock
from nudge.errors import NudgeError, TrialStateError
from nudge.models import Assignment
from tests.experiments.test_definition_rules import BASE, assert_refused_at
from tests.factories import launch, person, row_counts, write_people

CASES = {
    "a negative seed": (
        BASE + "randomisation: {seed: -1}\n",
        "trial.yaml:17:23: randomisation.seed: -1 is not a whole number from 0 to 2^64 - 1",
    ),
    "a block size listed twice": (
        BASE + "randomisation:\n  block_sizes: [2, 4, 2]\n",
        "trial.yaml:18:23: randomisation.block_sizes[2]: 2 is listed twice",
    ),
    "a block of billions": (
        BASE + "randomisation:\n  block_sizes: [2000000000]\n",
        "trial.yaml:18:17: randomisation.block_sizes[0]: 2000000000 is larger than 1000",
    ),
    "a total weight of billions": (
        BASE.replace("    title: SMS\n", "    title: SMS\n    weight: 1000000000\n"),
        "trial.yaml:10:13: arms[1].weight: the arm weights add up to 1000000001",
    ),
    "a rule whose bound is not a number": (
        BASE + "population:\n  eligibility:\n    - {field: age, min: .nan}\n",
        "trial.yaml:19:25: population.eligibility[0].min: nan is not a finite number",
    ),
    "a rule whose bound is infinite": (
        BASE + "population:\n  eligibility:\n    - {field: age, max: -.inf}\n",
        "trial.yaml:19:25: population.eligibility[0].max: -inf is not a finite number",
    ),
    "a unit that is an address line": (
        BASE + "population:\n  unit: address_line_1\n",
        "trial.yaml:18:9: population.unit: 'address_line_1' is part of the address",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_design_that_could_never_enrol_is_refused_with_its_location(
    tmp_path: Path, case: str
) -> None:
    assert_refused_at(tmp_path, *CASES[case])


def test_a_scheme_never_builds_a_block_larger_than_the_bound() -> None:
    with pytest.raises(ValueError, match="larger than 1000"):
        AllocationScheme.from_weights("permuted_blocks", {"a": 1, "b": 1}, [2_000_000_000])


@pytest.mark.parametrize("unit", ["court", "postcode"])
def test_a_trial_randomised_by_a_participant_column_enrols_and_keeps_each_unit_together(
    session: Session, clock: FixedClock, tmp_path: Path, unit: str
) -> None:
    definition = tmp_path / "trial.yaml"
    definition.write_text(BASE + f"population:\n  unit: {unit}\n", encoding="utf-8")
    trial_id = launch(session, clock, definition)
    rows = [person(i, court=f"C{i % 3}", postcode=f"BS{i % 3} 1AA") for i in range(1, 13)]
    path = write_people(tmp_path / "people.csv", rows)
    summary = enrol_file(session, clock, trial_id, path, "test:staff")
    session.commit()
    assert summary.randomised == 12
    arms: dict[str, set[str]] = {}
    for a in session.exec(select(Assignment)):
        arms.setdefault(a.unit, set()).add(a.arm_id)
    assert len(arms) == 3 and all(len(v) == 1 for v in arms.values())


def test_a_trial_launched_with_a_block_of_billions_refuses_enrolment_without_building_it(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    definition = tmp_path / "trial.yaml"
    definition.write_text(BASE + "randomisation:\n  block_sizes: [2000000000]\n", "utf-8")
    try:
        trial_id = launch(session, clock, definition)
    except NudgeError:
        pytest.skip("launch itself refuses the design")
    path = write_people(tmp_path / "people.csv", [person(1)])
    before = row_counts(session)
    with pytest.raises(TrialStateError, match="block size 2000000000 is larger than 1000"):
        enrol_file(session, clock, trial_id, path, "test:staff")
    session.rollback()
    assert row_counts(session) == before
