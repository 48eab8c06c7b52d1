"""Fixtures for the statistics tests: the R reference values and the simulated trial."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.stats.design import DesignMatrix, build_design

REFERENCE = Path(__file__).parent / "reference"
FACTORS = {"arm": ("control", "sms", "letter"), "role": ("victim", "witness", "other")}
FACTORS["court"] = ("north", "south", "east")


@pytest.fixture(scope="session")
def stats_reference() -> dict[str, Any]:
    """Values computed by reference/make_reference.R (see its header for versions)."""
    return json.loads((REFERENCE / "reference.json").read_text())


@pytest.fixture(scope="session")
def awkward() -> dict[str, Any]:
    """Values computed by reference/awkward/make_reference.R for its awkward trials."""
    return json.loads((REFERENCE / "awkward" / "reference.json").read_text())


@pytest.fixture(scope="session")
def reference_trial() -> pd.DataFrame:
    """The simulated cluster-randomised trial (reference/trial.csv) with R's factor levels."""
    frame = pd.read_csv(REFERENCE / "trial.csv")
    for name, levels in FACTORS.items():
        frame[name] = pd.Categorical(frame[name], categories=list(levels))
    frame["recv_sms"] = ((frame["arm"] == "sms") & (frame["delivered"] == 1)).astype(int)
    frame["recv_letter"] = ((frame["arm"] == "letter") & (frame["delivered"] == 1)).astype(int)
    return frame


@pytest.fixture(scope="session")
def reference_design(reference_trial: pd.DataFrame) -> DesignMatrix:
    """The design of R's ``attended ~ arm + age + prior_fta + role + court``."""
    return build_design(
        reference_trial,
        arm="arm",
        control="control",
        covariates=["age", "prior_fta", "role"],
        strata="court",
        outcome="attended",
    )
