"""The reproduction bundle (`nudge analyse TRIAL --bundle`): what it holds and what it never does.

The seeded trial's people are obviously fictional (Testy McTestface, 07700 900xxx, n Example
Street); every cell of the bundle is checked against their personal data as stored.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from sqlmodel import Session, select

from analysis.analyse import analyse_trial
from analysis.report import report_json
from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file, sha256_of
from nudge.clock import FixedClock
from nudge.models import AuditEvent, Case, Participant
from tests.conftest import EXAMPLE, Cli
from tests.factories import launch
from tests.trial_factories import TRIAL, SeededTrial, seed_trial

BUNDLE_FILES = {
    "README.txt",
    "analysis.csv",
    "trial.yaml",
    "model.json",
    "nudge_primary.json",
    "reproduce.R",
}
ESTIMATES = {
    "estimate": "adjusted_risk_difference",
    "std_error": "adjusted_std_error",
    "ci_low": "adjusted_ci_low",
    "ci_high": "adjusted_ci_high",
    "p_value": "adjusted_p_value",
}


@pytest.fixture
def seeded(session: Session, clock: FixedClock, tmp_path: Path) -> SeededTrial:
    return seed_trial(session, clock, tmp_path, people=120)


def unpack(path: Path) -> dict[str, bytes]:
    """The bundle's files by name, checking they sit in one folder named after the trial."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        folders = {name.split("/")[0] for name in names}
        assert folders == {f"{TRIAL}-v2-reproduction"}, names
        return {name.split("/", 1)[1]: archive.read(name) for name in names}


def written_bundle(cli: Cli, tmp_path: Path, name: str = "bundle.zip") -> dict[str, bytes]:
    path = tmp_path / name
    result = cli("analyse", TRIAL, "--bundle", str(path))
    assert result.exit_code == 0, result.output
    assert f"reproduction bundle written to {path}" in result.output
    return unpack(path)


def analysis_rows(files: dict[str, bytes]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files["analysis.csv"].decode("utf-8"))))


def personal_data(session: Session) -> set[str]:
    """Every name, phone number (as stored and as written), address line, postcode and
    reference of the enrolled people."""
    found: set[str] = set()
    query = select(Participant, Case.case_ref).join(Case, Case.id == Participant.case_id)  # type: ignore[arg-type]
    for person, case_ref in session.exec(query).all():
        found |= {person.participant_ref, case_ref, *person.address}
        found |= {v for v in (person.first_name, person.last_name, person.postcode) if v}
        if person.phone:
            national = "0" + person.phone.removeprefix("+44")
            found |= {person.phone, national, f"{national[:5]} {national[5:]}"}
    return found


def test_the_bundle_holds_its_six_files_in_one_folder(
    cli: Cli, seeded: SeededTrial, tmp_path: Path
) -> None:
    files = written_bundle(cli, tmp_path)
    assert set(files) == BUNDLE_FILES
    assert files["reproduce.R"].startswith(b"# reproduce.R")
    readme = files["README.txt"].decode()
    for name in BUNDLE_FILES - {"README.txt"}:
        assert name in readme
    assert "Rscript reproduce.R" in readme and "ROW-LEVEL DATA" in readme


def test_no_cell_of_the_bundle_holds_a_name_phone_address_or_real_reference(
    cli: Cli, seeded: SeededTrial, session: Session, tmp_path: Path
) -> None:
    personal = personal_data(session)
    assert {"McTestface1", "+447700900001", "07700 900001", "1 Example Street"} <= personal
    assert {"P00001", "C00001", "BS1 1AA"} <= personal
    files = written_bundle(cli, tmp_path)
    rows = analysis_rows(files)
    assert len(rows) == len(seeded.arms)
    for row in rows:
        for column, cell in row.items():
            assert cell not in personal, (column, cell)
            assert not any(value in cell for value in personal), (column, cell)
    for name, content in files.items():
        text = content.decode("utf-8")
        leaked = sorted(value for value in personal if value in text)
        assert leaked == [], name


