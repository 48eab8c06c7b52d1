"""Simulate the withdrawal data set used as the R reference for time to withdrawal.

Run from the repository root:
``uv run python tests/analysis/reference/survival/make_withdrawals.py``.
It writes ``withdrawal.csv`` beside this file; ``make_reference.R`` reads it.

One row per randomised victim in three arms, as an outcome import leaves them: `withdrew`
(1/0, blank if not observed), `withdrew_on` and `charged_on` (YYYY-MM-DD, blank if not known).
Charges fall through 2026 and the analysis date is 2027-03-31, so people charged late are
followed for less than 180 days; days are whole, so many times are tied; some withdraw after
180 days, some withdrawals have no date, some people have no charge date, and a few outcomes
are not observed. Each of these is left out or censored by the rule in
docs/analysis-methods.md ("Time to the event"), which make_reference.R applies on its own.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20270124
N = 720
ARMS = ("control", "sms", "letter")
# Daily hazard of withdrawing: control highest, so the reminders lower withdrawal.
HAZARD = {"control": 1 / 600, "sms": 1 / 900, "letter": 1 / 750}
FIRST_CHARGE = date(2026, 1, 1)
AS_OF = date(2027, 3, 31)


def simulate(seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.permutation(np.resize(np.array(ARMS, dtype=object), N))
    charged = [FIRST_CHARGE + timedelta(days=int(d)) for d in rng.integers(0, 365, N)]
    hazard = pd.Series(arm).map(HAZARD).to_numpy()
    # Whole days after the charge (0 = the day of the charge): ties throughout.
    delay = np.floor(rng.exponential(1 / hazard)).astype(int)
    rows = []
    for i in range(N):
        followed = (AS_OF - charged[i]).days
        withdrew = delay[i] <= followed
        day = charged[i] + timedelta(days=int(delay[i]))
        rows.append(
            {
                "participant_ref": f"V{i + 1:04d}",
                "arm": arm[i],
                "withdrew": "1" if withdrew else "0",
                "withdrew_on": day.isoformat() if withdrew else "",
                "charged_on": charged[i].isoformat(),
            }
        )
    frame = pd.DataFrame(rows)
    gaps = rng.random(N)
    frame.loc[(gaps < 0.03) & (frame["withdrew"] == "1"), "withdrew_on"] = ""
    frame.loc[(gaps >= 0.03) & (gaps < 0.05), "charged_on"] = ""
    frame.loc[(gaps >= 0.05) & (gaps < 0.07), ["withdrew", "withdrew_on"]] = ""
    return frame


if __name__ == "__main__":
    target = Path(__file__).with_name("withdrawal.csv")
    simulate().to_csv(target, index=False)
    print(f"wrote {target}")
