"""The analysis frame: from the database (set-based) and from a flat CSV, with located errors."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from analysis.frame import frame_from_csv, frame_from_db
from analysis.outcomes import import_outcomes
from experiments.enrol import enrol_file
from experiments.loader import LoadedTrial, load_trial_file
from nudge.clock import FixedClock
from nudge.errors import ImportRejected
from nudge.models import Assignment, Hearing, Message, Participant
from tests.analysis.test_outcomes import write_outcomes
from tests.conftest import EXAMPLE
from tests.factories import launch, person, write_people

TRIAL = "witness-reminders-2027"
# The columns both trials' frames start with (each trial is stratified by court).
LEADING_COLUMNS = ("participant_ref", "case_ref", "arm", "unit", "stratum", "court")


def add_message(
    session: Session, clock: FixedClock, ref: str, slot: int, channel: str, status: str, cost: float
) -> None:
    participant = session.exec(select(Participant).where(Participant.participant_ref == ref)).one()
    hearing = session.exec(select(Hearing).where(Hearing.case_id == participant.case_id)).one()
    now = clock.now()
    session.add(
        Message(
            trial_id=TRIAL,
            participant_id=participant.id or 0,
            hearing_id=hearing.id or 0,
            hearing_version=1,
            slot=slot,
            channel=channel,
            template="practical_7d",
            language="en",
            due_at=now,
            expires_at=now + timedelta(days=1),
            next_attempt_at=now,
            status=status,
            cost=cost,
            updated_at=now,
        )
    )


@pytest.fixture
def stored(session: Session, clock: FixedClock, tmp_path: Path) -> dict[str, str]:
    """Eight randomised people and one ineligible, outcomes for some, and a few messages."""
    launch(session, clock, EXAMPLE)
    people = [
        person(i, role="victim" if i % 2 else "witness", age_band="18-34" if i < 4 else "35-54")
        for i in range(1, 9)
    ]
    people.append(person(9, age="17"))
    enrol_file(session, clock, TRIAL, write_people(tmp_path / "people.csv", people), "t")
    import_outcomes(
        session,
        clock,
        TRIAL,
        write_outcomes(
            tmp_path / "outcomes.csv",
            [
                ["P00001", "C00001", "yes", "no"],
                ["P00002", "C00002", "no", ""],
                ["P00003", "C00003", "yes", "yes"],
                ["P00009", "C00009", "yes", ""],
            ],
        ),
        "t",
    )
    session.commit()
    arms = {
        p.participant_ref: arm
        for p, arm in session.exec(
            select(Participant, Assignment.arm_id).join(
                Assignment,
                Assignment.participant_id == Participant.id,  # type: ignore[arg-type]
            )
        )
    }
    from nudge.models import Arm

    keys = {a.id: a.key for a in session.exec(select(Arm))}
    return {ref: keys[arm_id] for ref, arm_id in arms.items()}


def test_the_database_frame_has_one_row_per_randomised_participant(
    session: Session, clock: FixedClock, stored: dict[str, str]
) -> None:
    frame = frame_from_db(session, TRIAL)
    assert sorted(frame["participant_ref"]) == sorted(stored) and "P00009" not in stored
    assert list(frame.columns) == [
        *LEADING_COLUMNS,
        "age_band",
        "vulnerable",
        "prior_fta",
        "role",
        "attended",
        "withdrew",
        "delivered",
        "cost",
    ]
    by_ref = frame.set_index("participant_ref")
    assert {ref: str(by_ref.loc[ref, "arm"]) for ref in stored} == stored
    assert list(frame["arm"].cat.categories) == ["control", "practical", "social_norm"]
    assert by_ref.loc["P00001", "unit"] == "C00001" and set(frame["stratum"]) == {"court=BRS"}
    assert by_ref.loc["P00001", "age_band"] == "18-34" and by_ref.loc["P00001", "role"] == "victim"
    assert frame["vulnerable"].dtype == "float64" and set(frame["vulnerable"]) == {0.0}
    assert [by_ref.loc[r, "attended"] for r in ("P00001", "P00002", "P00003")] == [1.0, 0.0, 1.0]
    assert math.isnan(by_ref.loc["P00004", "attended"]) and math.isnan(
        by_ref.loc["P00002", "withdrew"]
    )
    assert by_ref.loc["P00003", "withdrew"] == 1.0


def test_delivered_and_cost_come_from_the_messages(
    session: Session, clock: FixedClock, stored: dict[str, str]
) -> None:
    add_message(session, clock, "P00001", 1, "sms", "delivered", 0.04)
    add_message(session, clock, "P00001", 2, "sms", "failed", 0.04)
    add_message(session, clock, "P00002", 1, "sms", "sent", 0.08)
    add_message(session, clock, "P00002", 2, "sms", "undelivered", 0.04)
    add_message(session, clock, "P00003", 1, "letter", "sent", 0.85)
    add_message(session, clock, "P00004", 1, "sms", "scheduled", 0.0)
    session.commit()
    by_ref = frame_from_db(session, TRIAL).set_index("participant_ref")
    assert [by_ref.loc[f"P0000{i}", "delivered"] for i in range(1, 6)] == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert [by_ref.loc[f"P0000{i}", "cost"] for i in range(1, 6)] == pytest.approx(
        [0.04, 0.12, 0.85, 0.0, 0.0]
    )


def test_a_trial_with_no_messages_has_no_delivered_column(tmp_path: Path) -> None:
    definition = flat_definition(tmp_path)
    frame = frame_from_csv(write_flat(tmp_path / "flat.csv", FLAT_ROWS), definition)
    assert "delivered" not in frame


FLAT_YAML = """
id: flat-trial
title: A flat file trial
timezone: Europe/London
population: {unit: case, strata: [court]}
arms:
  - {id: control, title: Business as usual, control: true}
  - {id: sms, title: SMS reminder}
