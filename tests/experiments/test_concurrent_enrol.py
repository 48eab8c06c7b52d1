"""Two imports into one trial at the same time, in two processes on PostgreSQL: no slot twice."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from sqlmodel import Session, select

from nudge.db import make_engine, upgrade
from nudge.models import AllocatedUnit, Assignment, StratumCounter
from tests.conftest import (
    EXAMPLE,
    PINNED,
    ROOT,
    create_postgres_database,
    drop_postgres_database,
    postgres_server_or_fail,
)
from tests.factories import person, write_people


def test_concurrent_imports_on_postgresql_never_double_allocate_a_slot(tmp_path: Path) -> None:
    server = postgres_server_or_fail()
    url = create_postgres_database(server)
    try:
        env = {**os.environ, "NUDGE_DATABASE_URL": url, "NUDGE_NOW": PINNED.isoformat()}
        nudge = [sys.executable, "-m", "nudge"]
        for args in (
            ["trial", "create", str(EXAMPLE)],
            ["trial", "launch", "witness-reminders-2027"],
        ):
            subprocess.run([*nudge, *args], env=env, check=True, cwd=ROOT, capture_output=True)
        files = []
        for part in range(2):
            rows = [
                person(
                    i,
                    participant_ref=f"P{part}-{i}",
                    case_ref=f"C{part}-{i}",
                    court=["BRS", "CDF"][i % 2],
                )
                for i in range(400)
            ]
            files.append(write_people(tmp_path / f"part{part}.csv", rows))
        workers = [
            subprocess.Popen(
                [*nudge, "enrol", "witness-reminders-2027", str(f)],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for f in files
        ]
        outcomes = [worker.communicate(timeout=600) for worker in workers]
        assert [w.returncode for w in workers] == [0, 0], outcomes

        engine = make_engine(url)
        upgrade(engine)
        with Session(engine) as session:
            units = session.exec(select(AllocatedUnit)).all()
            slots = defaultdict(list)
            for unit in units:
                slots[unit.stratum].append(unit.slot)
            counters = {c.stratum: c.used for c in session.exec(select(StratumCounter))}
            assigned = len(session.exec(select(Assignment)).all())
        engine.dispose()
        assert len(units) == 800 and assigned == 800
        for stratum, taken in slots.items():
            assert sorted(taken) == list(range(len(taken))), f"gap or repeat in {stratum}"
            assert counters[stratum] == len(taken)
    finally:
        drop_postgres_database(server, url)
