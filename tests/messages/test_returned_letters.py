"""The print supplier's returned-mail list: letters marked returned, not delivered, later ones
withheld; a bad row rejects the file and changes nothing (both engines)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from analysis.frame import frame_from_db
from analysis.guardrails import check_guardrails
from experiments import trials
from messages.letter_batch import run_batch
from messages.returned_letters import record_returned
from nudge.clock import FixedClock
from nudge.models import AuditEvent, Case, Message, MessageEvent, Participant
from tests.conftest import Cli
from tests.messages.test_letter_batch import TRIAL, batch, letters, messages_by_id

__all__ = ["letters"]  # the fixture, used by name


def posted_people(session: Session, ids: list[int]) -> list[Participant]:
    owners = sorted({m.participant_id for m in messages_by_id(session, ids).values()})
    return list(session.exec(select(Participant).where(col(Participant.id).in_(owners))).all())


def returned_list(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["participant_ref,returned_on,reason", *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_returned_letter_is_marked_not_delivered_and_recorded_once(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    batch(session, clock, tmp_path / "print")
    back = posted_people(session, letters)[:3]
    clock.set(clock.now() + timedelta(days=5))
    path = returned_list(
        tmp_path / "returns.csv",
        [(p.participant_ref, "2027-02-16", "addressee gone away") for p in back],
    )
    summary = record_returned(session, clock, TRIAL, path, "test:staff")
    session.commit()
    assert (summary.read, summary.returned, summary.already) == (3, 3, 0)
    ids = {p.id for p in back}
    returned = [m for m in messages_by_id(session, letters).values() if m.participant_id in ids]
    assert {m.status for m in returned} == {"returned"}
    events = session.exec(
        select(MessageEvent).where(
            col(MessageEvent.message_id).in_([m.id for m in returned]),
            MessageEvent.status == "returned",
        )
    ).all()
    assert {e.detail["returned_because"] for e in events} == {"addressee gone away"}
    frame = frame_from_db(session, TRIAL).set_index("participant_ref")
    refs = [p.participant_ref for p in back]
    assert set(frame.loc[refs, "delivered"]) == {0.0}  # not delivered, for the CACE
    assert set(frame.loc[refs, "cost"]) == {0.85}  # but paid for
    again = record_returned(session, clock, TRIAL, path, "test:staff")
    assert (again.returned, again.already) == (0, 3)
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "letters.returned")).all()
    assert audit[0].details == {"read": 3, "returned": 3, "already": 0, "cancelled": 0}


def test_a_later_letter_to_a_returned_address_is_withheld_at_the_print_run(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path, db_url: str
) -> None:
    batch(session, clock, tmp_path / "print")
    who = posted_people(session, letters)[0]
    clock.set(clock.now() + timedelta(days=3))
    path = returned_list(
        tmp_path / "r.csv", [(who.participant_ref, "2027-02-15", "no such address")]
    )
    record_returned(session, clock, TRIAL, path, "test:staff")
    session.commit()
    moved = tmp_path / "hearings.csv"
    case = session.exec(select(Participant).where(Participant.id == who.id)).one().case_id
    ref = session.exec(select(Case.case_ref).where(Case.id == case)).one()
    moved.write_text(f"case_ref,hearing_start,status\n{ref},2027-05-06T10:00,adjourned\n")
    cli = Cli(db_url, tmp_path)
    cli.env["NUDGE_NOW"] = clock.now().isoformat()
    assert cli("hearings", "update", TRIAL, str(moved)).exit_code == 0
    session.expire_all()
    new = session.exec(
        select(Message).where(
            Message.participant_id == who.id,
            Message.channel == "letter",
            Message.status == "scheduled",
        )
    ).one()
    zone = trials.current_definition(session, trials.get_trial(session, TRIAL)).timezone
    day = new.due_at.astimezone(ZoneInfo(zone)).date()
    clock.set(new.due_at + timedelta(hours=9))
    summary = run_batch(session, clock, TRIAL, day, tmp_path / "print2")
    assert summary.withheld == {"letter_returned": 1}
    session.expire_all()
    assert (session.get(Message, new.id).status, session.get(Message, new.id).reason) == (  # type: ignore[union-attr]
        "cancelled",
        "letter_returned",
    )


def test_a_returned_list_with_bad_rows_changes_nothing(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path, db_url: str
) -> None:
    batch(session, clock, tmp_path / "print")
    clock.set(clock.now() + timedelta(days=5))
    cli = Cli(db_url, tmp_path)
    cli.env["NUDGE_NOW"] = clock.now().isoformat()
    people = posted_people(session, letters)
    unposted = session.exec(
        select(Participant).where(col(Participant.id).not_in([p.id for p in people]))
    ).first()
    assert unposted is not None
    path = returned_list(
        tmp_path / "returns.csv",
        [
            (people[0].participant_ref, "2027-02-16", "gone away"),  # fine on its own
            ("P99999", "2027-02-16", "gone away"),
            (people[1].participant_ref, "16/02/2027", "gone away"),
            (people[2].participant_ref, "2027-03-30", "gone away"),
            (people[3].participant_ref, "2027-02-16", ""),
        ],
    )
    result = cli.unchanged("letters", "returned", TRIAL, str(path))
    assert result.exit_code == 1
    out = result.output
    assert "4 row(s) rejected, so nothing was changed" in out
    assert "returns.csv:3: participant_ref: 'P99999' is not a participant" in out
    assert "returns.csv:4: returned_on: '16/02/2027' is not a date" in out
    assert "returns.csv:5: returned_on: 2027-03-30 is in the future" in out
    assert "returns.csv:6: reason: missing" in out
    assert "Traceback" not in out
    # A person to whom no letter went by that day is a mistake too.
    path = returned_list(tmp_path / "r2.csv", [(unposted.participant_ref, "2027-02-12", "x")])
    never = cli.unchanged("letters", "returned", TRIAL, str(path))
    assert never.exit_code == 1 and "no letter was posted to this person" in never.output


def test_returned_letters_feed_their_guardrail(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path, example_dir: Path
) -> None:
    batch(session, clock, tmp_path / "print")
    people = posted_people(session, letters)
    clock.set(clock.now() + timedelta(days=4))
    rows = [(p.participant_ref, "2027-02-16", "gone away") for p in people[: len(people) // 2]]
    record_returned(session, clock, TRIAL, returned_list(tmp_path / "r.csv", rows), "t")
    session.commit()
    definition = trials.current_definition(session, trials.get_trial(session, TRIAL))
    guarded = definition.model_copy(
        update={
            "guardrails": definition.model_validate(
                {
                    **definition.model_dump(),
                    "guardrails": {
                        "contacts": ["dmc@example.org"],
                        "checks": [{"metric": "returned_letter_rate", "max": 0.05}],
                    },
                }
            ).guardrails
        }
    )
    (finding,) = [f for f in check_guardrails(session, TRIAL, guarded) if f.arm == "social_norm"]
    assert finding.rate.events == len(rows) and finding.rate.n == len(people)
    assert finding.breached
