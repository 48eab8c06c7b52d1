"""Simulate the small cluster-randomised 3-arm trial used as the R reference data set.

Run from the repository root: ``uv run python tests/analysis/reference/make_data.py``.
It writes ``trial.csv`` beside this file; ``make_reference.R`` reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240611
N_HOUSEHOLDS = 700
ARMS = ("control", "sms", "letter")
COURTS = ("north", "south", "east")
ROLES = ("victim", "witness", "other")


def simulate(seed: int = SEED) -> pd.DataFrame:
    """Return one row per participant; households are the randomisation clusters."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 4, 6], size=N_HOUSEHOLDS, p=[0.55, 0.25, 0.1, 0.07, 0.03])
    court_of_household = rng.choice(COURTS, size=N_HOUSEHOLDS, p=[0.5, 0.3, 0.2])
    arm_of_household = np.empty(N_HOUSEHOLDS, dtype=object)
    for court in COURTS:
        idx = np.flatnonzero(court_of_household == court)
        labels = np.resize(np.array(ARMS, dtype=object), idx.size)
        arm_of_household[idx] = rng.permutation(labels)
    household = np.repeat(np.arange(1, N_HOUSEHOLDS + 1), sizes)
    n = household.size
    arm = arm_of_household[household - 1]
    court = court_of_household[household - 1]
    age = np.round(rng.normal(41, 14, n).clip(16, 90), 0)
    prior_fta = rng.binomial(1, 0.2, n)
    role = rng.choice(ROLES, size=n, p=[0.45, 0.4, 0.15])
    household_effect = rng.normal(0, 0.6, N_HOUSEHOLDS)[household - 1]
    delivered = np.where(arm == "control", 0, rng.binomial(1, 0.8, n))
    court_effect = pd.Series(court).map({"north": 0.0, "south": 0.3, "east": -0.2}).to_numpy()
    logit = (
        0.2
        + 0.6 * delivered * (arm == "sms")
        + 0.35 * delivered * (arm == "letter")
        + 0.01 * (age - 40)
        - 0.8 * prior_fta
        + 0.25 * (role == "witness")
        + court_effect
        + household_effect
    )
    attended = rng.binomial(1, 1 / (1 + np.exp(-logit)))
    return pd.DataFrame(
        {
            "household": household,
            "court": court,
            "arm": arm,
            "age": age.astype(int),
            "prior_fta": prior_fta,
            "role": role,
            "delivered": delivered,
            "attended": attended,
        }
    )


if __name__ == "__main__":
    out = Path(__file__).with_name("trial.csv")
    simulate().to_csv(out, index=False)
    print(f"wrote {out}")
