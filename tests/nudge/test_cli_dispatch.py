"""`nudge dispatch` as an operator runs it: a summary, and one worker at a time on SQLite."""

from __future__ import annotations

import fcntl
from pathlib import Path

from tests.conftest import Cli
from tests.factories import person, write_people

TRIAL = "witness-reminders-2027"


def test_dispatch_sends_what_is_due_and_says_so(db_url: str, tmp_path: Path) -> None:
    cli = Cli(db_url, tmp_path).launch_example()
    cli("enrol", TRIAL, str(write_people(tmp_path / "p.csv", [person(i) for i in range(1, 13)])))
    assert cli("dispatch").output.strip().startswith("sent 0,")  # 10 January: nothing due
    cli.env["NUDGE_NOW"] = "2027-02-25T18:00:00Z"
    cli.env["NUDGE_OUTBOX_DIR"] = str(tmp_path / "out")
    result = cli("dispatch")
    assert result.exit_code == 0, result.output
    sent = int(result.output.split(",")[0].removeprefix("sent "))
    lines = (tmp_path / "out" / "sms-2027-02-25.jsonl").read_text().splitlines()
    assert sent == len(lines) > 0


def test_a_second_worker_on_sqlite_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "one.db"
    cli = Cli(f"sqlite:///{database}", tmp_path)
    with open(f"{database}.dispatch.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = cli("dispatch")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"another worker is already sending from {database}; with SQLite only one may run at "
        "a time (use PostgreSQL for several)"
    )
