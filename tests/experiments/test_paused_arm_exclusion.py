"""`randomisation.paused_arm_enrolment: exclude`: while an arm is paused new units are allocated
among the open arms only, in balanced blocks of their own, reproducibly; units allocated before
keep their arm; resuming opens the arm again; each change is a recorded design change."""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from experiments import trials
from experiments.enrol import enrol_file
from experiments.loader import load_trial_file
from experiments.randomise import AllocationScheme, Arm, StratumSequence
from messages.checks import check_definition
from messages.pausing import pause, resume
from nudge.clock import FixedClock
from nudge.db import make_engine, upgrade
from nudge.errors import TrialStateError
from nudge.models import AllocatedUnit, Assignment, AuditEvent, Participant
from nudge.models import Arm as ArmRow
from tests.conftest import EXAMPLE, Cli
from tests.factories import launch, person, row_counts, write_people
from tests.web_helpers import csrf_token, logged_in

TRIAL = "witness-reminders-2027"
COURTS = ["BRS", "CDF", "LDS", "SWN"]
SEED = 20270101
OPEN = "control,practical"


def excluding(example_dir: Path) -> Path:
    """The example trial (a copy, with its letters), its paused arms excluded from enrolment."""
    path = example_dir / "witness-reminders.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("randomisation:\n", "randomisation:\n  paused_arm_enrolment: exclude\n", 1),
        encoding="utf-8",
    )
    return path


Unit = tuple[str, str, int, int, str, str | None]  # unit, sequence key, slot, block, arm, open


