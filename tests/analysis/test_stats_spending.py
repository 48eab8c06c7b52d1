"""Lan–DeMets alpha-spending boundaries against R's rpact, and the rules a plan relies on.

Reference values: tests/analysis/reference/spending/reference.json, written by
make_reference.R (rpact's getDesignGroupSequential with typeOfDesign "asOF" or "asP", the
sidedness and information rates given); versions in the JSON. Tolerance: 1e-6 absolute on
each critical value (rpact solves to about 1e-8) and 1e-7 on the alpha spent by each look.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from analysis.stats.spending import boundaries, spent

HERE = Path(__file__).parent / "reference" / "spending"
REFERENCE = json.loads((HERE / "reference.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("design", REFERENCE["designs"], ids=lambda d: d["name"])
def test_boundaries_match_rpact(design: dict[str, Any]) -> None:
    looks = boundaries(design["fractions"], design["alpha"], design["spending"], design["sides"])
    assert [look.critical for look in looks] == pytest.approx(design["critical"], abs=1e-6)
    assert [look.cumulative_alpha for look in looks] == pytest.approx(
        design["alpha_spent"], abs=1e-7
    )


def test_the_whole_alpha_is_spent_by_the_last_look_and_no_more() -> None:
    """Simulated under no effect, a two-sided four-look O'Brien–Fleming design rejects at
    some look in 5% of trials: the boundaries keep the plan's alpha over all looks."""
    fractions = [0.25, 0.5, 0.75, 1.0]
    looks = boundaries(fractions, 0.05, "obrien_fleming", 2)
    rng = np.random.default_rng(20270201)
    steps = rng.standard_normal((400_000, 4)) * np.sqrt(np.diff([0.0, *fractions]))
    z = np.cumsum(steps, axis=1) / np.sqrt(fractions)
    crossed = (np.abs(z) >= [look.critical for look in looks]).any(axis=1).mean()
    # 400,000 trials: the standard error of a 5% rate is 0.00034.
    assert crossed == pytest.approx(0.05, abs=0.0015)
    # Looking at every look with the nominal 1.96 instead would reject far more often.
    assert (np.abs(z) >= stats.norm.isf(0.025)).any(axis=1).mean() > 0.10


def test_obrien_fleming_spends_little_early_and_pocock_evenly() -> None:
    early_obf = spent(0.5, 0.05, "obrien_fleming", 2)
    early_pocock = spent(0.5, 0.05, "pocock", 2)
    assert early_obf < 0.01 < early_pocock
    assert spent(1.0, 0.05, "obrien_fleming", 2) == pytest.approx(0.05, abs=1e-12)
    assert spent(1.0, 0.05, "pocock", 2) == pytest.approx(0.05, abs=1e-12)


def test_a_look_past_the_designed_sample_spends_what_is_left_not_more() -> None:
    looks = boundaries([0.5, 1.3], 0.05, "obrien_fleming", 2)
    assert looks[-1].fraction == 1.0
    assert looks[-1].cumulative_alpha == pytest.approx(0.05, abs=1e-12)


@pytest.mark.parametrize("fractions", [[], [0.0, 1.0], [0.6, 0.4], [0.5, 0.5], [-0.1, 1.0]])
def test_fractions_must_increase_from_above_zero(fractions: list[float]) -> None:
    with pytest.raises(ValueError, match="increase"):
        boundaries(fractions, 0.05, "pocock", 2)
