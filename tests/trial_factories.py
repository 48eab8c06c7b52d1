"""A launched trial with enrolments, messages in every state and outcomes: for results tests.

Built through the real services (launch, enrol, outcomes import); only message statuses are
set directly, standing in for the dispatcher and the provider's callbacks.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, select

from analysis.outcomes import import_outcomes
from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.models import Arm, Assignment, Message, Participant
from tests.conftest import EXAMPLE
from tests.factories import launch, person, write_people

TRIAL = "witness-reminders-2027"
# Per arm: chance of attending; victims get the secondary outcome (withdrew) at 30%.
RATES = {"control": 0.55, "practical": 0.8, "social_norm": 0.68}
# What becomes of the nth message (cycled), as dispatch and callbacks would leave it.
FATES = ("delivered", "delivered", "delivered", "sent", "failed", "undelivered", "scheduled")


@dataclass(frozen=True)
class SeededTrial:
    trial_id: str
    arms: dict[str, str]  # participant_ref -> arm key


def seed_trial(
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
    *,
    people: int = 240,
    ineligible: int = 6,
    victims_every: int = 12,
    seed: int = 7,
    observed_share: float = 0.95,
    definition: Path = EXAMPLE,
    site_of: Callable[[int], str] | None = None,
) -> SeededTrial:
    """Launch the example trial (or a variant of it), enrol `people` (+ some ineligible), send,
    record outcomes. For a multi-site variant, `site_of(n)` is person n's site: each site's
    people are imported for it, as its staff would."""
    launch(session, clock, definition)
    rows = [
        person(
            n,
            role="victim" if n % victims_every == 0 else "witness",
            age_band="18-34" if n % 3 else "35-54",
            vulnerable="yes" if n % 5 == 0 else "no",
            prior_fta="yes" if n % 4 == 0 else "no",
        )
        for n in range(1, people + 1)
    ]
    rows += [person(people + n, age="17") for n in range(1, ineligible + 1)]
    by_site: dict[str | None, list[dict[str, str]]] = {}
    for n, row in enumerate(rows, start=1):
        by_site.setdefault(site_of(n) if site_of else None, []).append(row)
    for site, chosen in by_site.items():
        path = write_people(tmp_path / f"people-{site or 'all'}.csv", chosen)
        enrol_and_plan(session, clock, TRIAL, path, "t", site=site)
    session.commit()
    arms = assigned_arms(session)
    set_message_fates(session)
    record_outcomes(session, clock, tmp_path / "outcomes.csv", arms, seed, observed_share)
    return SeededTrial(TRIAL, arms)


def assigned_arms(session: Session) -> dict[str, str]:
    query = (
        select(Participant.participant_ref, Arm.key)
        .join(Assignment, Assignment.participant_id == Participant.id)  # type: ignore[arg-type]
        .join(Arm, Arm.id == Assignment.arm_id)  # type: ignore[arg-type]
        .where(Participant.trial_id == TRIAL)
    )
    return dict(session.exec(query).all())


def set_message_fates(session: Session) -> None:
    """Give the planned messages a spread of final states; one in 20 cancelled by a STOP."""
    rows = session.exec(
        select(Message.id, Message.channel)
        .where(Message.trial_id == TRIAL, Message.status == "scheduled")
        .order_by(Message.id)  # type: ignore[arg-type]
    ).all()
    for i, (message_id, channel) in enumerate(rows):
        fate = FATES[i % len(FATES)]
        if channel == "letter":
            fate = {"delivered": "sent", "undelivered": "sent"}.get(fate, fate)
        values: dict[str, object] = {"status": fate}
        if fate in ("sent", "delivered", "undelivered"):
            values["cost"] = 0.08
        if i % 20 == 19 and channel == "sms":
            values = {"status": "cancelled", "reason": "opted_out"}
        session.execute(update(Message).where(Message.id == message_id).values(**values))  # type: ignore[arg-type]
    session.commit()


def record_outcomes(
    session: Session,
    clock: FixedClock,
    path: Path,
    arms: dict[str, str],
    seed: int,
    observed_share: float,
) -> Path:
    """Attendance for most randomised people (and withdrawal for victims), by the arm's rate."""
    chance = random.Random(seed)
    refs = sorted(arms)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_ref", "case_ref", "attended", "withdrew"])
        for ref in refs:
            if chance.random() > observed_share:
                continue
            attended = "yes" if chance.random() < RATES[arms[ref]] else "no"
            number = int(ref[1:])
            withdrew = ""
            if number % 12 == 0:
                withdrew = "yes" if chance.random() < 0.3 else "no"
            writer.writerow([ref, f"C{number:05d}", attended, withdrew])
    import_outcomes(session, clock, TRIAL, path, "test")
    session.commit()
    return path