def people(
    tmp_path: Path, name: str, numbers: range, extra: list[dict[str, str]] | None = None
) -> Path:
    rows = [person(i, case_ref=f"C{i // 2:05d}", court=COURTS[(i // 2) % 4]) for i in numbers]
    return write_people(tmp_path / name, rows + (extra or []))


def units(session: Session) -> list[Unit]:
    session.expire_all()
    keys = {a.id: a.key for a in session.exec(select(ArmRow))}
    return [
        (u.unit, u.stratum, u.slot, u.block, keys[u.arm_id], u.open_arms)
        for u in session.exec(select(AllocatedUnit).order_by(col(AllocatedUnit.id)))
    ]


def paused_and_resumed(
    session: Session, clock: FixedClock, definition: Path, tmp_path: Path
) -> list[Unit]:
    """Enrol 30 cases, pause social_norm, enrol 100 more (and a witness of an early
    social_norm case), resume, enrol 30 more; every allocated unit, in order."""
    launch(session, clock, definition)
    enrol_file(session, clock, TRIAL, people(tmp_path, "first.csv", range(0, 60)), "test")
    session.commit()
    early = {u[0]: u for u in units(session)}
    case, stratum, *_ = next(u for u in early.values() if u[4] == "social_norm")
    joiner = person(900, case_ref=case, court=stratum.removeprefix("court="))
    pause(session, clock, TRIAL, "social_norm", "complaints; DMC to review", "dmc")
    session.commit()
    second = people(tmp_path, "second.csv", range(60, 260), [joiner])
    summary = enrol_file(session, clock, TRIAL, second, "test")
    assert summary.joined_existing_unit >= 1
    session.commit()
    resume(session, clock, TRIAL, "social_norm", "dmc")
    session.commit()
    enrol_file(session, clock, TRIAL, people(tmp_path, "third.csv", range(260, 320)), "test")
    session.commit()
    return units(session)


def test_while_an_arm_is_excluded_new_units_go_only_to_the_open_arms_in_balanced_blocks(
    session: Session, clock: FixedClock, tmp_path: Path, example_dir: Path
) -> None:
    allocated = paused_and_resumed(session, clock, excluding(example_dir), tmp_path)
    first, during, after = allocated[:30], allocated[30:130], allocated[130:]
    assert len(during) == 100 and len(after) == 30
    assert {u[5] for u in first} == {None} == {u[5] for u in after}
    assert {u[4] for u in first} == {"control", "practical", "social_norm"}
    # Paused: control and practical only, each unit recording the arms open then.
    assert {(u[4], u[5]) for u in during} == {("control", OPEN), ("practical", OPEN)}
    assert {u[1] for u in during} == {f"court={c}|open:{OPEN}" for c in COURTS}
    # Blocks of the open arms: each completed one (all but the last of a stratum) exactly
    # balanced and 2 or 4 long, the declared 3 and 6 scaled to two arms of the three.
    blocks: dict[str, dict[int, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for unit in during:
        blocks[unit[1]][unit[3]][unit[4]] += 1
    for found in blocks.values():
        *completed, _ = [found[b] for b in sorted(found)]
        assert completed, "each stratum completed a block"
        for counts in completed:
            assert counts["control"] == counts["practical"] and counts.total() in (2, 4)
    # The documented sequence, re-derived from the seed: the stratum's key, "|open:" and the
    # open arms, with their own scaled block sizes.
    scheme = AllocationScheme("permuted_blocks", (Arm("control"), Arm("practical")), (2, 4))
    for stratum in blocks:
        taken = [(u[3], u[4]) for u in during if u[1] == stratum]
        expected = StratumSequence(scheme, SEED, stratum).slots(0, len(taken))
        assert taken == [(slot.block, slot.arm) for slot in expected]
    # The witness of a case allocated before the pause joined its social_norm arm.
    joined = session.exec(
        select(Assignment)
        .join(Participant, col(Participant.id) == Assignment.participant_id)
        .where(Participant.participant_ref == "P00900")
    ).one()
    assert joined.open_arms is None
    assert {a.key: a.id for a in session.exec(select(ArmRow))}["social_norm"] == joined.arm_id
    # Resumed: each stratum's own sequence continues where it stopped, all three arms again.
    assert {u[4] for u in after} == {"control", "practical", "social_norm"}
    for court in COURTS:
        before = [u[2] for u in first if u[1] == f"court={court}"]
        later = [u[2] for u in after if u[1] == f"court={court}"]
        assert later == list(range(len(before), len(before) + len(later)))
    # Every participant's assignment records the arms open when its unit was allocated.
    for assignment in session.exec(select(Assignment)):
        unit = next(u for u in allocated if u[0] == assignment.unit)
        assert assignment.open_arms == unit[5]
        assert assignment.stratum == unit[1].partition("|open:")[0]


def test_the_allocation_is_the_same_again_from_the_seed_in_another_database(
    db_url: str, tmp_path: Path, clock: FixedClock, example_dir: Path
) -> None:
    definition = excluding(example_dir)
    found: list[list[Unit]] = []
    for url in (db_url, f"sqlite:///{tmp_path / 'again.db'}"):
        engine = make_engine(url)
        upgrade(engine)
        with Session(engine, expire_on_commit=False) as session:
            found.append(paused_and_resumed(session, clock, definition, tmp_path))
        engine.dispose()
    assert found[0] == found[1]


def test_pausing_and_resuming_under_exclude_is_a_recorded_design_change(
    app: object,
    staff: None,
    db_url: str,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    example_dir: Path,
) -> None:
    launch(session, clock, excluding(example_dir))
    cli = Cli(db_url, tmp_path)
    paused = cli("trial", "pause", TRIAL, "--arm", "social_norm", "--reason", "DMC review")
    assert paused.exit_code == 0, paused.output
    assert (
        "new participants are allocated among Business as usual, Practical information only"
        in paused.output
    )
    resumed = cli("trial", "resume", TRIAL, "--arm", "social_norm")
    assert "new participants are allocated among every arm again" in resumed.output
    session.expire_all()
    changes = session.exec(
        select(AuditEvent)
        .where(AuditEvent.action == "trial.allocation_changed")
        .order_by(col(AuditEvent.id))
    ).all()
    assert [c.details["open_arms"] for c in changes] == [
        ["control", "practical"],
        ["control", "practical", "social_norm"],
    ]
    assert changes[0].details["reason"] == "DMC review"
    shown = cli("trial", "show", TRIAL, "--json")
    listed = json.loads(shown.output)["allocation_changes"]
    assert [(c["what"], c["open_arms"]) for c in listed] == [
        ("Social norm paused", ["Business as usual", "Practical information"]),
        ("Social norm resumed", ["Business as usual", "Practical information", "Social norm"]),
    ]
    assert "changes of allocation" in cli("trial", "show", TRIAL).output
    for page in (f"/trials/{TRIAL}/manage", f"/trials/{TRIAL}/overview"):
        text = logged_in(app, "researcher").get(page).get_data(as_text=True)  # type: ignore[attr-defined]
        assert "Changes of allocation" in text and "Social norm paused" in text
        assert "new participants allocated among Business as usual, Practical information" in text


def test_under_allocate_a_paused_arm_still_takes_new_people_and_the_design_is_unchanged(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    allocated = paused_and_resumed(session, clock, EXAMPLE, tmp_path)
    assert {u[4] for u in allocated[30:130]} == {"control", "practical", "social_norm"}
    assert {u[5] for u in allocated} == {None}
    assert all("|open:" not in u[1] for u in allocated)
    audit = session.exec(
        select(AuditEvent).where(AuditEvent.action == "trial.allocation_changed")
    ).all()
    assert audit == []


def test_with_fewer_than_two_arms_open_an_import_with_anyone_new_is_refused(
    session: Session, clock: FixedClock, tmp_path: Path, example_dir: Path
) -> None:
    launch(session, clock, excluding(example_dir))
    paused = pause(session, clock, TRIAL, None, "whole trial on hold", "dmc")
    session.commit()
    assert paused.open_arms == ()
    before = row_counts(session)
    with pytest.raises(TrialStateError) as refused:
        enrol_file(session, clock, TRIAL, people(tmp_path, "p.csv", range(10)), "test")
    session.rollback()
    assert "cannot randomise anyone new" in str(refused.value)
    assert "fewer than two arms are open" in str(refused.value)
    assert f"nudge trial resume {TRIAL}" in str(refused.value)
    assert row_counts(session) == before


def test_the_key_is_left_out_of_the_canonical_form_when_not_given(
    engine: Engine, session: Session, clock: FixedClock
) -> None:
    launch(session, clock, EXAMPLE)
    version = trials.current_version(session, trials.get_trial(session, TRIAL))
    assert "paused_arm_enrolment" not in version.canonical_json


def problems(example_dir: Path, text: str) -> list[str]:
    path = example_dir / "witness-reminders.yaml"
    path.write_text(text, encoding="utf-8")
    return [
        str(p).replace(str(example_dir) + "/", "")
        for p in check_definition(load_trial_file(path)).problems
    ]


def test_a_wrong_value_is_refused_where_it_is_written(example_dir: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    line = text.splitlines().index("randomisation:") + 2
    wrong = text.replace("randomisation:\n", "randomisation:\n  paused_arm_enrolment: stop\n", 1)
    assert problems(example_dir, wrong) == [
        f"witness-reminders.yaml:{line}:25: randomisation.paused_arm_enrolment: must be "
        "'allocate' or 'exclude' (not 'stop')"
    ]
    above = "paused_arm_enrolment: exclude\nrandomisation:\n"
    misplaced = text.replace("randomisation:\n", above, 1)
    (found,) = problems(example_dir, misplaced)
    assert found.startswith(
        f"witness-reminders.yaml:{line - 1}:1: unknown key 'paused_arm_enrolment'"
    )


def test_the_pause_page_says_what_a_pause_does_to_enrolment_and_the_change_it_made(
    app: Flask, staff: None, session: Session, clock: FixedClock, example_dir: Path
) -> None:
    launch(session, clock, excluding(example_dir))
    client = logged_in(app, "researcher")
    page = f"/trials/{TRIAL}/pause"
    before = " ".join(client.get(page).get_data(as_text=True).split())
    assert "This trial excludes a paused arm from enrolment" in before
    form = {"which": "social_norm", "reason": "Complaints; the committee meets Monday."}
    done = client.post(
        page, data={"csrf_token": csrf_token(client, page), **form}, follow_redirects=True
    )
    text = " ".join(html.unescape(done.get_data(as_text=True)).split())
    assert (
        "Social norm is paused: 0 message(s) held until it is resumed. From now on new "
        "participants are allocated among Business as usual, Practical information only"
    ) in text
