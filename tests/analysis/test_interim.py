"""Interim looks: boundaries at the information reached, crossing for benefit or harm, looks
the plan did not schedule, and looks kept as they were (both engines for the stored part).

The boundaries themselves are checked against R's rpact in test_stats_spending.py; here the
question is whether a look uses the right one and says what it means.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, select

from analysis.interim import look_words, take_look
from analysis.report import build_report
from analysis.stats.spending import boundaries
from experiments.definition import TrialDefinition
from nudge.errors import NudgeError
from nudge.models import AuditEvent, InterimLook
from tests.analysis.test_report import definition, small_frame
from tests.conftest import Cli
from tests.trial_factories import seed_trial
from tests.web_helpers import logged_in

PLAN = {"looks": [0.5, 1.0], "spending": "obrien_fleming", "sample_size": 1200}


def planned(**interim: Any) -> TrialDefinition:
    return definition(analysis={"interim": PLAN | interim})


def kept(result: Any, when: datetime) -> InterimLook:
    """A look as the database keeps it, to stand as an earlier one."""
    return InterimLook(
        trial_id="small-trial",
        number=result.number,
        looked_at=when,
        outcome_key=result.outcome,
        observed=result.observed,
        fraction=result.fraction,
        planned=result.planned,
        critical=result.critical,
        arms={a.arm: a.as_dict() for a in result.arms},
        looked_by="test",
    )


def test_a_planned_look_crossing_for_benefit_and_harm() -> None:
    plan = planned()
    # 600 outcomes of the designed 1,200: the planned look at half the information.
    frame = small_frame({"control": (200, 100), "sms": (200, 160), "letter": (200, 40)})
    result = take_look(plan, build_report(frame, plan), [])
    assert (result.number, result.observed, result.fraction, result.planned) == (1, 600, 0.5, True)
    # Two treatment arms with Holm across them: each arm's boundary spends alpha / 2.
    assert result.critical == pytest.approx(
        boundaries([0.5], 0.025, "obrien_fleming", 2)[0].critical, abs=1e-12
    )
    assert result.critical > 3.0  # far above the nominal 1.96: it is early
    arms = {a.arm: a for a in result.arms}
    assert arms["sms"].crossed == "benefit" and arms["sms"].z is not None and arms["sms"].z > 0
    assert arms["letter"].crossed == "harm" and arms["letter"].z is not None
    words = look_words(result, {"sms": "SMS reminder", "letter": "Letter"})
    assert words[0].startswith("Look 1 (planned) at 50% of the designed sample")
    assert any("SMS reminder crossed the boundary for benefit" in w for w in words)
    assert any("Letter crossed the boundary for harm" in w for w in words)


def test_an_effect_the_nominal_test_calls_significant_does_not_cross_early() -> None:
    plan = planned()
    frame = small_frame({"control": (200, 100), "sms": (200, 124), "letter": (200, 100)})
    result = take_look(plan, build_report(frame, plan), [])
    sms = next(a for a in result.arms if a.arm == "sms")
    assert sms.z is not None and 1.96 < sms.z < result.critical
    assert sms.crossed is None
    assert any("did not cross" in w and "continue as planned" in w for w in look_words(result, {}))


def test_an_unplanned_look_spends_alpha_and_is_labelled() -> None:
    plan = planned()
    first = take_look(
        plan,
        build_report(
            small_frame({"control": (200, 100), "sms": (200, 110), "letter": (200, 100)}), plan
        ),
        [],
    )
    earlier = [kept(first, datetime(2027, 3, 1, tzinfo=UTC))]
    # 840 of 1,200 (70%): no look is planned there.
    frame = small_frame({"control": (280, 140), "sms": (280, 160), "letter": (280, 140)})
    second = take_look(plan, build_report(frame, plan), earlier)
    assert (second.number, second.planned) == (2, False)
    assert second.fraction == pytest.approx(0.7)
    assert second.critical == pytest.approx(
        boundaries([0.5, 0.7], 0.025, "obrien_fleming", 2)[1].critical, abs=1e-12
    )
    words = look_words(second, {})
    assert words[0].startswith("Look 2 (unplanned) at 70%")
    assert "not in the plan" in words[-1] and "not evidence of an effect" in words[-1]


def test_a_look_without_new_outcomes_is_refused() -> None:
    plan = planned()
    frame = small_frame({"control": (200, 100), "sms": (200, 110), "letter": (200, 100)})
    first = take_look(plan, build_report(frame, plan), [])
    with pytest.raises(NudgeError, match="no new information since look 1"):
        take_look(plan, build_report(frame, plan), [kept(first, datetime(2027, 3, 1, tzinfo=UTC))])


def test_without_a_correction_each_arm_has_the_whole_alpha() -> None:
    plan = definition(analysis={"interim": PLAN, "correction": "none"})
    frame = small_frame({"control": (200, 100), "sms": (200, 110), "letter": (200, 100)})
    result = take_look(plan, build_report(frame, plan), [])
    assert result.critical == pytest.approx(
        boundaries([0.5], 0.05, "obrien_fleming", 2)[0].critical, abs=1e-12
    )


def interim_example(example_dir: Path, sample_size: int) -> Path:
    path = example_dir / "witness-reminders.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "  minimum_detectable_effect: 0.05\n",
        "  minimum_detectable_effect: 0.05\n"
        f"  interim: {{looks: [0.5, 1.0], spending: obrien_fleming, sample_size: {sample_size}}}\n",
    )
    path.write_text(text, encoding="utf-8")
    return path


def test_a_look_is_kept_audited_listed_and_shown_to_leads(
    app: Flask,
    staff: None,
    session: Session,
    clock: Any,
    tmp_path: Path,
    example_dir: Path,
    db_url: str,
) -> None:
    seeded = seed_trial(session, clock, tmp_path, definition=interim_example(example_dir, 456))
    cli = Cli(db_url, tmp_path)
    results = f"/trials/{seeded.trial_id}/results"
    before = html.unescape(logged_in(app, "lead").get(results).get_data(as_text=True))
    assert "The plan schedules looks at 50% and 100% of the designed sample of 456" in before
    assert "No look has been taken yet." in before
    dry = cli.unchanged("interim", "look", seeded.trial_id, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Dry run: this look was not kept and spent nothing." in dry.output
    result = cli("interim", "look", seeded.trial_id)
    assert result.exit_code == 0, result.output
    assert "Look 1 (planned) at " in result.output
    session.expire_all()
    (look,) = session.exec(select(InterimLook)).all()
    assert (look.number, look.planned, look.outcome_key) == (1, True, "attended")
    assert abs(look.fraction - 0.5) <= 0.1
    assert set(look.arms) == {"practical", "social_norm"}
    assert look.looked_at == clock.now()
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "interim.look")).all()
    assert len(events) == 1 and events[0].details["planned"] is True
    again = cli.unchanged("interim", "look", seeded.trial_id)
    assert again.exit_code == 1 and "no new information since look 1" in again.output
    assert "Traceback" not in again.output
    listed = cli("interim", "list", seeded.trial_id)
    assert listed.exit_code == 0 and "Look 1 (planned)" in listed.output
    page = html.unescape(logged_in(app, "lead").get(results).get_data(as_text=True))
    assert "Look 1, 10 January 2027" in page and ">Planned</strong>" in page
    assert "Look 1 (planned) at " in page
    assert "No look has been taken yet." not in page


def test_a_trial_without_interim_looks_says_how_to_plan_them(
    session: Session, clock: Any, tmp_path: Path, db_url: str
) -> None:
    seeded = seed_trial(session, clock, tmp_path, people=60)
    result = Cli(db_url, tmp_path).unchanged("interim", "look", seeded.trial_id)
    assert result.exit_code == 1
    assert "plans no interim looks: add analysis.interim" in result.output
