"""The bundle's reproduce.R, run with Rscript: estimatr gives Nudge's primary table to 1e-6.

These tests run R itself, because the R script is what the bundle ships. Where Rscript or its
packages (estimatr, jsonlite) are missing they are skipped with the reason, except in CI
(`CI=true`), which installs R (.ci/run) and so must run them.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlmodel import Session

from analysis.bundle import PRIMARY_FIELDS, FrozenVersion, assemble_bundle, build_bundle, write_zip
from analysis.concurrent import OPEN_ARMS
from analysis.frame import frame_from_csv
from analysis.report import report_json
from experiments.enrol import enrol_file
from experiments.loader import LoadedTrial, load_trial_file
from messages.pausing import pause
from nudge.cli import main
from nudge.clock import FixedClock
from tests.analysis.conftest import REFERENCE
from tests.experiments.test_paused_arm_exclusion import COURTS, excluding
from tests.factories import launch, person, write_people
from tests.trial_factories import assigned_arms, record_outcomes

DEMO_TRIAL = EXAMPLE_TRIAL = "witness-reminders-2027"
MEASURES = ("estimate", "std_error", "ci_low", "ci_high", "p_value")
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def rscript() -> str:
    """Rscript with estimatr and jsonlite, or a skip (a failure in CI) saying what is missing."""
    found = shutil.which("Rscript")
    reason = None
    if found is None:
        reason = "Rscript is not installed"
    else:
        check = subprocess.run(
            [found, "-e", "library(estimatr); library(jsonlite)"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            reason = "R lacks the estimatr or jsonlite package"
    if reason is None:
        assert found is not None
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}, but CI must run the bundle's R script (.ci/run installs R)")
    pytest.skip(f"{reason}: the reproduction bundle's R script cannot be run here")


def run_bundle(rscript: str, zipped: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Unzip, run `Rscript reproduce.R` inside the folder; R's output and both tables."""
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(zipped.parent)
        folder = zipped.parent / archive.namelist()[0].split("/")[0]
    result = subprocess.run(
        [rscript, "reproduce.R"], cwd=folder, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    r_table = json.loads((folder / "r_primary.json").read_text())
    nudge = json.loads((folder / "nudge_primary.json").read_text())
    return result.stdout, r_table, nudge


def assert_same_table(r_table: dict[str, Any], nudge: dict[str, Any]) -> None:
    ours = {e["arm"]: e for e in nudge["estimates"]}
    assert {e["arm"] for e in r_table["estimates"]} == set(ours)
    for theirs in r_table["estimates"]:
        for measure in MEASURES:
            assert ours[theirs["arm"]][measure] is not None, (theirs["arm"], measure)
            assert theirs[measure] == pytest.approx(ours[theirs["arm"]][measure], abs=TOLERANCE), (
                theirs["arm"],
                measure,
            )


def test_the_demo_trials_bundle_reproduces_nudges_primary_table_in_r(
    rscript: str, tmp_path: Path
) -> None:
    folder = tmp_path / "demo"
    runner = CliRunner()
    made = runner.invoke(main, ["demo", "--no-serve", "--size", "300", "--dir", str(folder)])
    assert made.exit_code == 0, made.output
    env = {"NUDGE_DATABASE_URL": f"sqlite:///{folder / 'nudge-demo.db'}"}
    zipped = tmp_path / "bundle.zip"
    result = runner.invoke(
        main, ["analyse", DEMO_TRIAL, "--json", "--bundle", str(zipped)], env=env
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    output, r_table, nudge = run_bundle(rscript, zipped)
    primary = next(o for o in report["outcomes"] if o["primary"])
    for estimate, comparison in zip(nudge["estimates"], primary["comparisons"], strict=True):
        assert estimate["estimate"] == comparison["adjusted_risk_difference"]
    assert_same_table(r_table, nudge)
    assert r_table["n"] == nudge["analysed"]  # the demo's covariates have no gaps
    assert "R and Nudge agree to within 1e-06" in output
    assert "clusters = unit" in output and "Largest absolute difference" in output


AWKWARD = """
id: awkward
title: A design with gaps, a population and a constant covariate
timezone: Europe/London
population: {{unit: {unit}, strata: [court]}}
arms:
  - {{id: sms, title: SMS reminder}}
  - {{id: control, title: Business as usual, control: true}}
  - {{id: letter, title: Letter}}
outcomes:
  - {{id: attended, primary: true, population: {{field: court, in: [north, South]}}}}
analysis:
  covariates: [age, prior_fta, role, constant]
  missing: {missing}
  correction: none
  columns: {{age: numeric, prior_fta: flag, role: categorical, constant: numeric}}
"""


def awkward_bundle(
    tmp_path: Path, unit: str, missing: str, extra: dict[str, str] | None = None
) -> Path:
    """The reference trial with gaps in a numeric and a categorical covariate, a population
    rule that matches regardless of case, control not the first arm and a constant covariate,
    bundled as a zip."""
    data = pd.read_csv(REFERENCE / "trial.csv")
    data.insert(0, "participant_ref", [f"R{i:05d}" for i in range(len(data))])
    gaps = np.random.default_rng(3)
    for name in ("age", "role"):
        data[name] = data[name].astype(object).mask(gaps.random(len(data)) < 0.1, "")
    data["constant"] = 1
    data["filed"] = 20270101 + np.arange(len(data)) % 28  # a date as YYYYMMDD
    data.to_csv(tmp_path / "awkward.csv", index=False)
    text = AWKWARD.format(unit=unit, missing=missing)
    for name, kind in (extra or {}).items():
        text = text.replace("role, constant", f"role, constant, {name}").replace(
            "constant: numeric", f"constant: numeric, {name}: {kind}"
        )
    (tmp_path / "awkward.yaml").write_text(text)
    loaded = load_trial_file(tmp_path / "awkward.yaml")
    assert isinstance(loaded, LoadedTrial), loaded
    frame = frame_from_csv(tmp_path / "awkward.csv", loaded.definition)
    frozen = FrozenVersion(1, "0" * 64, seed_concealed=False)
    bundle = assemble_bundle(frame, loaded.definition, frozen, built_at=datetime.now(UTC))
    zipped = tmp_path / "awkward.zip"
    with zipped.open("wb") as handle:
        write_zip(bundle, handle)
    return zipped


@pytest.mark.parametrize(("unit", "missing"), [("participant", "indicator"), ("household", "drop")])
def test_an_awkward_designs_bundle_reproduces_in_r(
    rscript: str, tmp_path: Path, unit: str, missing: str
) -> None:
    """Under both `missing:` rules, unclustered and clustered on a custom unit."""
    output, r_table, nudge = run_bundle(rscript, awkward_bundle(tmp_path, unit, missing))
    assert_same_table(r_table, nudge)
    assert "covariate(s) constant constant in the analysed rows: dropped" in nudge["notes"]
    assert ("clusters = unit" in output) == (unit != "participant")


def test_a_design_with_aliased_and_offset_covariates_reproduces_in_r(
    rscript: str, tmp_path: Path
) -> None:
    """The stratum listed again as a covariate, and a date as YYYYMMDD: Nudge drops the aliased
    court columns as R does and keeps the date, so both give the primary table."""
    extra = {"court": "categorical", "filed": "numeric"}
    zipped = awkward_bundle(tmp_path, "household", "drop", extra=extra)
    output, r_table, nudge = run_bundle(rscript, zipped)
    assert_same_table(r_table, nudge)
    assert any("covariate court left out of the models" in note for note in nudge["notes"])
    assert "filed" in nudge["covariates_used"]


def test_the_r_script_exits_1_when_r_and_nudge_differ(rscript: str, tmp_path: Path) -> None:
    zipped = awkward_bundle(tmp_path, "participant", "drop")
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(tmp_path)
        folder = tmp_path / archive.namelist()[0].split("/")[0]
    shipped = json.loads((folder / "nudge_primary.json").read_text())
    shipped["estimates"][0]["std_error"] += 1e-5
    (folder / "nudge_primary.json").write_text(json.dumps(shipped))
    result = subprocess.run(
        [rscript, str(folder / "reproduce.R")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Largest absolute difference: 1e-05" in result.stdout
    assert "R and Nudge DIFFER by more than 1e-06" in result.stdout


def enrol_varied(session: Session, clock: FixedClock, path: Path, numbers: range) -> None:
    """People of every court, age band and role, some vulnerable, some who missed court before:
    the covariates vary, so each comparison's model adjusts for them."""
    rows = [
        person(
            n,
            court=COURTS[n % 4],
            age_band=("18-34", "35-54", "55+")[n % 3],
            role="victim" if n % 4 == 1 else "witness",
            vulnerable="yes" if n % 5 == 0 else "no",
            prior_fta="yes" if n % 7 < 2 else "no",
        )
        for n in numbers
    ]
    enrol_file(session, clock, EXAMPLE_TRIAL, write_people(path, rows), "test")
    session.commit()


def test_after_an_excluded_pause_the_bundle_reproduces_each_concurrent_comparison_in_r(
    rscript: str,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    example_dir: Path,
) -> None:
    """Social norm paused and closed to new participants half-way: the bundle carries each
    person's open arms, and R compares each arm with only the controls allocated while both
    were open, giving the results page's figures."""
    launch(session, clock, excluding(example_dir))
    enrol_varied(session, clock, tmp_path / "first.csv", range(1, 161))
    pause(session, clock, EXAMPLE_TRIAL, "social_norm", "DMC review", "dmc")
    session.commit()
    enrol_varied(session, clock, tmp_path / "second.csv", range(161, 321))
    record_outcomes(session, clock, tmp_path / "outcomes.csv", assigned_arms(session), 11, 0.9)
    bundle = build_bundle(session, EXAMPLE_TRIAL, built_at=clock.now())
    zipped = tmp_path / "paused.zip"
    with zipped.open("wb") as handle:
        write_zip(bundle, handle)
    # The analysis file says, pseudonymised as the rest, which arms were open for each person.
    rows = pd.read_csv(io.BytesIO(bundle.files["analysis.csv"]), dtype=str, keep_default_na=False)
    assert set(rows[OPEN_ARMS]) == {"", "control,practical"}
    assert json.loads(bundle.files["model.json"])["concurrent"] is True
    output, r_table, nudge = run_bundle(rscript, zipped)
    assert_same_table(r_table, nudge)
    # Nudge's figures in the bundle are the report's: each comparison on its concurrent people.
    primary = next(o for o in report_json(bundle.report)["outcomes"] if o["primary"])
    page = {c["arm"]: c for c in primary["comparisons"]}
    for estimate in r_table["estimates"]:
        shown = page[estimate["arm"]]
        for measure, key in PRIMARY_FIELDS.items():
            assert estimate[measure] == pytest.approx(shown[key], abs=TOLERANCE), measure
    # Each of R's models analysed exactly the people Nudge's comparison did, and social norm's
    # left out the controls allocated while it was closed.
    counts = {c["arm"]: c for c in primary["concurrent"]}
    for estimate in r_table["estimates"]:
        used = counts[estimate["arm"]]
        assert estimate["n"] == used["arm_analysed"] + used["control_analysed"]
    assert counts["social_norm"]["control_left_out"] > 0
    assert counts["practical"]["control_left_out"] == 0
    everyone = sum(arm["n"] for arm in primary["arms"] if arm["arm"] in ("control", "social_norm"))
    assert r_table["estimates"][1]["arm"] == "social_norm"
    assert r_table["estimates"][1]["n"] < everyone
    assert "social_norm against control, allocated while both were open:" in output
    assert "+ age_band + vulnerable + prior_fta + role" in output
    assert "R and Nudge agree to within 1e-06" in output
