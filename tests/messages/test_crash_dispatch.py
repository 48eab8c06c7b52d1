"""A worker killed with SIGKILL mid-batch: after recovery every text went once, none lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from experiments.enrol import enrol_file
from messages.outbox import after_enrolment
from nudge.clock import FixedClock
from nudge.db import make_engine
from nudge.models import Message
from tests.conftest import EXAMPLE, PINNED, ROOT
from tests.factories import launch, person, write_people

FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)


def run_dispatch(db_url: str, outbox: Path, now: datetime) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NUDGE_DATABASE_URL": db_url,
        "NUDGE_NOW": now.isoformat(),
        "NUDGE_OUTBOX_DIR": str(outbox),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "nudge", "dispatch"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def sent_lines(outbox: Path) -> list[int]:
    path = outbox / "sms-2027-02-25.jsonl"
    if not path.exists():
        return []
    return [
        json.loads(line)["message_id"]
        for line in path.read_text().splitlines()
        if line.endswith("}")
    ]


@pytest.mark.parametrize("kill_after", [5, 60, 150])
def test_a_worker_killed_mid_batch_sends_nothing_twice_and_loses_nothing(
    db_url: str, tmp_path: Path, kill_after: int
) -> None:
    clock = FixedClock(PINNED)
    definition = tmp_path / "trial.yaml"
    definition.write_text(EXAMPLE.read_text().replace("max_per_second: 10", "max_per_second: 1000"))
    shutil.copytree(EXAMPLE.parent / "letters", tmp_path / "letters")
    engine = make_engine(db_url)
    with Session(engine) as session:
        launch(session, clock, definition)
        people = write_people(tmp_path / "p.csv", [person(i, case_ref=f"C{i}") for i in range(450)])
        summary = enrol_file(session, clock, "witness-reminders-2027", people, "test")
        after_enrolment(session, clock, "witness-reminders-2027", summary)
        session.commit()
        due = set(
            session.exec(
                select(Message.id).where(Message.channel == "sms", col(Message.due_at) <= FIRST_DUE)
            ).all()
        )
    outbox = tmp_path / "outbox"
    worker = run_dispatch(db_url, outbox, FIRST_DUE)
    deadline = time.monotonic() + 60
    while len(sent_lines(outbox)) < kill_after and worker.poll() is None:
        assert time.monotonic() < deadline, "the worker never got going"
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    assert len(sent_lines(outbox)) < len(due), "killed too late to test anything"

    after = run_dispatch(db_url, outbox, FIRST_DUE + timedelta(minutes=10))
    out, err = after.communicate(timeout=120)
    assert after.returncode == 0, err.decode()

    sends = Counter(sent_lines(outbox))
    assert set(sends) == due and max(sends.values()) == 1
    with Session(engine) as session:
        states = Counter(session.exec(select(Message.status).where(col(Message.id).in_(due))).all())
    engine.dispose()
    assert states == {"sent": len(due)}
