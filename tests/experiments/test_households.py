"""Randomising households (`unit: household`): people sharing a number or an address are one
unit across cases and imports, reproducibly; the rule is docs/randomisation.md's (both engines).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from experiments import rowcheck
from experiments.loader import load_trial_file
from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.models import Arm, Assignment, Participant
from tests.conftest import Cli
from tests.factories import launch, person, write_people

TRIAL = "witness-reminders-2027"


def household_trial(example_dir: Path, use: str | None = None) -> Path:
    path = example_dir / "witness-reminders.yaml"
    written = "  unit: case                      # participant | case | any participant column"
    text = path.read_text(encoding="utf-8").replace(
        written + ", e.g. officer",
        "  unit: household" + (f"\n  household: [{use}]" if use else ""),
    )
    assert "unit: household" in text
    path.write_text(text, encoding="utf-8")
    return path


def placed(session: Session) -> dict[str, tuple[str, str]]:
    """participant_ref -> (unit, arm)."""
    session.expire_all()
    rows = session.exec(
        select(Participant.participant_ref, Assignment.unit, Arm.key)
        .join(Assignment, col(Assignment.participant_id) == Participant.id)
        .join(Arm, col(Arm.id) == Assignment.arm_id)
    ).all()
    return {ref: (unit, arm) for ref, unit, arm in rows}


def linked_people() -> list[dict[str, str]]:
    """P1 and P2 share a number; P2 and P3 an address (written differently); P4 is alone.
    Each is in a case of their own."""
    return [
        person(1, phone="07700 900101"),
        person(2, phone="+447700900101", address_line_1="2 Shared Road", postcode="BS2 0JA"),
        person(3, address_line_1="2 SHARED ROAD", postcode="bs20ja", phone="07700 900103"),
        person(4),
    ]


def test_people_sharing_a_number_or_an_address_are_one_household_across_cases(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    launch(session, clock, household_trial(example_dir))
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "p.csv", linked_people()), "t")
    session.commit()
    found = placed(session)
    assert {found[r][0] for r in ("P00001", "P00002", "P00003")} == {"household:P00001"}
    assert len({found[r][1] for r in ("P00001", "P00002", "P00003")}) == 1
    assert found["P00004"][0] == "household:P00004"


def test_households_are_told_the_same_when_a_second_process_reads_the_file(
    session: Session,
    clock: FixedClock,
    example_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reader process leaves a row's address behind when the writer needs only its JSON; a
    # household is told from the addresses themselves, so they must still reach the writer.
    launch(session, clock, household_trial(example_dir))
    monkeypatch.setattr(rowcheck, "PARALLEL_FROM_BYTES", 0)
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "p.csv", linked_people()), "t")
    session.commit()
    found = placed(session)
    assert {found[r][0] for r in ("P00002", "P00003")} == {"household:P00001"}


def test_a_later_import_joins_the_household_already_randomised(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    launch(session, clock, household_trial(example_dir))
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "a.csv", linked_people()), "t")
    session.commit()
    later = [person(9, phone="07700 900103"), person(10, address_line_1="4 Example Street")]
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "b.csv", later), "t")
    session.commit()
    found = placed(session)
    assert found["P00009"] == found["P00003"]  # by P3's number
    assert found["P00010"] == found["P00004"]  # by P4's address (4 Example Street, BS1 1AA)


def test_a_household_of_numbers_only_does_not_link_addresses(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    launch(session, clock, household_trial(example_dir, use="phone"))
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "p.csv", linked_people()), "t")
    session.commit()
    found = placed(session)
    assert found["P00001"][0] == found["P00002"][0] == "household:P00001"
    assert found["P00003"][0] == "household:P00003"


def test_households_are_named_after_their_first_member_in_the_file(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    people = [person(i, phone=f"07700 900{200 + i // 3:03d}") for i in range(1, 31)]
    launch(session, clock, household_trial(example_dir))
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "p.csv", people), "t")
    session.commit()
    first = placed(session)
    # The households are the threes sharing a number, named after their first member.
    assert {first[f"P{i:05d}"][0] for i in range(3, 6)} == {"household:P00003"}
    units = {unit for unit, _ in first.values()}
    assert len(units) == 11  # 1-2, then threes: 3-5 ... 27-29, then 30
    for unit in units:
        assert len({arm for u, arm in first.values() if u == unit}) == 1


def test_household_needs_its_unit() -> None:
    from experiments.definition import Population

    with pytest.raises(ValueError, match="household says what makes a household"):
        Population(unit="case", household=["phone"])
    assert Population(unit="household").household_keys == ("phone", "address")


def test_a_trial_randomising_households_is_a_valid_design(example_dir: Path, cli: Cli) -> None:
    path = household_trial(example_dir, use="phone, address")
    loaded = load_trial_file(path)
    assert not isinstance(loaded, list)
    assert loaded.definition.population.household_keys == ("phone", "address")
    result = cli("trial", "validate", str(path))
    assert result.exit_code == 0, result.output


def test_a_newcomer_bridging_two_households_joins_the_first(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    launch(session, clock, household_trial(example_dir))
    first = [person(1, phone="07700 900301"), person(2, address_line_1="9 Far Lane")]
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "a.csv", first), "t")
    session.commit()
    bridge = [person(3, phone="07700 900301", address_line_1="9 Far Lane")]
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "b.csv", bridge), "t")
    session.commit()
    found = placed(session)
    assert found["P00001"][0] == "household:P00001"
    assert found["P00002"][0] == "household:P00002"
    assert found["P00003"] == found["P00001"]
