"""Outcomes and milestones in a multi-site trial: a site's file names only its own people and
cases (another site's read as unknown, and the whole file is refused), the operator's file of
the courts' central records covers every site, and a site is refused where there is none."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from analysis.outcomes import import_outcomes
from experiments import trials
from experiments.enrol import enrol_file
from experiments.milestones import current_milestones
from messages.intake import update_milestones_and_replan
from nudge.clock import FixedClock
from nudge.errors import ImportRejected, TrialStateError
from nudge.models import AuditEvent, Case, Organisation, Outcome, Participant
from tests.experiments.test_multisite_enrolment import ACTOR, SITES, TRIAL, areas, definition
from tests.factories import launch, person, row_counts
from tests.milestone_factories import MILESTONES, write_people_with_milestones

OPERATOR = "test:operator"


@pytest.fixture
def live(session: Session, clock: FixedClock, example_dir: Path) -> dict[str, Organisation]:
    """The example trial with milestones, across north and south, launched; north enrolled
    P00001 and P00002 (cases C00001, C00002), south P00003 (C00003)."""
    made = areas(session, clock, "north", "south", "west")
    loaded = definition(example_dir, SITES + MILESTONES)
    trials.create_trial(session, clock, loaded, ACTOR, organisation="north")
    trials.launch_trial(session, clock, TRIAL, ACTOR)
    session.commit()
    for site, numbers in (("north", (1, 2)), ("south", (3,))):
        rows = [person(n) for n in numbers]
        path = write_people_with_milestones(example_dir / f"{site}.csv", rows)
        enrol_for(session, clock, path, site)
    return made


def enrol_for(session: Session, clock: FixedClock, path: Path, site: str) -> None:
    enrol_file(session, clock, TRIAL, path, "test:staff", site=site)
    session.commit()


def outcomes_file(folder: Path, rows: str) -> Path:
    path = folder / "outcomes.csv"
    path.write_text("participant_ref,case_ref,attended\n" + rows, encoding="utf-8")
    return path


def milestones_file(folder: Path, rows: str) -> Path:
    path = folder / "milestones.csv"
    path.write_text("case_ref,milestone,occurred_at\n" + rows, encoding="utf-8")
    return path


def attended(session: Session) -> dict[str, bool | None]:
    """Each participant's current attendance, by reference."""
    query = (
        select(Participant.participant_ref, Outcome.value)
        .join(Outcome, col(Outcome.participant_id) == Participant.id)
        .where(Outcome.outcome_key == "attended", col(Outcome.replaced_at).is_(None))
    )
    return {ref: value for ref, value in session.exec(query)}


def listed_dates(session: Session) -> dict[str, str]:
    """Each case's trial_listed date as recorded (ISO, UTC), by reference."""
    cases = {case.id or 0: case.case_ref for case in session.exec(select(Case))}
    return {
        cases[case_id]: found["trial_listed"].isoformat()
        for case_id, found in current_milestones(session, cases).items()
        if "trial_listed" in found
    }


def last_audit(session: Session, action: str) -> dict[str, object]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
    return dict(session.exec(query).all()[-1].details or {})