outcomes:
  - {id: attended, primary: true}
  - {id: withdrew, population: {field: role, equals: victim}}
analysis:
  covariates: [age, vulnerable]
  subgroups: [role]
  columns: {age: numeric, vulnerable: flag}
"""
FLAT_HEADER = ["participant_ref", "case_ref", "arm", "court", "age", "vulnerable", "role"]
FLAT_HEADER += ["attended", "withdrew"]
FLAT_ROWS = [
    ["P1", "C1", "control", "BRS", "40", "no", "victim", "yes", "no"],
    ["P2", "C1", "control", "BRS", "", "yes", "witness", "0", ""],
    ["P3", "C2", "sms", "CDF", "33", "no", "victim", "", "1"],
]


def flat_definition(tmp_path: Path, text: str = FLAT_YAML):  # type: ignore[no-untyped-def]
    path = tmp_path / "flat.yaml"
    path.write_text(text)
    loaded = load_trial_file(path)
    assert isinstance(loaded, LoadedTrial), loaded
    return loaded.definition


def write_flat(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    lines = [",".join(header or FLAT_HEADER), *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_flat_file_becomes_the_same_kind_of_frame(tmp_path: Path) -> None:
    frame = frame_from_csv(write_flat(tmp_path / "flat.csv", FLAT_ROWS), flat_definition(tmp_path))
    assert list(frame.columns) == [
        *LEADING_COLUMNS,
        "age",
        "vulnerable",
        "role",
        "attended",
        "withdrew",
    ]
    assert list(frame["unit"]) == ["C1", "C1", "C2"]
    assert list(frame["stratum"]) == ["court=BRS", "court=BRS", "court=CDF"]
    assert frame["age"].tolist()[0] == 40.0 and math.isnan(frame["age"].tolist()[1])
    assert frame["vulnerable"].tolist() == [0.0, 1.0, 0.0]
    assert frame["attended"].tolist()[:2] == [1.0, 0.0] and math.isnan(frame["attended"][2])
    assert list(frame["arm"].cat.categories) == ["control", "sms"]


def test_optional_delivered_and_cost_columns_are_read(tmp_path: Path) -> None:
    rows = [
        [*row, flag, cost]
        for row, flag, cost in zip(FLAT_ROWS, "001", ("0", "0", "0.08"), strict=True)
    ]
    path = write_flat(tmp_path / "flat.csv", rows, [*FLAT_HEADER, "delivered", "cost"])
    frame = frame_from_csv(path, flat_definition(tmp_path))
    assert frame["delivered"].tolist() == [0.0, 0.0, 1.0]
    assert frame["cost"].tolist() == [0.0, 0.0, 0.08]


def test_a_flat_file_missing_columns_is_refused_at_line_1(tmp_path: Path) -> None:
    header = [c for c in FLAT_HEADER if c not in ("case_ref", "withdrew")]
    path = write_flat(tmp_path / "flat.csv", [], header)
    with pytest.raises(ImportRejected) as caught:
        frame_from_csv(path, flat_definition(tmp_path))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:1: header: missing column 'case_ref'",
        f"{path}:1: header: missing column 'withdrew'",
    ]


def test_every_bad_cell_of_a_flat_file_is_located(tmp_path: Path) -> None:
    rows = [
        ["P1", "C1", "control", "BRS", "40", "no", "victim", "yes", "no"],
        ["P2", "C1", "sms", "BRS", "41", "no", "victim", "yes", "no"],
        ["P3", "C3", "letter", "BRS", "41", "no", "victim", "perhaps", "no"],
        [],
        ["P1", "C1", "control", "BRS", "40", "no", "victim", "yes", "no"],
        ["P5", "", "control", "", "40", "no", "victim", "yes", "no"],
    ]
    path = write_flat(tmp_path / "flat.csv", [r for r in rows])
    with pytest.raises(ImportRejected) as caught:
        frame_from_csv(path, flat_definition(tmp_path))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: case_ref: unit 'C1' is in arm 'control' on an earlier row but in arm 'sms' "
        "here; a unit is randomised to one arm",
        f"{path}:4: arm: 'letter' is not an arm of trial 'flat-trial' (arms: control, sms)",
        f"{path}:4: attended: 'perhaps' is not yes or no (1/0, true/false; blank if not observed)",
        f"{path}:6: participant_ref: 'P1' is already on line 2",
        f"{path}:7: case_ref: missing (the randomisation unit)",
        f"{path}:7: court: missing",
    ]
    assert caught.value.message == f"{path}: 4 row(s) have problems; nothing was analysed"


def test_a_flat_file_with_a_ragged_row_is_refused(tmp_path: Path) -> None:
    path = write_flat(tmp_path / "flat.csv", [FLAT_ROWS[0], [*FLAT_ROWS[1], "extra"]])
    with pytest.raises(ImportRejected) as caught:
        frame_from_csv(path, flat_definition(tmp_path))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: row: has 10 cells but the header has 9 columns"
    ]


def test_bad_delivered_and_cost_values_are_located(tmp_path: Path) -> None:
    rows = [[*FLAT_ROWS[0], "2", "-1"], [*FLAT_ROWS[1], "1", "free"]]
    path = write_flat(tmp_path / "flat.csv", rows, [*FLAT_HEADER, "delivered", "cost"])
    with pytest.raises(ImportRejected) as caught:
        frame_from_csv(path, flat_definition(tmp_path))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: cost: '-1' is not an amount of money (a number, 0 or more)",
        f"{path}:2: delivered: '2' is not 0 or 1",
        f"{path}:3: cost: 'free' is not an amount of money (a number, 0 or more)",
    ]


def test_a_flat_file_with_a_short_row_is_refused_with_its_line(tmp_path: Path) -> None:
    short = FLAT_ROWS[1][:-2]
    path = write_flat(tmp_path / "flat.csv", [FLAT_ROWS[0], short, FLAT_ROWS[2]])
    with pytest.raises(ImportRejected) as caught:
        frame_from_csv(path, flat_definition(tmp_path))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: row: has 7 cells but the header has 9 columns"
    ]
