"""A trial's life: a draft may change freely; a launched design is frozen; every version kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from experiments import trials
from experiments.loader import LoadedTrial, canonical_form, load_trial_file, sha256_of
from nudge.clock import FixedClock
from nudge.errors import NotFound, TrialStateError
from nudge.models import Arm, AuditEvent, TrialVersion
from tests.conftest import EXAMPLE

ACTOR = trials.Actor("test:researcher")


def load(path: Path) -> LoadedTrial:
    loaded = load_trial_file(path)
    assert isinstance(loaded, LoadedTrial), loaded
    return loaded


def edited(example_dir: Path, old: str, new: str) -> LoadedTrial:
    path = example_dir / "witness-reminders.yaml"
    text = path.read_text()
    assert old in text
    changed = example_dir / "changed.yaml"
    changed.write_text(text.replace(old, new, 1))
    return load(changed)


@pytest.fixture
def live(session: Session, clock: FixedClock, example_dir: Path) -> str:
    trials.create_trial(session, clock, load(example_dir / "witness-reminders.yaml"), ACTOR)
    trials.launch_trial(session, clock, "witness-reminders-2027", ACTOR)
    session.commit()
    return "witness-reminders-2027"


def test_creating_a_trial_stores_a_draft_with_its_arms_and_hash(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    loaded = load(example_dir / "witness-reminders.yaml")
    trial = trials.create_trial(session, clock, loaded, ACTOR)
    session.commit()
    version = trials.current_version(session, trial)
    assert (trial.status, trial.current_version, version.kind) == ("draft", 1, "created")
    arms = session.exec(select(Arm).order_by(Arm.position)).all()
    assert [(a.key, a.weight, a.is_control) for a in arms] == [
        ("control", 1, True),
        ("practical", 1, False),
        ("social_norm", 1, False),
    ]
    canonical = json.loads(version.canonical_json)
    assert version.sha256 == sha256_of(canonical)
    assert (
        "Most people who are asked to come to court"
        in canonical["templates"]["social_norm_letter"]["en"]
    )


def test_the_hash_covers_letter_files_not_just_the_yaml(example_dir: Path) -> None:
    letter = example_dir / "letters" / "social_norm.md"
    original = sha256_of(canonical_form(load(example_dir / "witness-reminders.yaml")))
    letter.write_text(letter.read_text() + "\nP.S. A changed letter.\n")
    changed = sha256_of(canonical_form(load(example_dir / "witness-reminders.yaml")))
    assert original != changed


def test_creating_the_same_trial_twice_is_refused_with_the_way_forward(
    session: Session, clock: FixedClock, live: str, example_dir: Path
) -> None:
    with pytest.raises(
        TrialStateError, match="already exists; to change it run: nudge trial amend"
    ):
        trials.create_trial(session, clock, load(example_dir / "witness-reminders.yaml"), ACTOR)


def test_a_draft_accepts_a_design_change_and_replaces_its_arms(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    trials.create_trial(session, clock, load(example_dir / "witness-reminders.yaml"), ACTOR)
    changed = edited(
        example_dir,
        "    title: Social norm\n    weight: 1",
        "    title: Social norm\n    weight: 1\n    description: Peers attend",
    )
    version = trials.amend_trial(
        session, clock, "witness-reminders-2027", changed, ACTOR, reason="describe the arm"
    )
    assert version.changed_fields == ["arms[2].description"]


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("block_sizes: [3, 6]", "block_sizes: [3]", "randomisation.block_sizes"),
        ("seed: 20270101", "seed: 20270102", "randomisation.seed"),
        ("{field: age, min: 18}", "{field: age, min: 16}", "population.eligibility[1].min"),
        ("days_before: 7, at", "days_before: 6, at", "arms[1].messages[0].send.days_before"),
        ("correction: holm", "correction: bonferroni", "analysis.correction"),
        ("late: skip", "late: next_window", "sending.late"),
        ("{id: attended, primary: true", "{id: attended2, primary: true", "outcomes[0].id"),
    ],
)
def test_a_launched_trial_refuses_a_design_change_naming_the_field(
    session: Session,
    clock: FixedClock,
    live: str,
    example_dir: Path,
    old: str,
    new: str,
    field: str,
) -> None:
    with pytest.raises(TrialStateError) as refused:
        trials.amend_trial(session, clock, live, edited(example_dir, old, new), ACTOR, reason="try")
    assert str(refused.value).startswith(f"'{field}' is part of the launched design")
    session.rollback()
    assert len(trials.versions(session, live)) == 2


def test_a_launched_trial_accepts_operational_changes_and_keeps_each_version(
    session: Session, clock: FixedClock, live: str, example_dir: Path
) -> None:
    later = edited(example_dir, '{start: "20:00"', '{start: "19:30"')
    first = trials.amend_trial(session, clock, live, later, ACTOR, reason="court asked")
    cheaper = edited(example_dir, "sms_segment: 0.04", "sms_segment: 0.035")
    second = trials.amend_trial(session, clock, live, cheaper, ACTOR, reason="new tariff")
    session.commit()
    history = trials.versions(session, live)
    assert [(v.version, v.kind, v.reason) for v in history] == [
        (1, "created", None),
        (2, "launched", None),
        (3, "amended", "court asked"),
        (4, "amended", "new tariff"),
    ]
    assert first.changed_fields == ["sending.quiet_hours.start"]
    # The second file starts from the original, so it also puts the quiet hours back.
    assert second.changed_fields == ["costs.sms_segment", "sending.quiet_hours.start"]
    assert len({v.sha256 for v in history}) == 3  # launch alone keeps the draft's hash


def test_a_template_change_after_launch_needs_the_typo_flag(
    session: Session, clock: FixedClock, live: str, example_dir: Path
) -> None:
    fixed = edited(example_dir, "Questions? Call", "Any questions? Call")
    with pytest.raises(TrialStateError, match="say so with --template-fix"):
        trials.amend_trial(session, clock, live, fixed, ACTOR, reason="wording")
    version = trials.amend_trial(
        session, clock, live, fixed, ACTOR, reason="typo", template_fix=True
    )
    assert version.changed_fields == ["templates.practical_7d.en"]


def test_an_amendment_that_changes_nothing_is_refused(
    session: Session, clock: FixedClock, live: str, example_dir: Path
) -> None:
    same = load(example_dir / "witness-reminders.yaml")
    with pytest.raises(TrialStateError, match="nothing to amend"):
        trials.amend_trial(session, clock, live, same, ACTOR, reason="again")


def test_launch_draws_a_seed_when_the_definition_has_none(
    session: Session, clock: FixedClock, example_dir: Path
) -> None:
    unseeded = edited(example_dir, "  seed: 20270101\n", "")
    trials.create_trial(session, clock, unseeded, ACTOR)
    version = trials.launch_trial(session, clock, "witness-reminders-2027", ACTOR)
    seed = json.loads(version.canonical_json)["randomisation"]["seed"]
    assert isinstance(seed, int)
    # A later amendment that still omits the seed keeps the drawn one instead of "changing" it.
    path = example_dir / "witness-reminders.yaml"
    retitled = (
        path.read_text()
        .replace("  seed: 20270101\n", "")
        .replace("title: Reminder framing", "title: Retitled reminder framing")
    )
    (example_dir / "retitled.yaml").write_text(retitled)
    amended = trials.amend_trial(
        session,
        clock,
        "witness-reminders-2027",
        load(example_dir / "retitled.yaml"),
        ACTOR,
        reason="retitle",
    )
    assert amended.changed_fields == ["title"]
    assert json.loads(amended.canonical_json)["randomisation"]["seed"] == seed


def test_launching_twice_and_closing_a_draft_are_refused(
    session: Session, clock: FixedClock, live: str
) -> None:
    with pytest.raises(TrialStateError, match="only a draft can be launched"):
        trials.launch_trial(session, clock, live, ACTOR)
    trials.close_trial(session, clock, live, ACTOR)
    with pytest.raises(TrialStateError, match="is closed and cannot be amended"):
        trials.amend_trial(session, clock, live, load(EXAMPLE), ACTOR, reason="x")


def test_an_unknown_trial_is_named_with_the_ones_that_exist(session: Session, live: str) -> None:
    with pytest.raises(NotFound, match="no trial 'nope' \\(trials here: witness-reminders-2027\\)"):
        trials.get_trial(session, "nope")


def test_every_lifecycle_step_is_audited(session: Session, live: str) -> None:
    actions = session.exec(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["trial.created", "trial.launched"]
    assert session.exec(select(TrialVersion)).all()
