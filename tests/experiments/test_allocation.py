"""Allocation through real imports: reproducible, balanced within strata, clusters kept whole."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlmodel import Session, select

from experiments import rowcheck
from experiments.enrol import enrol_file
from nudge.clock import FixedClock
from nudge.db import make_engine, upgrade
from nudge.models import AllocatedUnit, Arm, StratumCounter
from tests.conftest import EXAMPLE
from tests.factories import PEOPLE_COLUMNS, launch, person, write_people

COURTS = ["BRS", "CDF", "LDS", "SWN"]


def export(tmp_path: Path, n: int = 300) -> Path:
    rows = [person(i, case_ref=f"C{i // 2:05d}", court=COURTS[(i // 2) % 4]) for i in range(n)]
    return write_people(tmp_path / "people.csv", rows)


def allocation(url: str, definition: Path, people: Path, clock: FixedClock) -> list[tuple]:  # type: ignore[type-arg]
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        trial_id = launch(session, clock, definition)
        enrol_file(session, clock, trial_id, people, "test")
        session.commit()
        arms = {a.id: a.key for a in session.exec(select(Arm))}
        units = session.exec(select(AllocatedUnit).order_by(AllocatedUnit.id)).all()
        result = [(u.unit, u.stratum, u.slot, u.block, u.position, arms[u.arm_id]) for u in units]
    engine.dispose()
    return result


def test_the_same_seed_and_order_give_the_same_allocation_in_any_database(
    db_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    people = export(tmp_path)
    first = allocation(db_url, EXAMPLE, people, clock)
    second = allocation(f"sqlite:///{tmp_path / 'other.db'}", EXAMPLE, people, clock)
    assert first == second and len(first) == 150


def test_strata_counters_written_once_at_the_end_let_the_next_import_go_on_from_them(
    session: Session, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import writes its allocated units every few batches and the strata's counters only
    at its end (issue 23): after each import every counter is the number of its stratum's
    units, and a second import takes each stratum's next slots, with no gap and no repeat."""
    monkeypatch.setattr(rowcheck, "BATCH", 10)  # 30 batches: the units are written 3 times
    trial_id = launch(session, clock, EXAMPLE)
    later = [
        person(i, participant_ref=f"L{i}", case_ref=f"D{i // 2:05d}", court=COURTS[(i // 2) % 4])
        for i in range(100)
    ]
    for people in (export(tmp_path), write_people(tmp_path / "later.csv", later)):
        enrol_file(session, clock, trial_id, people, "test")
        session.commit()
        slots = defaultdict(list)
        for unit in session.exec(select(AllocatedUnit)):
            slots[unit.stratum].append(unit.slot)
        counters = {c.stratum: c.used for c in session.exec(select(StratumCounter))}
        assert {stratum: sorted(taken) for stratum, taken in slots.items()} == {
            stratum: list(range(used)) for stratum, used in counters.items()
        }
    assert sum(counters.values()) == 150 + 50


def test_a_different_seed_gives_a_different_allocation(
    db_url: str, tmp_path: Path, clock: FixedClock, example_dir: Path
) -> None:
    people = export(tmp_path)
    reseeded = example_dir / "witness-reminders.yaml"
    reseeded.write_text(reseeded.read_text().replace("seed: 20270101", "seed: 20270102"))
    first = allocation(db_url, EXAMPLE, people, clock)
    second = allocation(f"sqlite:///{tmp_path / 'other.db'}", reseeded, people, clock)
    assert [u[-1] for u in first] != [u[-1] for u in second]


def test_balance_within_every_stratum_never_drifts_beyond_half_the_largest_block(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    trial = launch(session, clock, EXAMPLE)
    enrol_file(session, clock, trial, export(tmp_path, 600), "test")
    session.commit()
    arms = {a.id: a.key for a in session.exec(select(Arm))}
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for unit in session.exec(select(AllocatedUnit).order_by(AllocatedUnit.slot)):
        by_stratum[unit.stratum].append(arms[unit.arm_id])
    assert set(by_stratum) == {f"court={c}" for c in COURTS}
    for sequence in by_stratum.values():
        counts: Counter[str] = Counter()
        for taken, arm in enumerate(sequence, start=1):
            counts[arm] += 1
            target = taken / 3
            assert all(abs(counts[a] - target) <= 6 / 2 for a in arms.values())


def test_a_trial_randomised_by_officer_keeps_each_officers_caseload_together(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    definition = example_dir / "witness-reminders.yaml"
    definition.write_text(definition.read_text().replace("unit: case", "unit: officer"))
    trial = launch(session, clock, definition)
    rows = [person(i, officer=f"WCO-{i % 7}") for i in range(70)]
    path = write_people(tmp_path / "people.csv", rows, columns=[*PEOPLE_COLUMNS, "officer"])
    summary = enrol_file(session, clock, trial, path, "test")
    assert summary.randomised == 70 and summary.joined_existing_unit == 63
    units = session.exec(select(AllocatedUnit)).all()
    assert sorted(u.unit for u in units) == [f"WCO-{i}" for i in range(7)]


def test_a_mapping_renames_local_columns_to_nudges(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    definition = example_dir / "witness-reminders.yaml"
    definition.write_text(
        definition.read_text() + 'mapping: {"Witness ID": participant_ref, '
        '"Trial date": hearing_start}\n'
    )
    trial = launch(session, clock, definition)
    columns = [
        {"participant_ref": "Witness ID", "hearing_start": "Trial date"}.get(c, c)
        for c in PEOPLE_COLUMNS
    ]
    row = person(1)
    row["Witness ID"], row["Trial date"] = row.pop("participant_ref"), row.pop("hearing_start")
    summary = enrol_file(
        session, clock, trial, write_people(tmp_path / "local.csv", [row], columns=columns), "test"
    )
    assert summary.randomised == 1
