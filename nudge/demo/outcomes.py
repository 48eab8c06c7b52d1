"""Simulated outcomes with a known true effect, written as the court's outcomes file.

Each randomised person whose hearing went ahead attends with probability
    p = base + effect[arm] * reached,
where `base` depends on their covariates (lower after a previous failure to attend, or when
vulnerable) and `reached` is 1 when at least one of the arm's messages reached them (a text
delivered or a letter posted, as the analysis defines it). So the true effect of being
reached is `effect[arm]`, and the true effect of being *assigned* to the arm (the intention-
to-treat effect the primary analysis estimates) is `effect[arm]` times the share reached.
Victims' withdrawal works the same way with its own effects. About 2% of outcomes are not
observed; a vacated hearing has no attendance to observe.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from analysis.frame import frame_from_db
from nudge.csvout import write_rows
from nudge.models import Case, Hearing, HearingStatus, Participant

# The true effects on attendance and withdrawal of being reached by each arm's messages.
ATTENDANCE_EFFECT = {"control": 0.0, "practical": 0.10, "social_norm": 0.06}
WITHDRAWAL_EFFECT = {"control": 0.0, "practical": -0.03, "social_norm": -0.06}
UNOBSERVED = 0.02


@dataclass(frozen=True)
class TrueEffect:
    """An arm's true effects on the primary outcome, and the share of it the messages reached."""

    arm: str
    per_reached: float
    reached_share: float

    @property
    def assignment(self) -> float:
        """The intention-to-treat effect: what the adjusted risk difference estimates."""
        return self.per_reached * self.reached_share


def attendance_base(row: Mapping[Any, Any]) -> float:
    """A person's chance of attending without any reminder."""
    base = 0.74 - 0.14 * row["prior_fta"] - 0.06 * row["vulnerable"]
    return float(base + (0.04 if row["age_band"] == "55+" else 0.0))


def simulate_outcomes(
    session: Session, trial_id: str, path: Path, rng: random.Random
) -> list[TrueEffect]:
    """Write the outcomes CSV for `trial_id`; return each treatment arm's true effect."""
    frame = frame_from_db(session, trial_id)
    refs = _case_refs_and_status(session, trial_id)
    observed: list[tuple[str, float]] = []
    rows: list[list[str]] = []
    for record in frame.to_dict("records"):
        case_ref, status = refs[record["participant_ref"]]
        arm, reached = str(record["arm"]), float(record["delivered"])
        base = attendance_base(record)
        attended = _draw(rng, base, ATTENDANCE_EFFECT[arm], reached)
        withdrew = _draw(rng, 0.25, WITHDRAWAL_EFFECT[arm], reached)
        if status == HearingStatus.VACATED or rng.random() < UNOBSERVED:
            attended = ""
        else:
            observed.append((arm, reached))
        if record["role"] != "victim":
            withdrew = ""
        rows.append([record["participant_ref"], case_ref, attended, withdrew])
    with path.open("w", newline="", encoding="utf-8") as handle:
        write_rows(handle, ["participant_ref", "case_ref", "attended", "withdrew"], rows)
    return [
        TrueEffect(arm, effect, _share([r for a, r in observed if a == arm]))
        for arm, effect in ATTENDANCE_EFFECT.items()
        if arm != "control"
    ]


def _draw(rng: random.Random, base: float, effect: float, reached: float) -> str:
    return "yes" if rng.random() < base + effect * reached else "no"


def _share(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _case_refs_and_status(session: Session, trial_id: str) -> dict[str, tuple[str, str]]:
    rows = session.exec(
        select(Participant.participant_ref, Case.case_ref, Hearing.status)
        .join(Case, col(Case.id) == Participant.case_id)
        .join(Hearing, col(Hearing.case_id) == Case.id)
        .where(Participant.trial_id == trial_id)
    ).all()
    return {ref: (case_ref, status) for ref, case_ref, status in rows}
