"""Simulate the small awkward-but-ordinary trials used as R references for issue 15.

Run from the repository root: ``uv run python tests/analysis/reference/awkward/make_data.py``.
It writes four CSV files beside this file; ``make_reference.R`` reads them and writes
``reference.json``. Every value is drawn from a seeded generator, so a re-run gives the same
files byte for byte.

* ``aliased.csv``: a household-randomised 3-arm trial stratified by court, with covariates a
  careful analyst might list: ``court_cov`` (the stratum again), ``age_months`` (12 * age + 6),
  ``court_size`` (fixed within each court), ``hearing_date`` (YYYYMMDD, ~2.0e7 with a spread
  of a few hundred) and ``district`` (a four-digit postcode district number), and a second
  outcome ``attended_steep`` that rises steeply with the district number.
* ``few_units.csv``: a case-randomised trial where one arm is a single case of six people and
  another has only five cases.
* ``cace.csv``: a household-randomised trial with two delivery records: ``delivered_one_sided``
  (nobody in control reached, nobody in the letter arm reached) and ``delivered_two_sided``
  (some control participants recorded as reached).
* ``subgroups.csv``: a participant-randomised trial with subgroups where the letter arm is
  missing from the reference level of ``region``, the outcome is constant within
  ``role == other``, and the letter arm has a single participant with ``language == cy``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
SEED = 20270115
ARMS = np.array(["control", "sms", "letter"])
COURTS = np.array(["north", "south", "east", "west"])


def _attended(rng: np.random.Generator, logit: np.ndarray) -> np.ndarray:
    return rng.binomial(1, 1.0 / (1.0 + np.exp(-logit)))


def aliased(rng: np.random.Generator) -> pd.DataFrame:
    households = 300
    sizes = rng.choice([1, 2, 3], size=households, p=[0.5, 0.3, 0.2])
    court_of = rng.choice(COURTS, size=households, p=[0.35, 0.3, 0.2, 0.15])
    arm_of = np.empty(households, dtype=object)
    for court in COURTS:
        idx = np.flatnonzero(court_of == court)
        arm_of[idx] = rng.permutation(np.resize(ARMS, idx.size))
    household = np.repeat(np.arange(1, households + 1), sizes)
    n = household.size
    court = court_of[household - 1]
    arm = arm_of[household - 1]
    age = np.round(rng.normal(40, 13, n).clip(17, 85))
    day = rng.integers(0, 365, n)
    dates = pd.Timestamp("2026-01-05") + pd.to_timedelta(day, unit="D")
    size = pd.Series(court).map({"north": 120, "south": 85, "east": 60, "west": 40}).to_numpy()
    district = rng.integers(2000, 2100, n)
    delivered = np.where(arm == "control", 0, rng.binomial(1, 0.8, n))
    logit = (
        0.1
        + 0.5 * delivered * (arm == "sms")
        + 0.3 * delivered * (arm == "letter")
        + 0.015 * (age - 40)
        + 0.002 * (day - 180)
        + 0.004 * (district - 2050)
        + 0.004 * (size - 80)
        + rng.normal(0, 0.5, households)[household - 1]
    )
    # A second outcome that rises steeply with the district number, so that the intercept of
    # a model on the raw number is below -20 log-odds (drawn from its own generator so the
    # other data sets do not change).
    steep = np.random.default_rng(SEED + 1)
    district_logit = 0.3 * (arm == "sms") + 0.02 * (district - 2050)
    return pd.DataFrame(
        {
            "household": household,
            "arm": arm,
            "court": court,
            "court_cov": court,
            "age": age,
            "age_months": 12 * age + 6,
            "court_size": size,
            "hearing_date": dates.strftime("%Y%m%d").astype(int),
            "district": district,
            "delivered": delivered,
            "attended": _attended(rng, logit),
            "attended_steep": _attended(steep, district_logit),
        }
    )


def few_units(rng: np.random.Generator) -> pd.DataFrame:
    cases = {"control": [3] * 12, "sms": [3] * 12, "letter": [6], "post": [3] * 5}
    rows = []
    number = 0
    for arm, sizes in cases.items():
        for size in sizes:
            number += 1
            rows += [(f"C{number:03d}", arm)] * size
    frame = pd.DataFrame(rows, columns=["case", "arm"])
    effect = frame["arm"].map({"control": 0.0, "sms": 0.4, "letter": 1.5, "post": 0.2})
    case_effect = rng.normal(0, 0.6, number)[frame["case"].str[1:].astype(int) - 1]
    frame["attended"] = _attended(rng, -0.2 + effect.to_numpy() + case_effect)
    # The single letter case: everyone attended, so today's model gives a tight interval.
    frame.loc[frame["arm"] == "letter", "attended"] = 1
    return frame


def cace(rng: np.random.Generator) -> pd.DataFrame:
    households = 260
    sizes = rng.choice([1, 2], size=households, p=[0.6, 0.4])
    arm_of = rng.permutation(np.resize(ARMS, households))
    court_of = rng.choice(COURTS[:3], size=households)
    household = np.repeat(np.arange(1, households + 1), sizes)
    n = household.size
    arm = arm_of[household - 1]
    age = np.round(rng.normal(42, 12, n).clip(17, 85))
    reached = rng.binomial(1, 0.75, n)
    one_sided = np.where(arm == "sms", reached, 0)
    two_sided = np.where(arm == "control", rng.binomial(1, 0.08, n), reached)
    logit = -0.1 + 0.7 * two_sided + 0.01 * (age - 42)
    logit += rng.normal(0, 0.4, households)[household - 1]
    return pd.DataFrame(
        {
            "household": household,
            "arm": arm,
            "court": court_of[household - 1],
            "age": age,
            "delivered_one_sided": one_sided,
            "delivered_two_sided": two_sided,
            "attended": _attended(rng, logit),
        }
    )


def subgroups(rng: np.random.Generator) -> pd.DataFrame:
    n = 480
    arm = rng.permutation(np.resize(ARMS, n))
    court = rng.choice(COURTS[:3], size=n)
    region = rng.choice(["a", "b", "c"], size=n)
    # Letters went out late in region a: nobody there is in the letter arm.
    region = np.where((arm == "letter") & (region == "a"), rng.choice(["b", "c"], size=n), region)
    role = rng.choice(["victim", "witness", "other"], size=n, p=[0.45, 0.4, 0.15])
    language = np.where(arm == "letter", "en", rng.choice(["en", "cy"], size=n, p=[0.9, 0.1]))
    language[np.flatnonzero(arm == "letter")[0]] = "cy"
    age = np.round(rng.normal(40, 12, n).clip(17, 85))
    logit = 0.2 + 0.4 * (arm == "sms") + 0.2 * (arm == "letter") + 0.01 * (age - 40)
    logit += 0.5 * (region == "c") * (arm == "sms")
    attended = _attended(rng, logit)
    attended[role == "other"] = 1
    return pd.DataFrame(
        {
            "participant": [f"P{i:04d}" for i in range(n)],
            "arm": arm,
            "court": court,
            "region": region,
            "role": role,
            "language": language,
            "age": age,
            "attended": attended,
        }
    )


def main() -> None:
    rng = np.random.default_rng(SEED)
    for name, make in (
        ("aliased", aliased),
        ("few_units", few_units),
        ("cace", cace),
        ("subgroups", subgroups),
    ):
        make(rng).to_csv(HERE / f"{name}.csv", index=False)


if __name__ == "__main__":
    main()
