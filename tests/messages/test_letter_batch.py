"""A day's print run: one PDF and a manifest, letters marked posted once, nothing half-done."""

from __future__ import annotations

import csv
import errno
import os
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path

import pdfplumber
import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from analysis.frame import frame_from_db
from messages.intake import enrol_and_plan
from messages.letter_batch import MANIFEST_HEADER, BatchSummary, run_batch
from nudge.clock import FixedClock
from nudge.errors import NudgeError
from nudge.models import Hearing, Message, MessageEvent, OptOut, Participant
from tests.factories import launch, person, row_counts, write_people
from tests.messages.sending import addressee
from tests.messages.test_letters import A4, in_window

TRIAL = "witness-reminders-2027"
# Hearings on Thursday 4 March 2027, letters to arrive 14 days before: posted Friday 12 February.
POSTING_DAY = date(2027, 2, 12)
MORNING = datetime(2027, 2, 12, 9, 30, tzinfo=UTC)


@pytest.fixture
def letters(session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path) -> list[int]:
    """A live trial with 30 people enrolled (every fifth reads Welsh); the letter ids due."""
    launch(session, clock, example_dir / "witness-reminders.yaml")
    people = [person(i, language="cy" if i % 5 == 0 else "en") for i in range(1, 31)]
    path = write_people(tmp_path / "people.csv", people)
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()
    clock.set(MORNING)
    ids = session.exec(
        select(Message.id).where(Message.channel == "letter", Message.status == "scheduled")
    ).all()
    assert len(ids) >= 5
    return sorted(i for i in ids if i is not None)


def batch(session: Session, clock: FixedClock, out: Path, **options: bool) -> BatchSummary:
    return run_batch(session, clock, TRIAL, POSTING_DAY, out, **options)


def manifest_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def messages_by_id(session: Session, ids: list[int]) -> dict[int, Message]:
    session.expire_all()
    return {m.id or 0: m for m in session.exec(select(Message).where(col(Message.id).in_(ids)))}


