"""A large export is read and checked in a second process: same results, same rejections."""

from __future__ import annotations

import pickle
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from experiments import rowcheck
from experiments.enrol import enrol_file
from experiments.rowcheck import CheckedBatch
from experiments.rows import Derived, RowRules, parse_row
from nudge.clock import FixedClock
from nudge.errors import ImportRejected
from nudge.models import AllocatedUnit, Arm
from nudge.models.tables import PEOPLE
from tests.conftest import EXAMPLE
from tests.factories import launch, person, write_people


def allocation(session: Session) -> list[tuple[str, str, int, str]]:
    arms = {a.id: a.key for a in session.exec(select(Arm))}
    units = session.exec(select(AllocatedUnit).order_by(AllocatedUnit.id))
    return [(u.unit, u.stratum, u.slot, arms[u.arm_id]) for u in units]


def rows(n: int) -> list[dict[str, str]]:
    return [
        person(i, case_ref=f"C{i // 2:05d}", court=["BRS", "CDF"][(i // 2) % 2]) for i in range(n)
    ]


def test_the_reader_process_gives_the_same_allocation_as_one_process(
    session: Session, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_people(tmp_path / "people.csv", rows(5000))
    trial = launch(session, clock, EXAMPLE)
    here = enrol_file(session, clock, trial, path, "test")
    expected = allocation(session)
    session.rollback()

    monkeypatch.setattr(rowcheck, "PARALLEL_FROM_BYTES", 0)
    beside = enrol_file(session, clock, trial, path, "test")
    assert allocation(session) == expected and len(expected) == 2500
    assert (beside.read, beside.randomised) == (here.read, here.randomised) == (5000, 5000)


def test_rejections_found_in_the_reader_process_are_reported_the_same_way(
    session: Session, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = rows(4100)
    people[4050]["phone"] = "0117 496 0000"
    path = write_people(tmp_path / "people.csv", people)
    trial = launch(session, clock, EXAMPLE)
    monkeypatch.setattr(rowcheck, "PARALLEL_FROM_BYTES", 0)
    with pytest.raises(ImportRejected) as rejected:
        enrol_file(session, clock, trial, path, "test")
    assert [str(p) for p in rejected.value.problems] == [
        f"{path}:4052: phone: '0117 496 0000' is not a UK mobile number (mobiles start 07)"
    ]


def stored_people(session: Session) -> list[tuple[object, ...]]:
    """Every stored field but the surrogate keys, which PostgreSQL does not roll back."""
    table = PEOPLE
    surrogate = {"id", "case_id", "enrolled_at"}
    query = select(*(c for c in table.c if c.name not in surrogate)).order_by(table.c.id)
    return [tuple(row) for row in session.execute(query)]


def test_the_reader_process_stores_every_participant_exactly_as_one_process_does(
    session: Session, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = rows(3000)
    for i, row in enumerate(people):
        row["address_line_2"] = ["Exampletown", "", "Tref Enghreifftiol – Ŵ"][i % 3]
        row["hearing_start"] = ["2027-03-04T10:00", "2027-07-01 14:30+01:00"][(i // 2) % 2]
        row["age"] = str(17 + i % 60)
    path = write_people(tmp_path / "people.csv", people)
    trial = launch(session, clock, EXAMPLE)
    enrol_file(session, clock, trial, path, "test")
    expected = stored_people(session)
    session.rollback()

    monkeypatch.setattr(rowcheck, "PARALLEL_FROM_BYTES", 0)
    enrol_file(session, clock, trial, path, "test")
    assert stored_people(session) == expected and len(expected) == 3000
    assert {row[-3] for row in expected} == {True, False}  # eligible and ineligible people


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_batch_travels_without_addresses_and_attributes_only_with_every_whole_derivation() -> (
    None
):
    # What CheckedBatch sends a writer that stores only their JSON (Derivation.json_only): the
    # lists and dicts are left behind when every row's Derived has all the writer stores.
    extra = frozenset({"age", "age_band"})
    row = parse_row(2, person(1), RowRules(ZoneInfo("Europe/London"), extra, frozenset()))
    assert row.address and row.attributes
    eligible = Derived(None, "C00001", "court=BRS", '["1 Example Street"]', "{}")
    ineligible = Derived("age min 18.0", None, None, '["1 Example Street"]', "{}")
    without_stratum = Derived(None, "C00001", None, '["1 Example Street"]', "{}")
    rows = [row._replace(line=line) for line in (2, 3, 4, 5)]

    def sent(batch: CheckedBatch) -> CheckedBatch:
        received = pickle.loads(pickle.dumps(batch))
        assert (received.read, received.derived) == (batch.read, batch.derived)
        return received

    whole = CheckedBatch(rows[:2], [], 2, [eligible, ineligible], True)
    received = sent(whole).rows
    assert [(r.address, r.attributes) for r in received] == [(None, None)] * 2
    restored = [r._replace(address=row.address, attributes=row.attributes) for r in received]
    assert restored == rows[:2]
    for last in (without_stratum, None):  # the writer works these out from the row itself
        mixed = CheckedBatch(rows, [], 4, [eligible, ineligible, eligible, last], True)
        assert sent(mixed).rows == rows
    whole.json_only = False
    assert sent(whole).rows == rows[:2]
    assert sent(CheckedBatch([], [], 3, [], True)).rows == []


def test_the_reader_process_exits_when_the_importer_is_killed(tmp_path: Path) -> None:
    """SIGKILL on a large import must not leave its reader blocked on a full queue forever."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    path = write_people(tmp_path / "people.csv", rows(2000 * (rowcheck._QUEUE_DEPTH + 4)))
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from zoneinfo import ZoneInfo\n"
        "from experiments import rowcheck\n"
        "from experiments.csvfile import read_header\n"
        "from experiments.rows import RowRules\n"
        "path = Path(sys.argv[1])\n"
        "encoding, columns = read_header(path, {})\n"
        "rules = RowRules(ZoneInfo('Europe/London'), [], frozenset(), frozenset())\n"
        "batches = rowcheck._from_reader_process(path, encoding, columns, rules)\n"
        "next(batches)\n"
        "print('reading', flush=True)\n"
        "time.sleep(600)\n"
    )
    importer = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert importer.stdout is not None and importer.stdout.readline() == b"reading\n"
        readers = _children_of(importer.pid)
        assert readers, "the import should have a reader process beside it"
        os.kill(importer.pid, signal.SIGKILL)
        importer.wait(timeout=30)
        deadline = time.monotonic() + 60
        while any(Path(f"/proc/{pid}").exists() for pid in readers):
            assert time.monotonic() < deadline, "the reader outlived its importer"
            time.sleep(0.2)
    finally:
        if importer.poll() is None:
            importer.kill()
            importer.wait()
        importer.stdout.close() if importer.stdout else None
