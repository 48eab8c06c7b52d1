"""Synthetic court exports: obviously fictional people for rehearsals, demos and benchmarks.

Every name is made up and plainly so, and every phone number is an Ofcom drama number
(07700 900001 to 07700 900999; 900000 is left for a trial's own sender). Two of them are
reserved by the console provider's fake callbacks for failed deliveries (see
messages/providers/fake_callbacks.py), and `failing_share` sends that share of people there.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from nudge.csvout import write_rows

COLUMNS = (
    "participant_ref",
    "case_ref",
    "role",
    "first_name",
    "last_name",
    "phone",
    "address_line_1",
    "address_line_2",
    "postcode",
    "language",
    "contact_sms",
    "contact_letter",
    "safeguarding_flag",
    "court",
    "court_name",
    "hearing_start",
    "age",
    "age_band",
    "vulnerable",
    "prior_fta",
)
FIRST_NAMES = ("Testy", "Fakey", "Dummeline", "Samplina", "Mockwell", "Placeholda", "Examplia")
LAST_NAMES = ("McTestface", "Fakington", "Dummerson", "Exampleton", "Pretendworth", "Notreal")
DEMO_COURTS = (
    ("EXC", "Exampleton Crown Court"),
    ("SMC", "Sampleford Magistrates' Court"),
    ("TCC", "Testbury Crown Court"),
    ("FMC", "Fictionshire Magistrates' Court"),
    ("MCC", "Mockington Crown Court"),
)
FAILING_NUMBERS = ("07700 900002", "07700 900003")
HEARING_TIMES = ("10:00", "10:00", "14:00")


@dataclass(frozen=True)
class ExportShape:
    """What a synthetic export looks like: where, when, and how many people share a case."""

    first_hearing: date
    hearing_days: int
    courts: tuple[tuple[str, str], ...] = DEMO_COURTS
    people_per_case: float = 1.6
    failing_share: float = 0.0
    weekdays_only: bool = True


def write_export(path: Path, size: int, shape: ExportShape, seed: int = 1) -> Path:
    """Write `size` fictional people to a CSV in the enrolment export's columns."""
    rng = random.Random(seed)
    cases = max(1, int(size / shape.people_per_case))
    dates = _hearing_dates(shape)

    def people() -> Iterator[list[object]]:
        for i in range(size):
            case = i if i < cases else rng.randrange(cases)
            yield _person(rng, i, case, shape, dates)

    with path.open("w", newline="", encoding="utf-8") as handle:
        write_rows(handle, COLUMNS, people())
    return path


def _hearing_dates(shape: ExportShape) -> list[date]:
    days = (shape.first_hearing + timedelta(days=d) for d in range(shape.hearing_days))
    return [d for d in days if not shape.weekdays_only or d.weekday() < 5]


def _person(
    rng: random.Random, i: int, case: int, shape: ExportShape, dates: list[date]
) -> list[object]:
    # A case's hearing, court and time follow from the case number, so people sharing a case
    # share a hearing.
    case_rng = random.Random(case * 7919 + 17)
    code, court_name = shape.courts[case % len(shape.courts)]
    hearing = f"{case_rng.choice(dates).isoformat()}T{case_rng.choice(HEARING_TIMES)}"
    age = rng.randrange(16, 90)
    return [
        f"P{i:07d}",
        f"K{case:07d}",
        rng.choices(("victim", "witness", "expert"), (35, 60, 5))[0],
        rng.choice(FIRST_NAMES),
        rng.choice(LAST_NAMES),
        _phone(rng, shape.failing_share),
        f"{1 + i % 200} Example Street",
        "Exampletown",
        "BS1 1AA",
        "cy" if rng.random() < 0.05 else "en",
        "yes" if rng.random() < 0.9 else "no",
        "yes",
        "yes" if rng.random() < 0.05 else "no",
        code,
        court_name,
        hearing,
        age,
        "18-34" if age < 35 else "35-54" if age < 55 else "55+",
        "yes" if rng.random() < 0.2 else "no",
        "yes" if rng.random() < 0.15 else "no",
    ]


def _phone(rng: random.Random, failing_share: float) -> str:
    if rng.random() < failing_share:
        return rng.choice(FAILING_NUMBERS)
    return f"07700 900{rng.randrange(1, 1000):03d}"
