"""Multi-site trials: the trial's sites kept in step with its definition, each site importing
only its own people, and randomisation stratified by site."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from experiments import trials
from experiments.allocation import scheme_of
from experiments.definition import SITE_COLUMN
from experiments.enrol import EnrolSummary, enrol_file
from experiments.hearings import update_hearings
from experiments.loader import LoadedTrial, load_trial_file
from experiments.randomise import slots
from nudge.clock import FixedClock
from nudge.errors import ImportRejected, TrialStateError
from nudge.models import Arm, Assignment, Case, Organisation, Participant, TrialSite
from nudge.organisations import add_organisation
from tests.factories import person, row_counts, write_people

TRIAL = "witness-reminders-2027"
ACTOR = trials.Actor("test:researcher")
SITES = "\nsites:\n  - north\n  - {organisation: south, name: Southshire courts}\n"


def definition(folder: Path, sites: str = SITES) -> LoadedTrial:
    """The example trial (copied with its letters into `folder`) with `sites` appended."""
    path = folder / "witness-reminders.yaml"
    path.write_text(path.read_text(encoding="utf-8") + sites, encoding="utf-8")
    loaded = load_trial_file(path)
    assert isinstance(loaded, LoadedTrial), loaded
    return loaded


def areas(session: Session, clock: FixedClock, *slugs: str) -> dict[str, Organisation]:
    names = {"north": "Northshire Police", "south": "Southshire Police", "west": "Westshire"}
    return {s: add_organisation(session, clock, s, names[s], "test:admin") for s in slugs}


@pytest.fixture
def live(session: Session, clock: FixedClock, example_dir: Path) -> dict[str, Organisation]:
    """The example trial across north and south, owned by north, launched."""
    made = areas(session, clock, "north", "south", "west")
    trials.create_trial(session, clock, definition(example_dir), ACTOR, organisation="north")
    trials.launch_trial(session, clock, TRIAL, ACTOR)
    session.commit()
    return made


def enrol(
    session: Session, clock: FixedClock, path: Path, site: str | None, skip_invalid: bool = False
) -> EnrolSummary:
    summary = enrol_file(
        session, clock, TRIAL, path, "test:staff", site=site, skip_invalid=skip_invalid
    )
    session.commit()
    return summary


def refused(session: Session, clock: FixedClock, path: Path, site: str | None) -> list[str]:
    """The problems enrolling `path` for `site` is refused for; nothing may have been written."""
    before = row_counts(session)
    with pytest.raises(ImportRejected) as rejected:
        enrol_file(session, clock, TRIAL, path, "test:staff", site=site)
    session.rollback()
    assert row_counts(session) == before
    return [str(problem) for problem in rejected.value.problems]


# the lifecycle ------------------------------------------------------------------------------
def test_create_lists_the_sites_in_order_with_their_names(
    session: Session, live: dict[str, Organisation]
) -> None:
    stored = [(s.organisation_id, s.position, s.name) for s in _sites(session)]
    assert stored == [
        (live["north"].id, 0, "Northshire Police"),
        (live["south"].id, 1, "Southshire courts"),
    ]


def test_a_site_that_is_no_organisation_is_refused_naming_it_and_the_command(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    areas(session, clock, "north")
    session.commit()
    before = row_counts(session)
    with pytest.raises(TrialStateError) as refusal:
        trials.create_trial(session, clock, definition(example_dir), ACTOR, organisation="north")
    session.rollback()
    said = str(refusal.value)
    assert "sites[1]: there is no organisation 'south'" in said
    assert "nudge orgs add south" in said
    assert row_counts(session) == before


def test_the_organisation_running_the_trial_must_be_one_of_its_sites(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    areas(session, clock, "north", "south", "west")
    session.commit()
    before = row_counts(session)
    with pytest.raises(TrialStateError) as refusal:
        trials.create_trial(session, clock, definition(example_dir), ACTOR, organisation="west")
    session.rollback()
    assert "the organisation that runs the trial must be one of its sites" in str(refusal.value)
    assert "'west' is not among north, south" in str(refusal.value)
    assert row_counts(session) == before


def test_a_live_trial_may_gain_a_site_as_a_listed_design_change(
    session: Session, clock: FixedClock, live: dict[str, Organisation], example_dir: Path
) -> None:
    (example_dir / "witness-reminders.yaml").write_text(
        (example_dir / "witness-reminders.yaml").read_text(encoding="utf-8") + "  - west\n",
        encoding="utf-8",
    )
    loaded = load_trial_file(example_dir / "witness-reminders.yaml")
    assert isinstance(loaded, LoadedTrial)
    version = trials.amend_trial(session, clock, TRIAL, loaded, ACTOR, reason="west joins")
    session.commit()
    assert [s.organisation_id for s in _sites(session)] == [
        live["north"].id,
        live["south"].id,
        live["west"].id,
    ]
    assert version.changed_fields == ["sites"]
    assert [(c["field"], c["kind"]) for c in version.field_changes] == [("sites", "design")]


def test_a_site_people_were_enrolled_from_cannot_leave_one_nobody_was_can(
    session: Session, clock: FixedClock, live: dict[str, Organisation], example_dir: Path
) -> None:
    enrol(session, clock, write_people(example_dir / "s.csv", [person(1)]), "south")
    three = "\nsites: [north, south, west]\n"
    loaded = _rewritten(example_dir, three)
    trials.amend_trial(session, clock, TRIAL, loaded, ACTOR, reason="west joins")
    session.commit()
    without_south = _rewritten(example_dir, "\nsites: [north, west]\n")
    with pytest.raises(TrialStateError) as refusal:
        trials.amend_trial(session, clock, TRIAL, without_south, ACTOR, reason="south leaves")
    session.rollback()
    assert "site 'south' cannot leave trial" in str(refusal.value)
    assert "1 person has been enrolled from it" in str(refusal.value)
    without_west = _rewritten(example_dir, "\nsites: [north, south]\n")
    trials.amend_trial(session, clock, TRIAL, without_west, ACTOR, reason="west withdrew")
    session.commit()
    assert [s.organisation_id for s in _sites(session)] == [live["north"].id, live["south"].id]


def test_a_live_trial_in_one_area_cannot_become_multi_site(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    areas(session, clock, "north", "south")
    plain = load_trial_file(example_dir / "witness-reminders.yaml")
    assert isinstance(plain, LoadedTrial)
    trials.create_trial(session, clock, plain, ACTOR, organisation="north")
    trials.launch_trial(session, clock, TRIAL, ACTOR)
    session.commit()
    with pytest.raises(TrialStateError) as refusal:
        trials.amend_trial(
            session, clock, TRIAL, definition(example_dir), ACTOR, reason="go national"
        )
    session.rollback()
    assert "'sites' is part of the launched design and cannot change" in str(refusal.value)
    assert _sites(session) == []


# importing one site's people ----------------------------------------------------------------
def test_each_sites_people_and_cases_are_that_sites_and_carry_its_name(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    enrol(session, clock, write_people(tmp_path / "n.csv", [person(i) for i in (1, 2)]), "north")
    enrol(session, clock, write_people(tmp_path / "s.csv", [person(i) for i in (3, 4)]), "south")
    north, south = live["north"].id, live["south"].id
    cases = dict(session.exec(select(Case.case_ref, Case.site_id)).all())
    assert cases == {"C00001": north, "C00002": north, "C00003": south, "C00004": south}
    people = session.exec(select(Participant).order_by(col(Participant.participant_ref))).all()
    assert [(p.participant_ref, p.site_id) for p in people] == [
        ("P00001", north),
        ("P00002", north),
        ("P00003", south),
        ("P00004", south),
    ]
    assert [p.attributes[SITE_COLUMN] for p in people] == ["north", "north", "south", "south"]
    strata = {a.stratum for a in session.exec(select(Assignment))}
    assert strata == {"site=north|court=BRS", "site=south|court=BRS"}


def test_each_site_has_its_own_permuted_blocks_balanced_on_their_own(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    """Both sites' units follow their own stratum's sequence from the seed, whatever the other
    site did first: north's 12 units, then south's 12, each take slots 0-11 of their own."""
    enrol(
        session, clock, write_people(tmp_path / "n.csv", [person(i) for i in range(1, 13)]), "north"
    )
    enrol(
        session,
        clock,
        write_people(tmp_path / "s.csv", [person(i) for i in range(13, 25)]),
        "south",
    )
    trial, defined = trials.trial_with_definition(session, TRIAL)
    seed = defined.randomisation.seed
    assert seed is not None
    keys = {a.id: a.key for a in session.exec(select(Arm))}
    rows = session.exec(
        select(Assignment.stratum, Assignment.block, Assignment.position, Assignment.arm_id)
        .join(Participant, col(Participant.id) == Assignment.participant_id)
        .order_by(col(Participant.participant_ref))
    ).all()
    for site in ("north", "south"):
        stratum = f"site={site}|court=BRS"
        got = [(b, p, keys[arm]) for s, b, p, arm in rows if s == stratum]
        expected = slots(scheme_of(defined), seed, stratum, 0, 12)
        assert got == [(slot.block, slot.position, slot.arm) for slot in expected]
        first = [arm for block, _, arm in got if block == 0]
        assert len(first) == expected[0].block_size
        assert set(Counter(first).values()) == {expected[0].block_size // 3}
    assert trial.id == TRIAL


def test_re_importing_a_sites_file_updates_and_moves_as_in_one_area(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    path = write_people(tmp_path / "n.csv", [person(1), person(2)])
    enrol(session, clock, path, "north")
    before = row_counts(session)
    again = enrol(session, clock, path, "north")
    assert (again.enrolled, again.already_enrolled, again.rejected) == (0, 2, 0)
    assert {k: v for k, v in row_counts(session).items() if k != "audit_event"} == {
        k: v for k, v in before.items() if k != "audit_event"
    }
    moved = write_people(
        tmp_path / "m.csv", [person(1, hearing_start="2027-03-11T10:00", phone="07700 900555")]
    )
    summary = enrol(session, clock, moved, "north")
    assert (summary.hearings_moved, summary.updated) == (1, 1)


def test_a_case_of_another_site_is_refused_for_its_rows_and_nothing_is_written(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    enrol(session, clock, write_people(tmp_path / "n.csv", [person(1)]), "north")
    clash = write_people(tmp_path / "s.csv", [person(5), person(6, case_ref="C00001")])
    problems = refused(session, clock, clash, "south")
    assert problems == [
        f"{clash}:3: case_ref: case 'C00001' already belongs to another site of this trial; "
        "case references must be unique across the trial's sites: ask the other site or "
        "prefix yours"
    ]
    person_clash = write_people(tmp_path / "p.csv", [person(1, case_ref="S00001")])
    problems = refused(session, clock, person_clash, "south")
    assert len(problems) == 1 and f"{person_clash}:2: participant_ref: 'P00001'" in problems[0]
    assert "already enrolled from another site" in problems[0]


def test_with_skip_invalid_the_other_rows_of_the_site_are_imported(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    enrol(session, clock, write_people(tmp_path / "n.csv", [person(1)]), "north")
    clash = write_people(tmp_path / "s.csv", [person(5), person(6, case_ref="C00001")])
    summary = enrol(session, clock, clash, "south", skip_invalid=True)
    assert (summary.enrolled, summary.rejected) == (1, 1)
    case = session.exec(select(Case).where(Case.case_ref == "C00001")).one()
    assert case.site_id == live["north"].id


def test_the_site_is_required_known_and_only_for_a_multi_site_trial(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    path = write_people(tmp_path / "n.csv", [person(1)])
    for site, says in (
        (
            None,
            "is multi-site: say which site's people this file holds with --site "
            "(its sites: north, south)",
        ),
        (
            "west",
            "'west' is not a site of trial 'witness-reminders-2027' (its sites: north, south)",
        ),
    ):
        with pytest.raises(TrialStateError) as refusal:
            enrol_file(session, clock, TRIAL, path, "test:staff", site=site)
        session.rollback()
        assert says in str(refusal.value)
    assert session.exec(select(Participant)).all() == []


def test_a_trial_in_one_area_refuses_a_site(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    plain = load_trial_file(example_dir / "witness-reminders.yaml")
    assert isinstance(plain, LoadedTrial)
    trials.create_trial(session, clock, plain, ACTOR)
    trials.launch_trial(session, clock, TRIAL, ACTOR)
    session.commit()
    path = write_people(tmp_path / "n.csv", [person(1)])
    with pytest.raises(TrialStateError) as refusal:
        enrol_file(session, clock, TRIAL, path, "test:staff", site="north")
    assert "is not multi-site; leave out --site" in str(refusal.value)
    session.rollback()
    enrol(session, clock, path, None)
    stored = session.exec(select(Participant)).one()
    assert stored.site_id is None and SITE_COLUMN not in stored.attributes


def test_a_court_list_of_one_site_cannot_touch_another_sites_case(
    session: Session, clock: FixedClock, live: dict[str, Organisation], tmp_path: Path
) -> None:
    enrol(session, clock, write_people(tmp_path / "n.csv", [person(1)]), "north")
    enrol(session, clock, write_people(tmp_path / "s.csv", [person(2)]), "south")
    listed = tmp_path / "list.csv"
    listed.write_text(
        "case_ref,hearing_start,status\nC00002,2027-03-11T10:00,listed\n"
        "C00001,2027-03-11T10:00,listed\n",
        encoding="utf-8",
    )
    before = row_counts(session)
    with pytest.raises(ImportRejected) as rejected:
        update_hearings(session, clock, TRIAL, listed, "test:staff", "south")
    session.rollback()
    assert [str(p) for p in rejected.value.problems] == [
        f"{listed}:3: case_ref: 'C00001' is not a case enrolled in this trial: not one of "
        "your site's cases"
    ]
    assert row_counts(session) == before
    listed.write_text(
        "case_ref,hearing_start,status\nC00002,2027-03-11T10:00,listed\n", encoding="utf-8"
    )
    summary = update_hearings(session, clock, TRIAL, listed, "test:staff", "south")
    assert len(summary.moved) == 1


def _sites(session: Session) -> list[TrialSite]:
    return list(session.exec(select(TrialSite).order_by(col(TrialSite.position))).all())


def _rewritten(folder: Path, sites: str) -> LoadedTrial:
    """The example trial in `folder` with its sites replaced by `sites`."""
    path = folder / "witness-reminders.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("\nsites:")] + sites, encoding="utf-8")
    loaded = load_trial_file(path)
    assert isinstance(loaded, LoadedTrial), loaded
    return loaded


def test_a_column_unit_of_one_site_is_not_another_sites_unit(
    session: Session, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> None:
    """Randomised by court: Bristol at north and Bristol at south are two units, each
    allocated in its own site's stratum, never one joining the other's arm."""
    areas(session, clock, "north", "south")
    path = example_dir / "witness-reminders.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("unit: case ", "unit: court"), encoding="utf-8"
    )
    trials.create_trial(session, clock, definition(example_dir), ACTOR, organisation="north")
    trials.launch_trial(session, clock, TRIAL, ACTOR)
    session.commit()
    enrol(session, clock, write_people(tmp_path / "n.csv", [person(1), person(2)]), "north")
    south = enrol(session, clock, write_people(tmp_path / "s.csv", [person(3)]), "south")
    assert south.joined_existing_unit == 0
    units = sorted({(a.unit, a.stratum) for a in session.exec(select(Assignment))})
    assert units == [
        ("site=north|BRS", "site=north|court=BRS"),
        ("site=south|BRS", "site=south|court=BRS"),
    ]


def test_a_multi_site_trial_by_household_is_refused_at_create(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    areas(session, clock, "north", "south")
    path = example_dir / "witness-reminders.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("unit: case ", "unit: household"),
        encoding="utf-8",
    )
    with pytest.raises(TrialStateError) as refusal:
        trials.create_trial(session, clock, definition(example_dir), ACTOR, organisation="north")
    session.rollback()
    assert "a multi-site trial cannot yet randomise by household" in str(refusal.value)


# which site a member of staff imports for ---------------------------------------------------