def test_references_become_random_ids_drawn_afresh_for_each_bundle(
    cli: Cli, seeded: SeededTrial, tmp_path: Path
) -> None:
    first = analysis_rows(written_bundle(cli, tmp_path, "first.zip"))
    second = analysis_rows(written_bundle(cli, tmp_path, "second.zip"))
    for rows in (first, second):
        assert all(re.fullmatch(r"P-[0-9a-f]{12}", row["participant_ref"]) for row in rows)
        assert all(re.fullmatch(r"C-[0-9a-f]{12}", row["case_ref"]) for row in rows)
        assert all(row["unit"] == row["case_ref"] for row in rows)  # the unit is the case
        assert len({row["participant_ref"] for row in rows}) == len(rows)
    ids = {row[c] for row in first for c in ("participant_ref", "case_ref")}
    assert ids.isdisjoint({row[c] for row in second for c in ("participant_ref", "case_ref")})
    # The same people with the same data: only the ids (and so the row order) differ.
    assert sorted(analysed_values(first)) == sorted(analysed_values(second))


def analysed_values(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return [tuple(v for k, v in row.items() if k not in ("participant_ref", "case_ref", "unit"))
            for row in rows]  # fmt: skip


def test_the_analysis_file_is_the_frame_the_report_analysed(
    cli: Cli, seeded: SeededTrial, session: Session, tmp_path: Path
) -> None:
    rows = analysis_rows(written_bundle(cli, tmp_path))
    columns = list(rows[0])
    assert columns == [
        "participant_ref", "case_ref", "unit", "arm", "stratum", "court", "age_band",
        "vulnerable", "prior_fta", "role", "attended", "withdrew", "delivered", "cost",
    ]  # fmt: skip
    arms = sorted(seeded.arms.values())
    assert sorted(row["arm"] for row in rows) == arms
    primary = next(o for o in exact_report(session)["outcomes"] if o["primary"])
    for arm in primary["arms"]:
        observed = [r for r in rows if r["arm"] == arm["arm"] and r["attended"] != ""]
        assert len(observed) == arm["n"]
        assert sum(r["attended"] == "1" for r in observed) == arm["events"]
    assert {r["stratum"] for r in rows} == {"court=BRS"} and {r["court"] for r in rows} == {"BRS"}
    assert {r["vulnerable"] for r in rows} == {"0", "1"}  # numeric, written exactly


def exact_report(session: Session) -> dict[str, Any]:
    return report_json(analyse_trial(session, TRIAL).report)


def test_nudge_primary_is_the_reports_primary_table(
    cli: Cli, seeded: SeededTrial, session: Session, tmp_path: Path
) -> None:
    files = written_bundle(cli, tmp_path)
    shipped = json.loads(files["nudge_primary.json"])
    primary = next(o for o in exact_report(session)["outcomes"] if o["primary"])
    assert shipped["outcome"] == "attended" and shipped["notes"] == primary["notes"]
    assert shipped["analysed"] == sum(arm["n"] for arm in primary["arms"])
    for estimate, comparison in zip(shipped["estimates"], primary["comparisons"], strict=True):
        assert (estimate["arm"], estimate["versus"]) == (comparison["arm"], "control")
        for name, key in ESTIMATES.items():
            assert estimate[name] == pytest.approx(comparison[key], abs=1e-12)
    model = json.loads(files["model.json"])
    assert model["covariates"] == ["age_band", "vulnerable", "prior_fta", "role"]
    assert (model["clustered"], model["se_type"], model["stratified"]) == (True, "CR2", True)
    assert model["columns"]["arm"]["levels"] == ["control", "practical", "social_norm"]


def test_the_frozen_yaml_is_the_trials_version_with_the_live_seed_concealed(
    cli: Cli, seeded: SeededTrial, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    trial = trials.get_trial(session, TRIAL)
    version = trials.current_version(session, trial)
    stored = json.loads(version.canonical_json)
    assert stored["randomisation"]["seed"] is not None
    live = YAML(typ="safe").load(written_bundle(cli, tmp_path, "live.zip")["trial.yaml"])
    assert live["randomisation"]["seed"] is None
    assert str(stored["randomisation"]["seed"]) not in json.dumps(live)
    assert live | {"randomisation": stored["randomisation"]} == stored
    assert sha256_of(live | {"randomisation": stored["randomisation"]}) == version.sha256
    trials.close_trial(session, clock, TRIAL, trials.Actor("test"))
    session.commit()
    closed = written_bundle(cli, tmp_path, "closed.zip")["trial.yaml"]
    assert sha256_of(YAML(typ="safe").load(closed)) == version.sha256
    assert f"SHA-256 of the canonical form: {version.sha256}".encode() in closed


def test_the_bundle_reads_back_as_a_flat_file_nudge_analyses_to_the_same_estimates(
    cli: Cli, seeded: SeededTrial, session: Session, tmp_path: Path
) -> None:
    files = written_bundle(cli, tmp_path)
    for name in ("analysis.csv", "trial.yaml"):
        (tmp_path / name).write_bytes(files[name])
    loaded = load_trial_file(tmp_path / "trial.yaml")
    assert isinstance(loaded, LoadedTrial), loaded
    frozen = trials.current_definition(session, trials.get_trial(session, TRIAL)).model_dump()
    frozen["randomisation"]["seed"] = None  # concealed while the trial is live
    assert loaded.definition.model_dump() == frozen
    result = cli("analyse", "--data", "analysis.csv", "--trial", "trial.yaml", "--json")
    assert result.exit_code == 0, result.output
    again = next(o for o in json.loads(result.output)["outcomes"] if o["primary"])
    primary = next(o for o in exact_report(session)["outcomes"] if o["primary"])
    for ours, theirs in zip(again["comparisons"], primary["comparisons"], strict=True):
        for key in ESTIMATES.values():
            assert ours[key] == pytest.approx(theirs[key], abs=1e-9)


def test_writing_a_bundle_is_audited_without_any_reference(
    cli: Cli, seeded: SeededTrial, session: Session, tmp_path: Path
) -> None:
    written_bundle(cli, tmp_path)
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "results.bundle_exported")
    ).one()
    assert event.trial_id == TRIAL and event.actor.startswith("cli:")
    assert event.details == {"version": 2, "participants": len(seeded.arms)}


