"""Imports killed with SIGKILL at random points: the database holds all of a file or none of it.

Each round forks a real `nudge enrol` / `nudge outcomes import` / `nudge assignments export`
process (see tests/forkserver.py), kills it after a seeded random delay within the time a full
run takes, and compares the database with the state before the file and the state a clean
import leaves (computed in-process and rolled back). Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from analysis.outcomes import import_outcomes
from experiments.enrol import enrol_file
from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.models import Arm, Assignment, Outcome, Participant
from tests.conftest import EXAMPLE, PINNED
from tests.factories import launch, person, row_counts, write_people
from tests.forkserver import ForkServer

TRIAL = "witness-reminders-2027"
PEOPLE = 3000
ROUNDS = 4
SEED = int(os.environ.get("NUDGE_CRASH_SEED", "20270104"))
KILLED = -signal.SIGKILL


@pytest.fixture(scope="module")
def forks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("forks"))
    yield server
    server.close()


def env(db_url: str) -> dict[str, str]:
    return {"NUDGE_DATABASE_URL": db_url, "NUDGE_NOW": PINNED.isoformat()}


def people_file(path: Path) -> Path:
    """PEOPLE witnesses in pairs per case, and three rows that --skip-invalid must reject."""
    rows = [person(i, case_ref=f"C{i // 2}") for i in range(PEOPLE)]
    for n, at in enumerate((10, PEOPLE // 2, PEOPLE)):
        rows.insert(at, person(PEOPLE + n, phone="not a phone"))
    return write_people(path, rows)


def state(engine: Engine) -> tuple[dict[str, int], dict[str, Any]]:
    """Rows per table (audit events aside: each finished run adds one) and who got what."""
    with Session(engine) as session:
        return _state(session)


def _state(session: Session) -> tuple[dict[str, int], dict[str, Any]]:
    counts = {k: v for k, v in row_counts(session).items() if k != "audit_event"}
    arms = session.execute(
        select(Participant.participant_ref, Arm.key)
        .join(Assignment, Assignment.participant_id == Participant.id)  # type: ignore[arg-type]
        .join(Arm, Arm.id == Assignment.arm_id)  # type: ignore[arg-type]
    )
    outcomes = session.execute(
        select(Participant.participant_ref, Outcome.outcome_key, Outcome.value)
        .join(Outcome, Outcome.participant_id == Participant.id)  # type: ignore[arg-type]
        .where(Outcome.replaced_at.is_(None))  # type: ignore[union-attr]
    )
    return counts, {"arms": dict(arms.all()), "outcomes": sorted(outcomes.all())}


def kill_rounds(
    forks: ForkServer, argv: list[str], db_url: str, check: Any, rounds: int = ROUNDS
) -> list[int]:
    """Time one dry run, then kill ROUNDS real runs at random points within that time."""
    status, child = forks.run([*argv, "--dry-run"], env(db_url))
    assert status == 0, child.errors()
    duration = time.monotonic() - child.started
    rng = random.Random(f"{SEED}:{' '.join(argv[:2])}")
    statuses = []
    for _ in range(rounds):
        child = forks.start(argv, env(db_url))
        time.sleep(rng.uniform(0.0, duration))
        statuses.append(forks.kill(child))
        assert "Traceback" not in child.errors(), child.errors()
        check()
    return statuses


def test_an_enrolment_killed_at_random_points_leaves_all_or_nothing_and_reruns_cleanly(
    db_url: str, engine: Engine, session: Session, clock: FixedClock, tmp_path: Path, forks: Any
) -> None:
    launch(session, clock, EXAMPLE)
    file = people_file(tmp_path / "people.csv")
    before = state(engine)
    enrol_and_plan(session, clock, TRIAL, file, "test", skip_invalid=True)
    session.flush()
    full = _state(session)
    session.rollback()
    assert len(full[1]["arms"]) == PEOPLE and state(engine) == before
    rejects = tmp_path / "people.rejects.csv"
    seen = []

    def check() -> None:
        now = state(engine)
        assert now in (before, full), "an import killed part-way left part of the file behind"
        seen.append(now)
        if rejects.exists():  # written atomically just before the commit: whole, or absent
            with rejects.open(newline="") as handle:
                lines = [row[0] for row in csv.reader(handle)]
            assert lines == ["line", "12", str(PEOPLE // 2 + 2), str(PEOPLE + 2)]

    argv = ["enrol", TRIAL, str(file), "--skip-invalid"]
    statuses = kill_rounds(forks, argv, db_url, check)
    assert any(s == KILLED and now == before for s, now in zip(statuses, seen, strict=True)), (
        "no round was killed mid-import: the test proved nothing"
    )

    status, child = forks.run(argv, env(db_url))
    assert status == 0, child.errors()
    assert state(engine) == full and rejects.exists()
    check()  # the rejects file, now certainly written, is complete
    status, child = forks.run(argv, env(db_url))
    assert status == 0 and f"already enrolled    {PEOPLE:>9}" in child.output()
    assert state(engine) == full


@pytest.fixture
def enrolled(session: Session, clock: FixedClock, tmp_path: Path) -> str:
    launch(session, clock, EXAMPLE)
    path = write_people(
        tmp_path / "people.csv", [person(i, case_ref=f"C{i // 2}") for i in range(PEOPLE)]
    )
    enrol_file(session, clock, TRIAL, path, "test")
    session.commit()
    return TRIAL


def test_an_outcomes_import_killed_at_random_points_records_all_or_nothing(
    db_url: str,
    engine: Engine,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    enrolled: str,
    forks: Any,
) -> None:
    file = tmp_path / "outcomes.csv"
    rng = random.Random(SEED)
    with file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_ref", "case_ref", "attended", "withdrew"])
        for i in range(PEOPLE):
            writer.writerow([f"P{i:05d}", f"C{i // 2}", rng.choice(["yes", "no"]), ""])
    before = state(engine)
    import_outcomes(session, clock, TRIAL, file, "test")
    session.flush()
    full = _state(session)
    session.rollback()
    assert len(full[1]["outcomes"]) == PEOPLE
    seen = []

    def check() -> None:
        seen.append(state(engine))
        assert seen[-1] in (before, full), "a killed outcomes import left part of the file"

    argv = ["outcomes", "import", TRIAL, str(file)]
    statuses = kill_rounds(forks, argv, db_url, check)
    assert any(s == KILLED and now == before for s, now in zip(statuses, seen, strict=True))
    # A round killed just after its commit already recorded everything; else the re-run does.
    first = f"unchanged {PEOPLE}" if state(engine) == full else f"recorded {PEOPLE}"
    for expected in (first, f"unchanged {PEOPLE}"):  # and a further re-run changes nothing
        status, child = forks.run(argv, env(db_url))
        output = " ".join(child.output().split())
        assert status == 0 and expected in output, output
        assert state(engine) == full


def test_an_assignments_export_killed_at_random_points_never_leaves_half_a_file(
    db_url: str, tmp_path: Path, enrolled: str, forks: Any
) -> None:
    out = tmp_path / "assignments.csv"
    out.write_text("the previous export\n")
    argv = ["assignments", "export", TRIAL, "--out", str(out)]
    status, child = forks.run(argv, env(db_url))
    assert status == 0, child.errors()
    complete = out.read_text()
    assert complete.count("\n") == PEOPLE + 1
    out.write_text("the previous export\n")
    rng = random.Random(SEED)
    duration = time.monotonic() - child.started
    killed = 0
    for _ in range(ROUNDS):
        child = forks.start(argv, env(db_url))
        time.sleep(rng.uniform(0.0, duration))
        killed += forks.kill(child) == KILLED
        assert out.read_text() in ("the previous export\n", complete)
    assert killed
