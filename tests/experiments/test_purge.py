"""`nudge purge`: a closed trial's personal data goes; the analysis gives the same results."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, select

from experiments.enrol import enrol_file
from messages.intake import enrol_and_plan
from messages.replies import handle_reply
from nudge.clock import FixedClock
from nudge.models import AuditEvent, InboundMessage, Message, MessageEvent, Participant
from tests.conftest import Cli
from tests.factories import launch, person, write_people

TRIAL = "witness-reminders-2027"
FIRST_DUE = datetime(2027, 2, 25, 18, tzinfo=UTC)


def ran_trial(cli: Cli, session: Session, clock: FixedClock, example: Path, tmp: Path) -> None:
    """A trial with people, texts sent, a STOP reply, a provider error and outcomes."""
    launch(session, clock, example)
    rows = [person(i, role="victim" if i % 2 else "witness") for i in range(1, 41)]
    people = write_people(tmp / "people.csv", rows)
    enrol_and_plan(session, clock, TRIAL, people, "test")
    session.commit()
    cli.env["NUDGE_NOW"] = FIRST_DUE.isoformat()
    cli.env["NUDGE_OUTBOX_DIR"] = str(tmp / "outbox")
    assert cli("dispatch").exit_code == 0
    clock.set(FIRST_DUE)
    handle_reply(
        session,
        clock,
        provider_id="SM" + "1" * 32,
        from_number="+447700900003",
        to_number="+447700900000",
        body="STOP, and this is Testy McTestface3 at 3 Example Street",
    )
    sent = session.exec(select(Message).where(Message.status == "sent")).first()
    assert sent is not None
    sent.status, sent.last_error = "failed", "21211 The 'To' number +447700900001 is not valid"
    session.add(
        MessageEvent(
            message_id=sent.id or 0,
            status="failed",
            error_code="21211",
            detail={"error": "21211 The 'To' number +447700900001 is not valid"},
            occurred_at=FIRST_DUE,
        )
    )
    session.commit()
    outcomes = tmp / "outcomes.csv"
    with outcomes.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_ref", "case_ref", "attended", "withdrew"])
        for i, row in enumerate(rows):
            withdrew = ("yes" if i % 3 == 0 else "no") if row["role"] == "victim" else ""
            writer.writerow(
                [row["participant_ref"], row["case_ref"], "yes" if i % 4 else "no", withdrew]
            )
    assert cli("outcomes", "import", TRIAL, str(outcomes)).exit_code == 0


def test_purge_deletes_contact_details_and_keeps_the_analysis_identical(
    cli: Cli, session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    ran_trial(cli, session, clock, example_dir / "witness-reminders.yaml", tmp_path)
    before = cli("analyse", TRIAL, "--json").output
    assert cli("trial", "close", TRIAL, "--reason", "follow-up complete").exit_code == 0
    dry = cli("purge", TRIAL, "--dry-run")
    assert (
        dry.exit_code == 0 and "would delete the contact details of 40 participant(s)" in dry.output
    )
    session.expire_all()
    assert all(p.phone for p in session.exec(select(Participant)))

    done = cli("purge", TRIAL)
    assert done.exit_code == 0, done.output
    assert (
        "deleted the contact details of 40 participant(s), the text of 1 repl(ies)" in done.output
    )
    session.expire_all()
    for p in session.exec(select(Participant)):
        assert (p.first_name, p.last_name, p.phone, p.address, p.postcode) == (None,) * 3 + (
            [],
            None,
        )
        assert p.purged_at is not None and p.participant_ref and p.attributes["age_band"]
    reply = session.exec(select(InboundMessage)).one()
    assert (reply.from_number, reply.body, reply.kind) == ("", "[purged]", "stop")
    assert all(m.last_error is None for m in session.exec(select(Message)))
    failed = session.exec(select(MessageEvent).where(MessageEvent.error_code == "21211")).one()
    assert failed.detail == {} and failed.status == "failed"
    assert json.loads(cli("analyse", TRIAL, "--json").output) == json.loads(before)

    again = cli("purge", TRIAL)
    assert again.exit_code == 0 and "nothing left to purge" in again.output
    assert "40 participant(s) were already purged" in again.output
    actions = session.exec(select(AuditEvent).where(AuditEvent.action == "trial.purged")).all()
    assert len(actions) == 1 and actions[0].details["participants"] == 40
    closed = session.exec(select(AuditEvent).where(AuditEvent.action == "trial.closed")).one()
    assert closed.details == {"reason": "follow-up complete"}


def test_purge_refuses_a_trial_that_is_not_closed_and_changes_nothing(
    cli: Cli, session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    launch(session, clock, example_dir / "witness-reminders.yaml")
    people = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 4)])
    enrol_file(session, clock, TRIAL, people, "test")
    session.commit()
    result = cli("purge", TRIAL)
    assert result.exit_code == 1
    assert "is live: personal data is purged only after the trial closes" in result.output
    assert "nudge trial close" in result.output and "Traceback" not in result.output
    session.expire_all()
    assert all(p.phone and p.purged_at is None for p in session.exec(select(Participant)))


def test_purge_of_an_unknown_trial_says_so(cli: Cli) -> None:
    result = cli("purge", "no-such-trial")
    assert result.exit_code == 1 and "no-such-trial" in result.output


def test_closing_needs_a_reason(cli: Cli) -> None:
    result = cli("trial", "close", TRIAL)
    assert result.exit_code == 2 and "--reason" in result.output
