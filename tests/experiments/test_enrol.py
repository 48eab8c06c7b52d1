"""Importing exports: eligibility, randomisation, idempotence, and messy input refused cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from experiments.enrol import enrol_file
from nudge.clock import FixedClock
from nudge.errors import ImportRejected, TrialStateError
from nudge.models import AllocatedUnit, Assignment, Hearing, HearingChange, Participant
from tests.conftest import EXAMPLE
from tests.factories import PEOPLE_COLUMNS, launch, person, row_counts, write_people

TRIAL = "witness-reminders-2027"


@pytest.fixture
def live(session: Session, clock: FixedClock) -> str:
    return launch(session, clock, EXAMPLE)


def enrol(session: Session, clock: FixedClock, path: Path, **options: bool):  # type: ignore[no-untyped-def]
    summary = enrol_file(session, clock, TRIAL, path, "test:staff", **options)
    session.commit()
    return summary


def refusal(session: Session, clock: FixedClock, path: Path) -> list[str]:
    """The problems for which enrolling `path` is refused, each as staff read it; the session
    rolled back, as the command line leaves it."""
    with pytest.raises(ImportRejected) as rejected:
        enrol_file(session, clock, TRIAL, path, "test:staff")
    session.rollback()
    return [str(p) for p in rejected.value.problems]


def test_an_export_is_enrolled_checked_and_randomised(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    rows = [person(i) for i in range(1, 31)]
    rows[0]["age"] = "17"
    rows[1]["contact_sms"] = "no"
    rows[2]["role"] = "expert"
    summary = enrol(session, clock, write_people(tmp_path / "people.csv", rows))
    assert (summary.read, summary.enrolled, summary.randomised, summary.rejected) == (30, 30, 27, 0)
    assert dict(summary.ineligible) == {
        "age min 18.0": 1,
        "contact_sms equals True": 1,
        "role in ['victim', 'witness']": 1,
    }
    ineligible = session.exec(select(Participant).where(Participant.eligible == False)).all()  # noqa: E712
    assert {p.ineligible_rule for p in ineligible} == set(summary.ineligible)
    assigned = session.exec(select(Assignment)).all()
    assert len(assigned) == 27 and {a.stratum for a in assigned} == {"court=BRS"}
    assert all(a.assigned_at == clock.now() for a in assigned)


def test_importing_the_same_file_twice_changes_nothing(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    path = write_people(tmp_path / "people.csv", [person(i) for i in range(1, 11)])
    enrol(session, clock, path)
    before = row_counts(session)
    arms = {a.participant_id: a.arm_id for a in session.exec(select(Assignment))}
    again = enrol(session, clock, path)
    assert (again.enrolled, again.already_enrolled, again.updated) == (0, 10, 0)
    after = row_counts(session)
    assert {k: v for k, v in after.items() if k != "audit_event"} == {
        k: v for k, v in before.items() if k != "audit_event"
    }
    assert arms == {a.participant_id: a.arm_id for a in session.exec(select(Assignment))}


def test_a_new_person_in_a_randomised_case_joins_that_cases_arm(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    enrol(session, clock, write_people(tmp_path / "a.csv", [person(1)]))
    second = enrol(
        session, clock, write_people(tmp_path / "b.csv", [person(1), person(2, case_ref="C00001")])
    )
    assert (second.randomised, second.joined_existing_unit) == (1, 1)
    arms = {a.arm_id for a in session.exec(select(Assignment))}
    assert len(arms) == 1
    assert len(session.exec(select(AllocatedUnit)).all()) == 1


def test_no_case_is_split_across_arms(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    rows = [person(i, case_ref=f"C{i // 3:05d}") for i in range(120)]
    enrol(session, clock, write_people(tmp_path / "people.csv", rows))
    by_case: dict[str, set[int]] = {}
    for assignment in session.exec(select(Assignment)):
        by_case.setdefault(assignment.unit, set()).add(assignment.arm_id)
    assert len(by_case) == 40 and all(len(arms) == 1 for arms in by_case.values())


def test_a_changed_hearing_time_for_a_known_case_is_an_adjournment(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    enrol(session, clock, write_people(tmp_path / "a.csv", [person(1)]))
    moved = enrol(
        session,
        clock,
        write_people(tmp_path / "b.csv", [person(1, hearing_start="2027-04-08T14:00")]),
    )
    hearing = session.exec(select(Hearing)).one()
    assert moved.hearings_moved == 1 and moved.moved_hearings == [hearing.id]
    assert (hearing.version, hearing.status) == (2, "adjourned")
    assert hearing.starts_at.isoformat() == "2027-04-08T13:00:00+00:00"  # BST
    history = session.exec(select(HearingChange).order_by(HearingChange.id)).all()
    assert [
        (h.previous_status, h.previous_starts_at.isoformat(), h.status, h.starts_at.isoformat())
        for h in history
    ] == [("listed", "2027-03-04T10:00:00+00:00", "adjourned", "2027-04-08T13:00:00+00:00")]


def test_a_later_safeguarding_flag_is_recorded_as_a_change(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    enrol(session, clock, write_people(tmp_path / "a.csv", [person(1)]))
    update = enrol(
        session, clock, write_people(tmp_path / "b.csv", [person(1, safeguarding_flag="yes")])
    )
    participant = session.exec(select(Participant)).one()
    assert update.changed_participants == [participant.id] and participant.safeguarding_flag


def test_missing_contact_safety_data_counts_as_not_safe(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    summary = enrol(
        session, clock, write_people(tmp_path / "a.csv", [person(1, safeguarding_flag="")])
    )
    assert dict(summary.ineligible) == {"safeguarding_flag equals False": 1}
    assert session.exec(select(Participant)).one().safeguarding_flag is True


def test_windows_1252_and_utf8_bom_exports_are_read(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    enrol(
        session,
        clock,
        write_people(tmp_path / "a.csv", [person(1, first_name="Zoë")], encoding="cp1252"),
    )
    enrol(
        session,
        clock,
        write_people(tmp_path / "b.csv", [person(2, first_name="Siân")], encoding="utf-8-sig"),
    )
    names = sorted(p.first_name or "" for p in session.exec(select(Participant)))
    assert names == ["Siân", "Zoë"]


def test_only_numbers_we_may_text_are_kept(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    enrol(
        session,
        clock,
        write_people(
            tmp_path / "a.csv",
            [
                person(1, phone="+44 7700 900001"),
                person(2, contact_sms="no", phone="0117 496 0000"),
            ],
        ),
    )
    phones = sorted((p.participant_ref, p.phone) for p in session.exec(select(Participant)))
    assert phones == [("P00001", "+447700900001"), ("P00002", None)]


def test_enrolling_into_a_draft_is_refused(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    from experiments import trials
    from experiments.loader import load_trial_file

    loaded = load_trial_file(EXAMPLE)
    trials.create_trial(session, clock, loaded, trials.Actor("t"))  # type: ignore[arg-type]
    with pytest.raises(TrialStateError, match="enrolled only into a launched trial"):
        enrol_file(session, clock, TRIAL, write_people(tmp_path / "a.csv", [person(1)]), "t")


MESSY = {
    "landline": (
        {"phone": "0117 496 0000"},
        "phone: '0117 496 0000' is not a UK mobile number (mobiles start 07)",
    ),
    "not a number": ({"phone": "call me"}, "phone: 'call me' is not a phone number"),
    "foreign number": (
        {"phone": "+33 6 12 34 56 78"},
        "phone: '+33 6 12 34 56 78' is not a UK number; SMS reminders go to UK mobiles only",
    ),
    "missing phone": ({"phone": ""}, "phone: missing, but contact_sms is yes"),
    "impossible date": (
        {"hearing_start": "2027-02-30T10:00"},
        "hearing_start: '2027-02-30T10:00' is not a real date and time (write it "
        "like 2027-03-04T10:00, in the trial's timezone, or with an offset)",
    ),
    "ambiguous local time": (
        {"hearing_start": "2027-10-31T01:30"},
        "hearing_start: '2027-10-31T01:30' happens twice in Europe/London "
        "(the clocks go back that night); write it with its offset, e.g. "
        "2027-10-31T01:30+01:00",
    ),
    "non-existent local time": (
        {"hearing_start": "2027-03-28T01:30"},
        "hearing_start: '2027-03-28T01:30' does not exist in "
        "Europe/London: the clocks go forward that night",
    ),
    "bad flag": ({"contact_sms": "maybe"}, "contact_sms: 'maybe' is not yes or no"),
    "missing reference": ({"participant_ref": ""}, "participant_ref: missing"),
    "letter without address": (
        {"address_line_1": "", "address_line_2": ""},
        "address_line_1: missing, but contact_letter is yes",
    ),
    "bad postcode": ({"postcode": "NOWHERE"}, "postcode: 'NOWHERE' is not a UK postcode"),
    "bad language": (
        {"language": "Klingon!"},
        "language: 'Klingon!' is not a language code such as en or cy",
    ),
    "age not a number": ({"age": "forty"}, "age: 'forty' is not a number"),
    "missing stratum": ({"court": ""}, "court: missing"),
}


@pytest.mark.parametrize("case", MESSY, ids=list(MESSY))
def test_a_messy_row_gets_its_message_and_the_database_is_unchanged(
    session: Session, clock: FixedClock, live: str, tmp_path: Path, case: str
) -> None:
    overrides, message = MESSY[case]
    path = write_people(tmp_path / "people.csv", [person(1), person(2, **overrides), person(3)])
    before = row_counts(session)
    assert refusal(session, clock, path) == [f"{path}:3: {message}"]
    assert row_counts(session) == before


def test_duplicates_and_conflicting_case_times_are_named_with_their_lines(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    path = write_people(
        tmp_path / "people.csv",
        [person(1), person(1), person(2, case_ref="C00001", hearing_start="2027-03-05T10:00")],
    )
    assert refusal(session, clock, path) == [
        f"{path}:3: participant_ref: 'P00001' in case 'C00001' is already on line 2",
        f"{path}:4: hearing_start: case 'C00001' has a different hearing_start on line 2",
    ]


def test_a_row_with_the_wrong_number_of_cells_is_located(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    path = write_people(tmp_path / "people.csv", [person(1)])
    with path.open("a") as handle:
        handle.write("P9,C9,witness\n")
    assert refusal(session, clock, path) == [
        f"{path}:3: row: has 3 cells but the header has 20 columns"
    ]


def test_a_header_without_a_needed_column_is_refused_before_any_row(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    columns = [c for c in PEOPLE_COLUMNS if c not in ("phone", "age_band")]
    path = write_people(tmp_path / "people.csv", [person(1)], columns=columns)
    assert refusal(session, clock, path) == [
        f"{path}:1: header: missing column 'phone'",
        f"{path}:1: header: missing column 'age_band' (named in the trial definition)",
    ]


def test_an_empty_file_is_refused(
    session: Session, clock: FixedClock, live: str, tmp_path: Path
) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(
        ImportRejected, match="the file is empty; the first line must be the header"
    ):
        enrol_file(session, clock, TRIAL, path, "test:staff")