# outcomes -----------------------------------------------------------------------------------
def test_a_sites_outcome_file_records_its_own_peoples_outcomes(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    path = outcomes_file(tmp_path, "P00003,C00003,yes\n")
    summary = import_outcomes(session, clock, TRIAL, path, "test:staff", site="south")
    session.commit()
    assert (summary.read, summary.recorded, summary.rejected) == (1, 1, 0)
    assert attended(session) == {"P00003": True}
    assert last_audit(session, "outcomes.imported")["site"] == "south"


def test_a_row_naming_another_sites_person_refuses_the_file_and_writes_nothing(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    path = outcomes_file(tmp_path, "P00003,C00003,yes\nP00001,C00001,no\n")
    before = row_counts(session)
    with pytest.raises(ImportRejected) as rejected:
        import_outcomes(session, clock, TRIAL, path, "test:staff", site="south")
    session.rollback()
    assert [str(problem) for problem in rejected.value.problems] == [
        f"{path}:3: participant_ref: 'P00001' in case 'C00001' is not in this trial: not one "
        "of your site's people"
    ]
    assert "nothing was recorded" in str(rejected.value)
    assert row_counts(session) == before


def test_without_a_site_the_operators_file_covers_every_sites_people(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    path = outcomes_file(tmp_path, "P00001,C00001,no\nP00002,C00002,yes\nP00003,C00003,yes\n")
    summary = import_outcomes(session, clock, TRIAL, path, OPERATOR)
    session.commit()
    assert summary.recorded == 3
    assert attended(session) == {"P00001": False, "P00002": True, "P00003": True}
    assert "site" not in last_audit(session, "outcomes.imported")
    # Someone in no site's file is still unknown, without a word about sites.
    stranger = outcomes_file(tmp_path, "P00009,C00009,yes\n")
    with pytest.raises(ImportRejected) as rejected:
        import_outcomes(session, clock, TRIAL, stranger, OPERATOR)
    session.rollback()
    assert [str(p) for p in rejected.value.problems] == [
        f"{stranger}:2: participant_ref: 'P00009' in case 'C00009' is not in this trial"
    ]


@pytest.mark.parametrize(
    ("site", "said"),
    [
        ("west", f"'west' is not a site of trial '{TRIAL}' (its sites: north, south)"),
        ("nowhere", f"'nowhere' is not a site of trial '{TRIAL}' (its sites: north, south)"),
    ],
)
def test_a_site_that_is_not_the_trials_is_refused_with_its_sites_listed(
    session: Session,
    clock: FixedClock,
    live: dict[str, Organisation],
    tmp_path: Path,
    site: str,
    said: str,
) -> None:
    before = row_counts(session)
    outcomes = outcomes_file(tmp_path, "P00003,C00003,yes\n")
    with pytest.raises(TrialStateError) as refused:
        import_outcomes(session, clock, TRIAL, outcomes, "test:staff", site=site)
    session.rollback()
    assert str(refused.value) == said
    milestones = milestones_file(tmp_path, "C00003,trial_listed,2027-01-05\n")
    with pytest.raises(TrialStateError) as refused:
        update_milestones_and_replan(session, clock, TRIAL, milestones, "test:staff", site=site)
    session.rollback()
    assert str(refused.value) == said
    assert row_counts(session) == before


def test_a_trial_in_one_area_refuses_a_site_for_outcomes_and_milestones(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    areas(session, clock, "north")
    trial_id = launch(session, clock, example_dir / "witness-reminders.yaml")
    before = row_counts(session)
    outcomes = outcomes_file(tmp_path, "P00001,C00001,yes\n")
    with pytest.raises(TrialStateError) as refused:
        import_outcomes(session, clock, trial_id, outcomes, "test:staff", site="north")
    session.rollback()
    assert str(refused.value) == (
        f"trial '{trial_id}' is not multi-site; leave out --site (got 'north')"
    )
    milestones = milestones_file(tmp_path, "C00001,trial_listed,2027-01-05\n")
    with pytest.raises(TrialStateError) as refused:
        update_milestones_and_replan(session, clock, trial_id, milestones, "x", site="north")
    session.rollback()
    assert "is not multi-site; leave out --site" in str(refused.value)
    assert row_counts(session) == before


# milestones ---------------------------------------------------------------------------------
def test_a_sites_milestones_file_records_its_own_cases_dates(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    path = milestones_file(tmp_path, "C00003,trial_listed,2027-01-05\n")
    update = update_milestones_and_replan(session, clock, TRIAL, path, "test:staff", site="south")
    session.commit()
    assert (update.summary.read, update.summary.recorded) == (1, 1)
    assert listed_dates(session) == {"C00003": "2027-01-05T00:00:00+00:00"}
    assert last_audit(session, "milestones.updated")["site"] == "south"


def test_a_row_naming_another_sites_case_refuses_the_milestones_file(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    path = milestones_file(
        tmp_path, "C00003,trial_listed,2027-01-05\nC00001,trial_listed,2027-01-06\n"
    )
    before = row_counts(session)
    with pytest.raises(ImportRejected) as rejected:
        update_milestones_and_replan(session, clock, TRIAL, path, "test:staff", site="south")
    session.rollback()
    assert [str(problem) for problem in rejected.value.problems] == [
        f"{path}:3: case_ref: 'C00001' is not a case enrolled in this trial: not one of your "
        "site's cases"
    ]
    assert row_counts(session) == before


def test_without_a_site_the_operators_milestones_file_covers_every_sites_cases(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    path = milestones_file(
        tmp_path, "C00001,trial_listed,2027-01-05\nC00003,trial_listed,2027-01-06\n"
    )
    update = update_milestones_and_replan(session, clock, TRIAL, path, OPERATOR)
    session.commit()
    assert update.summary.recorded == 2
    assert listed_dates(session) == {
        "C00001": "2027-01-05T00:00:00+00:00",
        "C00003": "2027-01-06T00:00:00+00:00",
    }
    assert "site" not in last_audit(session, "milestones.updated")
