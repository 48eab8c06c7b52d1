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

In a multi-site demo (`nudge demo --sites`), `effect[arm]` on attendance is multiplied by the
person's site's factor (nudge/demo/sites.py), so the true effect differs a little by site.
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
from nudge.models import Case, Hearing, HearingStatus, Organisation, Participant

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
    session: Session,
    trial_id: str,
    path: Path,
    rng: random.Random,
    site_factors: Mapping[str, float] | None = None,
) -> list[TrueEffect]:
    """Write the outcomes CSV for `trial_id`; return each treatment arm's true effect.

    `site_factors` (a multi-site trial's, by site short name): each site's multiple of the
    attendance effects; the arm's true effect returned is then its average over the people
    whose attendance was observed, as `site_true_effects` gives it for each site."""
    return [effects[None] for effects in _simulate(session, trial_id, path, rng, site_factors)]


def site_true_effects(
    session: Session,
    trial_id: str,
    path: Path,
    rng: random.Random,
    site_factors: Mapping[str, float],
) -> tuple[list[TrueEffect], dict[str, list[TrueEffect]]]:
    """`simulate_outcomes` for a multi-site trial: the arms' true effects over the whole
    trial, and at each site (by short name)."""
    simulated = _simulate(session, trial_id, path, rng, site_factors)
    whole = [effects[None] for effects in simulated]
    by_site = {
        site: [effects[site] for effects in simulated if site in effects] for site in site_factors
    }
    return whole, by_site


def _simulate(
    session: Session,
    trial_id: str,
    path: Path,
    rng: random.Random,
    site_factors: Mapping[str, float] | None,
) -> list[dict[str | None, TrueEffect]]:
    """Each treatment arm's true effect over the trial (key None) and at each site."""
    frame = frame_from_db(session, trial_id)
    refs = _case_refs_and_status(session, trial_id)
    observed: list[tuple[str, float, str | None, float]] = []
    rows: list[list[str]] = []
    for record in frame.to_dict("records"):
        case_ref, status, site = refs[record["participant_ref"]]
        arm, reached = str(record["arm"]), float(record["delivered"])
        effect = ATTENDANCE_EFFECT[arm]
        if site_factors is not None:
            effect *= site_factors[str(site)]
        base = attendance_base(record)
        attended = _draw(rng, base, effect, reached)
        withdrew = _draw(rng, 0.25, WITHDRAWAL_EFFECT[arm], reached)
        if status == HearingStatus.VACATED or rng.random() < UNOBSERVED:
            attended = ""
        else:
            observed.append((arm, reached, site, effect))
        if record["role"] != "victim":
            withdrew = ""
        rows.append([record["participant_ref"], case_ref, attended, withdrew])
    with path.open("w", newline="", encoding="utf-8") as handle:
        write_rows(handle, ["participant_ref", "case_ref", "attended", "withdrew"], rows)
    found: list[dict[str | None, TrueEffect]] = []
    for arm, effect in ATTENDANCE_EFFECT.items():
        if arm == "control":
            continue
        mine = [(r, s, e) for a, r, s, e in observed if a == arm]
        if site_factors is None:  # one area: the arm's one effect, as it always was
            found.append({None: TrueEffect(arm, effect, _share([r for r, _, _ in mine]))})
            continue
        effects: dict[str | None, TrueEffect] = {None: _averaged(arm, [(r, e) for r, _, e in mine])}
        for site in site_factors:
            effects[site] = _averaged(arm, [(r, e) for r, s, e in mine if s == site])
        found.append(effects)
    return found


def _averaged(arm: str, people: list[tuple[float, float]]) -> TrueEffect:
    """An arm's true effect over people (each reached or not, with their own effect): the
    effect among those reached, and the share reached, so that `assignment` is the average
    of each person's effect times whether they were reached."""
    reached = sum(r for r, _ in people)
    per_reached = sum(r * e for r, e in people) / reached if reached else 0.0
    return TrueEffect(arm, per_reached, _share([r for r, _ in people]))


def _draw(rng: random.Random, base: float, effect: float, reached: float) -> str:
    return "yes" if rng.random() < base + effect * reached else "no"


def _share(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _case_refs_and_status(
    session: Session, trial_id: str
) -> dict[str, tuple[str, str, str | None]]:
    """Each person's case reference, hearing status and site (short name; None in one area)."""
    rows = session.exec(
        select(Participant.participant_ref, Case.case_ref, Hearing.status, Organisation.slug)
        .join(Case, col(Case.id) == Participant.case_id)
        .join(Hearing, col(Hearing.case_id) == Case.id)
        .outerjoin(Organisation, col(Organisation.id) == Participant.site_id)
        .where(Participant.trial_id == trial_id)
    ).all()
    return {ref: (case_ref, status, site) for ref, case_ref, status, site in rows}
