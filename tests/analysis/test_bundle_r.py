"""The bundle's reproduce.R, run with Rscript: estimatr gives Nudge's primary table to 1e-6.

These tests run R itself, because the R script is what the bundle ships. Where Rscript or its
packages (estimatr, jsonlite) are missing they are skipped with the reason, except in CI
(`CI=true`), which installs R (.ci/run) and so must run them.
"""

from __future__ import annotations

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

from analysis.bundle import FrozenVersion, assemble_bundle, write_zip
from analysis.frame import frame_from_csv
from experiments.loader import LoadedTrial, load_trial_file
from nudge.cli import main
from tests.analysis.conftest import REFERENCE

DEMO_TRIAL = "witness-reminders-2027"
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
