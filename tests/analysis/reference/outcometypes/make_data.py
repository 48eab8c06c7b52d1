"""Simulate the survey-outcome data set used as the R reference for outcomes that are not yes/no.

Run from the repository root:
``uv run python tests/analysis/reference/outcometypes/make_data.py``.
It writes ``outcomes.csv`` beside this file; ``make_reference.R`` reads it.

One row per randomised victim in three arms (control, sms, letter), randomised by officer
(60 officers, 20 per arm, 8 to 22 victims each) so the same rows serve the unclustered and the
clustered analyses; a stratum (court: north, south, west) and a covariate (age). Outcomes, blank
when not observed:
- `confidence`: an answer on a 1-5 scale, shifted up by the reminders, with an officer effect;
  response differs by arm (control about 62%, sms about 78%, letter about 66%), and people
  who would answer low answer less often, so the complete cases are selected;
- `contacts`: a count (overdispersed: a gamma-mixed Poisson), lower with the reminders;
- `wait_minutes`: a measurement, skewed, with a few not observed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261205
ARMS = ("control", "sms", "letter")
OFFICERS_PER_ARM = 20
SHIFT = {"control": 0.0, "sms": 0.45, "letter": 0.2}
RESPONSE = {"control": 0.62, "sms": 0.78, "letter": 0.66}
CONTACT_RATE = {"control": 2.2, "sms": 1.7, "letter": 2.0}


def simulate(seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    officer_arm = rng.permutation(np.repeat(np.array(ARMS, dtype=object), OFFICERS_PER_ARM))
    sizes = rng.integers(8, 23, officer_arm.size)
    officer = np.repeat(np.arange(officer_arm.size), sizes)
    arm = officer_arm[officer]
    n = officer.size
    court = rng.choice(np.array(["north", "south", "west"], dtype=object), n)
    age = rng.integers(18, 86, n)
    officer_effect = rng.normal(0.0, 0.35, officer_arm.size)[officer]
    shift = pd.Series(arm).map(SHIFT).to_numpy()
    latent = 0.006 * (age - 50) + (court == "south") * 0.3 + shift + officer_effect
    latent = latent + rng.logistic(0.0, 1.0, n)
    confidence = np.digitize(latent, [-1.8, -0.6, 0.6, 1.8]) + 1
    respond = pd.Series(arm).map(RESPONSE).to_numpy() + 0.05 * (confidence - 3)
    answered = rng.random(n) < respond
    rate = pd.Series(arm).map(CONTACT_RATE).to_numpy() * np.exp(0.004 * (age - 50))
    contacts = rng.poisson(rate * rng.gamma(2.0, 0.5, n))
    wait = np.round(rng.lognormal(3.2 - 0.1 * (arm != "control"), 0.6, n), 1)
    frame = pd.DataFrame(
        {
            "participant_ref": [f"V{i + 1:04d}" for i in range(n)],
            "arm": arm,
            "officer": [f"officer-{o + 1:02d}" for o in officer],
            "court": court,
            "age": age,
            "confidence": np.where(answered, confidence.astype(str), ""),
            "contacts": contacts.astype(str),
            "wait_minutes": wait.astype(str),
        }
    )
    gaps = rng.random(n)
    frame.loc[gaps < 0.04, "contacts"] = ""
    frame.loc[(gaps >= 0.04) & (gaps < 0.07), "wait_minutes"] = ""
    return frame


if __name__ == "__main__":
    simulate().to_csv(Path(__file__).with_name("outcomes.csv"), index=False)
