"""The results cache: served while the data stands still, recomputed when any of it changes."""

from __future__ import annotations

import csv
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from analysis.outcomes import import_outcomes
from analysis.results_cache import Results, results_for
from experiments import trials
from experiments.enrol import enrol_file
from messages.intake import enrol_and_plan
from nudge.clock import FixedClock
from nudge.db import make_engine
from nudge.models import Message
from tests.analysis.test_outcomes import write_outcomes
from tests.conftest import EXAMPLE
from tests.factories import person, write_people
from tests.trial_factories import TRIAL, SeededTrial, seed_trial


def cached(session: Session, clock: FixedClock) -> Results:
    trial = trials.get_trial(session, TRIAL)
    return results_for(session, clock, trial, trials.current_definition(session, trial))


@pytest.fixture
def seeded(session: Session, clock: FixedClock, tmp_path: Path) -> SeededTrial:
    trial = seed_trial(session, clock, tmp_path, people=60)
    first = cached(session, clock)
    assert first.from_cache is False
    clock.advance(timedelta(hours=1))
    return trial


def test_unchanged_data_is_served_from_the_cache_without_analysing_again(
    session: Session, clock: FixedClock, seeded: SeededTrial
) -> None:
    again = cached(session, clock)
    assert again.from_cache is True
    assert again.computed_at == clock.now() - timedelta(hours=1)


def test_the_cache_is_shared_by_another_process_on_the_same_database(
    db_url: str, clock: FixedClock, seeded: SeededTrial, session: Session
) -> None:
    other = make_engine(db_url)
    try:
        with Session(other) as elsewhere:
            served = cached(elsewhere, clock)
    finally:
        other.dispose()
    assert served.from_cache is True
    assert served.body == cached(session, clock).body


def test_an_outcome_correction_invalidates_the_cache(
    session: Session, clock: FixedClock, seeded: SeededTrial, tmp_path: Path
) -> None:
    with (tmp_path / "outcomes.csv").open(encoding="utf-8") as handle:
        ref, case_ref, attended, _ = list(csv.reader(handle))[1]
    arm = seeded.arms[ref]
    before = _attended(cached(session, clock).body, arm)
    flipped = "no" if attended == "yes" else "yes"
    path = write_outcomes(tmp_path / "fix.csv", [[ref, case_ref, flipped, ""]])
    import_outcomes(session, clock, TRIAL, path, "test")
    session.commit()
    after = cached(session, clock)
    assert after.from_cache is False and after.computed_at == clock.now()
    assert _attended(after.body, arm) == before + (1 if flipped == "yes" else -1)
    assert cached(session, clock).from_cache is True


def _attended(body: dict[str, Any], arm: str) -> int:
    primary = next(o for o in body["report"]["outcomes"] if o["primary"])
    return int(next(a["events"] for a in primary["arms"] if a["arm"] == arm))


def test_a_new_enrolment_invalidates_the_cache(
    session: Session, clock: FixedClock, seeded: SeededTrial, tmp_path: Path
) -> None:
    before = cached(session, clock).body["flow"]["assessed"]
    path = write_people(tmp_path / "more.csv", [person(900), person(901, age="16")])
    enrol_and_plan(session, clock, TRIAL, path, "test")
    session.commit()
    after = cached(session, clock)
    assert after.from_cache is False
    assert after.body["flow"]["assessed"] == before + 2


def test_a_message_status_change_invalidates_the_cache(
    session: Session, clock: FixedClock, seeded: SeededTrial
) -> None:
    before = cached(session, clock).body["flow"]["arms"]
    waiting = session.exec(
        select(Message).where(
            Message.trial_id == TRIAL, Message.status == "scheduled", Message.channel == "sms"
        )
    ).first()
    assert waiting is not None
    session.execute(update(Message).where(Message.id == waiting.id).values(status="delivered"))
    session.commit()
    after = cached(session, clock)
    assert after.from_cache is False
    delivered = [a["messages"]["delivered"] for a in after.body["flow"]["arms"]]
    assert sum(delivered) == sum(a["messages"]["delivered"] for a in before) + 1


def test_a_corrected_language_invalidates_the_cache_when_the_plan_uses_it(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    """A later export corrects a person's language in place (no row is added anywhere): a plan
    with language as a subgroup must see it at once."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "subgroups: [role]", "subgroups: [role, language]"
    )
    assert "subgroups: [role, language]" in text
    variant = tmp_path / "by-language.yaml"
    variant.write_text(text, encoding="utf-8")
    shutil.copytree(EXAMPLE.parent / "letters", tmp_path / "letters")
    seeded = seed_trial(session, clock, tmp_path, people=60, definition=variant)
    before = _welsh(cached(session, clock).body)
    assert before == 0
    ref = next(iter(seeded.arms))
    number = int(ref[1:])
    corrected = write_people(tmp_path / "corrected.csv", [person(number, language="cy")])
    enrol_file(session, clock, TRIAL, corrected, "test")
    session.commit()
    after = cached(session, clock)
    assert after.from_cache is False
    assert _welsh(after.body) == 1


def _welsh(body: dict[str, Any]) -> int:
    """People analysed for the primary outcome whose language is Welsh, across arms."""
    levels = body["subgroup_counts"]["attended"]["language"]
    return sum(n for n, _events in levels.get("cy", {}).values())


def test_a_worker_claiming_a_message_changes_nothing_the_results_show_so_keeps_the_cache(
    session: Session, clock: FixedClock, seeded: SeededTrial
) -> None:
    session.execute(
        update(Message)
        .where(Message.trial_id == TRIAL, Message.status == "scheduled")
        .values(status="claimed")
    )
    session.commit()
    assert cached(session, clock).from_cache is True
