"""Variants of the example trial with tagged arms (and a cost of a non-attendance), enrolled,
observed and closed through the real services: for the evidence and savings tests."""

from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

from sqlmodel import Session, select

from analysis.outcomes import import_outcomes
from experiments import trials
from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.models import Arm, Assignment, Participant
from tests.conftest import EXAMPLE
from tests.factories import launch, person, write_people

TAGS = {
    "  - id: practical\n": "    tags: [practical_information, sms]\n",
    "  - id: social_norm\n": "    tags: [social_norm, sms, letter]\n",
}
SOURCE = "Ministry of Justice (2026) Ineffective trials, table 3, p. 12 (a test figure)"
COSTED = (
    "costs:\n  currency: GBP\n  sms_segment: 0.04\n  letter: 0.85\n  cost_of_event:\n"
    f'    attended: {{amount: 250, source: "{SOURCE}"}}\n'
)


def tagged_example(
    folder: Path, trial_id: str, title: str, *, tags: bool = True, costed: bool = False
) -> Path:
    """The example with another id and title, its arms tagged, and optionally a cost of a
    non-attendance; its letters copied beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("id: witness-reminders-2027\n", f"id: {trial_id}\n", 1)
    text = text.replace(
        "title: Reminder framing for prosecution witnesses\n", f"title: {title}\n", 1
    )
    if tags:
        for arm, line in TAGS.items():
            text = text.replace(arm, arm + line, 1)
    if costed:
        lines = text.splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if line.startswith("costs: {"))
        lines[at] = COSTED
        text = "".join(lines)
    path = folder / "trial.yaml"
    path.write_text(text, encoding="utf-8")
    shutil.copytree(EXAMPLE.parent / "letters", folder / "letters", dirs_exist_ok=True)
    return path


def run_closed_trial(
    session: Session,
    clock: FixedClock,
    definition: Path,
    rates: dict[str, float],
    *,
    people: int = 240,
    seed: int = 7,
    close: bool = True,
) -> str:
    """Launch the definition, enrol `people` witnesses, record attendance at each arm's rate,
    and close the trial; its id."""
    trial_id = launch(session, clock, definition)
    rows = [
        person(
            n,
            age_band="18-34" if n % 3 else "35-54",
            vulnerable="yes" if n % 5 == 0 else "no",
            prior_fta="yes" if n % 4 == 0 else "no",
        )
        for n in range(1, people + 1)
    ]
    folder = definition.parent
    enrol_and_plan(session, clock, trial_id, write_people(folder / "people.csv", rows), "t")
    session.commit()
    arms = dict(
        session.exec(
            select(Participant.participant_ref, Arm.key)
            .join(Assignment, Assignment.participant_id == Participant.id)  # type: ignore[arg-type]
            .join(Arm, Arm.id == Assignment.arm_id)  # type: ignore[arg-type]
            .where(Participant.trial_id == trial_id)
        ).all()
    )
    chance = random.Random(seed)
    outcomes = folder / "outcomes.csv"
    with outcomes.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_ref", "case_ref", "attended"])
        for ref in sorted(arms):
            attended = "yes" if chance.random() < rates[arms[ref]] else "no"
            writer.writerow([ref, f"C{int(ref[1:]):05d}", attended])
    import_outcomes(session, clock, trial_id, outcomes, "test")
    session.commit()
    if close:
        trials.close_trial(session, clock, trial_id, trials.Actor("test"), "outcomes in")
        session.commit()
    return trial_id