def test_a_batch_prints_every_due_letter_into_one_pdf_with_a_manifest_row_each(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    summary = batch(session, clock, tmp_path / "print")
    assert summary.letters == len(letters) and not summary.withheld and not summary.unprintable
    assert summary.pdf == tmp_path / "print" / f"{TRIAL}-letters-2027-02-12.pdf"
    assert sorted(p.name for p in (tmp_path / "print").iterdir()) == [
        f"{TRIAL}-letters-2027-02-12-manifest.csv",
        f"{TRIAL}-letters-2027-02-12.pdf",
    ]
    rows = manifest_rows(summary.manifest or Path())
    assert list(rows[0]) == list(MANIFEST_HEADER)
    assert sorted(int(r["message_id"]) for r in rows) == letters
    with pdfplumber.open(BytesIO((summary.pdf or Path()).read_bytes())) as pdf:
        assert len(pdf.pages) == summary.pages == sum(int(r["pages"]) for r in rows)
        assert all((p.width, p.height) == pytest.approx(A4, abs=0.5) for p in pdf.pages)
        texts = [page.extract_text() for page in pdf.pages]
        window = [
            " ".join(w["text"] for w in page.extract_words() if in_window(w)) for page in pdf.pages
        ]
    assert summary.sheets == summary.pages // 2  # duplex: each letter on its own sheets
    people = {p.participant_ref: p for p in session.exec(select(Participant))}
    expected_page = 1
    for row in rows:
        first = int(row["first_page"])
        assert first == expected_page and int(row["pages"]) % 2 == 0
        expected_page += int(row["pages"])
        who = people[row["participant_ref"]]
        assert row["case_ref"] == f"C{row['participant_ref'][1:]}"
        assert row["postcode"] == who.postcode and row["language"] == who.language
        assert window[first - 1] == f"{who.first_name} {who.last_name} {who.address[0]} " + (
            f"{who.address[1]} {who.postcode}"
        )
        word = "Cyf" if who.language == "cy" else "Ref"
        assert f"{word} {row['message_id']}" in texts[first - 1]
        assert ("Annwyl" if who.language == "cy" else "Dear") in texts[first - 1]
    assert "12 February 2027" in texts[0] or "12 Chwefror 2027" in texts[0]


def test_printed_letters_are_marked_posted_with_an_event_and_their_cost(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    summary = batch(session, clock, tmp_path / "print")
    posted = messages_by_id(session, letters)
    assert {(m.status, m.reason, m.sent_at, m.cost) for m in posted.values()} == {
        ("sent", None, MORNING, 0.85)
    }
    events = session.exec(
        select(MessageEvent).where(col(MessageEvent.message_id).in_(letters))
    ).all()
    assert sorted(e.message_id for e in events) == letters
    assert {(e.status, e.detail["batch"]) for e in events} == {("sent", summary.pdf.name)}  # type: ignore[union-attr]


def test_a_posted_letter_counts_as_delivered_and_costs_a_letter_in_the_analysis(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    owners = {m.participant_id for m in messages_by_id(session, letters).values()}
    refs = set(
        session.exec(
            select(Participant.participant_ref).where(col(Participant.id).in_(owners))
        ).all()
    )
    before = frame_from_db(session, TRIAL).set_index("participant_ref")
    assert set(before.loc[list(refs), "delivered"]) == {0.0}
    batch(session, clock, tmp_path / "print")
    after = frame_from_db(session, TRIAL).set_index("participant_ref")
    assert set(after.loc[list(refs), "delivered"]) == {1.0}
    assert set(after.loc[list(refs), "cost"]) == {0.85}
    others = after.drop(index=list(refs))
    assert set(others["delivered"]) == {0.0} and set(others["cost"]) == {0.0}


def test_a_second_run_for_the_same_day_prints_nothing_again(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    first = batch(session, clock, tmp_path / "print")
    counts = row_counts(session)
    again = batch(session, clock, tmp_path / "print")
    assert first.letters == len(letters)
    assert (again.letters, again.pages, again.withheld, again.pdf) == (0, 0, {}, None)
    assert row_counts(session) == counts
    assert len(list((tmp_path / "print").iterdir())) == 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("safeguarding", "safeguarding"),
        ("no_letters", "no_consent"),
        ("vacated", "hearing_vacated"),
        ("moved", "dates_changed"),
    ],
)
def test_a_letter_that_became_unsafe_is_withheld_at_the_last_check(
    session: Session,
    clock: FixedClock,
    letters: list[int],
    tmp_path: Path,
    change: str,
    reason: str,
) -> None:
    message, participant = addressee(session, letters[0])
    hearing = session.get(Hearing, message.hearing_id)
    assert hearing is not None
    if change == "safeguarding":
        participant.safeguarding_flag = True
    elif change == "no_letters":
        participant.contact_letter = False
    elif change == "vacated":
        hearing.status = "vacated"
    else:
        hearing.version += 1
    session.commit()
    summary = batch(session, clock, tmp_path / "print")
    assert summary.withheld == {reason: 1} and summary.letters == len(letters) - 1
    stored = messages_by_id(session, letters)
    assert (stored[letters[0]].status, stored[letters[0]].reason) == ("cancelled", reason)
    assert {m.status for i, m in stored.items() if i != letters[0]} == {"sent"}
    printed = {int(r["message_id"]) for r in manifest_rows(summary.manifest or Path())}
    assert letters[0] not in printed
    event = session.exec(select(MessageEvent).where(MessageEvent.message_id == letters[0])).one()
    assert (event.status, event.detail) == ("cancelled", {"reason": reason})


def test_a_text_opt_out_does_not_stop_a_letter(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    _message, participant = addressee(session, letters[0])
    assert participant.phone
    session.add(OptOut(phone=participant.phone, source="STOP", opted_out_at=clock.now()))
    session.commit()
    assert batch(session, clock, tmp_path / "print").letters == len(letters)


def test_an_address_too_long_for_the_window_stays_scheduled_and_the_rest_print(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    _message, participant = addressee(session, letters[0])
    participant.address = [f"Line {n} of a very long address" for n in range(9)]
    session.commit()
    summary = batch(session, clock, tmp_path / "print")
    assert summary.unprintable == [(letters[0], "the address does not fit the envelope window")]
    assert summary.letters == len(letters) - 1
    assert messages_by_id(session, letters)[letters[0]].status == "scheduled"


def test_a_dry_run_counts_the_same_letters_and_changes_nothing(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    counts = row_counts(session)
    dry = batch(session, clock, tmp_path / "print", dry_run=True)
    assert (dry.letters, dry.pdf, dry.manifest) == (len(letters), None, None)
    assert row_counts(session) == counts and not (tmp_path / "print").exists()
    assert {m.status for m in messages_by_id(session, letters).values()} == {"scheduled"}
    real = batch(session, clock, tmp_path / "print")
    assert (real.letters, real.pages, real.sheets) == (dry.letters, dry.pages, dry.sheets)


def test_a_simplex_run_has_one_sheet_a_page(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    summary = batch(session, clock, tmp_path / "print", duplex=False)
    assert summary.sheets == summary.pages == len(letters)  # the example letter fits one page


def only_visible(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def commit_fails(self: Session) -> None:
    raise OperationalError("COMMIT", {}, Exception("disk I/O error"))


def manifest_write_fails(calls: list[int]) -> object:
    real_fsync = os.fsync

    def fsync(handle: int) -> None:
        calls.append(handle)
        if len(calls) == 2:  # the manifest, after the PDF was written
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(handle)

    return fsync


@pytest.mark.parametrize(
    ("failure", "error"),
    [("commit", "disk I/O error"), ("disk_full", "No space left on device; nothing was marked")],
)
def test_a_failure_leaves_no_print_files_and_nothing_marked(
    session: Session,
    clock: FixedClock,
    letters: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
    error: str,
) -> None:
    counts = row_counts(session)
    if failure == "commit":
        monkeypatch.setattr(Session, "commit", commit_fails)
    else:
        monkeypatch.setattr(os, "fsync", manifest_write_fails([]))
    with pytest.raises((OperationalError, NudgeError), match=error):
        batch(session, clock, tmp_path / "print")
    monkeypatch.undo()
    session.rollback()
    assert only_visible(tmp_path / "print") == []  # not even a temporary file
    assert row_counts(session) == counts
    assert {m.status for m in messages_by_id(session, letters).values()} == {"scheduled"}


def test_a_future_posting_day_is_refused_unless_it_is_a_dry_run(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    clock.set(datetime(2027, 2, 11, 16, tzinfo=UTC))
    with pytest.raises(NudgeError, match=r"--date 2027-02-12 is after today \(2027-02-11"):
        batch(session, clock, tmp_path / "print")
    assert batch(session, clock, tmp_path / "print", dry_run=True).letters == len(letters)


def test_a_posting_day_that_is_over_withholds_its_letters_as_expired(
    session: Session, clock: FixedClock, letters: list[int], tmp_path: Path
) -> None:
    clock.set(datetime(2027, 2, 15, 9, tzinfo=UTC))  # the Monday after: too late to arrive
    summary = batch(session, clock, tmp_path / "print")
    assert (summary.letters, summary.withheld) == (0, {"expired": len(letters)})
    assert only_visible(tmp_path / "print") == []