def test_with_json_the_report_alone_goes_to_standard_output(
    cli: Cli, seeded: SeededTrial, tmp_path: Path
) -> None:
    result = cli("analyse", TRIAL, "--json", "--bundle", str(tmp_path / "b.zip"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["trial"] == TRIAL
    assert "reproduction bundle written" in result.stderr


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("exists.zip", "exists.zip already exists: the bundle never replaces a file"),
        ("no-such-folder/b.zip", "there is no folder"),
        (".", "is a folder: give a file name for the bundle"),
    ],
)
def test_a_bad_bundle_path_is_one_line_exit_1_and_nothing_written(
    cli: Cli, seeded: SeededTrial, session: Session, tmp_path: Path, target: str, message: str
) -> None:
    (tmp_path / "exists.zip").write_bytes(b"precious")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("analyse", TRIAL, "--bundle", target)
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1 and message in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "exists.zip").read_bytes() == b"precious"
    actions = session.exec(select(AuditEvent.action)).all()
    assert "results.bundle_exported" not in actions


def test_a_write_that_fails_half_way_leaves_no_partial_zip(
    cli: Cli, seeded: SeededTrial, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analysis import bundle

    def disk_full(written: bundle.Bundle, stream: io.BufferedIOBase) -> None:
        stream.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle, "write_zip", disk_full)
    result = cli("analyse", TRIAL, "--bundle", "b.zip")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "b.zip: the bundle could not be written (No space left on device)"
    )
    assert list(tmp_path.glob("*b.zip*")) == []


def test_a_bundle_needs_a_trial_in_the_database(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("x\n")
    (tmp_path / "t.yaml").write_text("id: x\n")
    result = cli("analyse", "--data", "f.csv", "--trial", "t.yaml", "--bundle", "b.zip")
    assert result.exit_code == 1
    assert result.output.strip() == "--bundle needs TRIAL: it reproduces a trial in the database"


def test_a_trial_with_nobody_randomised_has_nothing_to_reproduce(
    cli: Cli, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, EXAMPLE)
    result = cli("analyse", TRIAL, "--bundle", "b.zip")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"trial '{TRIAL}' has nobody randomised yet: nothing to reproduce"
    )
    assert not (tmp_path / "b.zip").exists()
