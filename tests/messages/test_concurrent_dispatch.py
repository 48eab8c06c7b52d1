"""Two workers sending from one PostgreSQL database at once never send the same text twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, func, select

from experiments.enrol import enrol_file
from messages.outbox import after_enrolment
from nudge.clock import FixedClock
from nudge.db import make_engine, upgrade
from nudge.models import Message
from tests.conftest import (
    EXAMPLE,
    PINNED,
    ROOT,
    create_postgres_database,
    drop_postgres_database,
    postgres_server_or_fail,
)
from tests.factories import launch, person, write_people

FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)


def test_two_workers_on_postgresql_never_send_the_same_message(tmp_path: Path) -> None:
    server = postgres_server_or_fail()
    url = create_postgres_database(server)
    try:
        engine = make_engine(url)
        upgrade(engine)
        clock = FixedClock(PINNED)
        fast = tmp_path / "fast.yaml"  # the example, sending at up to 1000 a second
        fast.write_text(EXAMPLE.read_text().replace("max_per_second: 10", "max_per_second: 1000"))
        shutil.copytree(EXAMPLE.parent / "letters", tmp_path / "letters")
        with Session(engine) as session:
            launch(session, clock, fast)
            people = write_people(
                tmp_path / "p.csv", [person(i, case_ref=f"C{i}") for i in range(600)]
            )
            summary = enrol_file(session, clock, "witness-reminders-2027", people, "test")
            after_enrolment(session, clock, "witness-reminders-2027", summary)
            session.commit()
            due = session.exec(
                select(func.count())
                .select_from(Message)
                .where(Message.channel == "sms", Message.due_at <= FIRST_DUE)
            ).one()
        engine.dispose()
        outbox = tmp_path / "outbox"
        env = {
            **os.environ,
            "NUDGE_DATABASE_URL": url,
            "NUDGE_NOW": FIRST_DUE.isoformat(),
            "NUDGE_OUTBOX_DIR": str(outbox),
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "nudge", "dispatch"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [w.communicate(timeout=600) for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        lines = (outbox / "sms-2027-02-25.jsonl").read_text().splitlines()
        sends = Counter(json.loads(line)["message_id"] for line in lines)
        assert len(sends) == due > 100 and max(sends.values()) == 1
        both = [out.decode() for out, _ in outputs]
        assert all(text.startswith("sent ") for text in both)
        # Which worker sends how many is a race: since dispatch sends in groups, one worker can
        # finish all 400 before the other has started, so a share for each is not asserted.
    finally:
        drop_postgres_database(server, url)
