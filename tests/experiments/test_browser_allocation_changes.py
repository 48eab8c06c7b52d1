"""After a paused arm was excluded from enrolment: the changes of allocation (Manage, overview)
and each comparison's concurrent counts (results) in headless Chromium, at 320 px, axe clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session

from messages.pausing import pause, resume
from nudge.clock import FixedClock
from tests.analysis.test_concurrent_controls import enrol_people
from tests.experiments.test_paused_arm_exclusion import TRIAL, excluding
from tests.factories import launch
from tests.trial_factories import assigned_arms, record_outcomes
from tests.web_helpers import no_violations, open_as


def test_the_changes_of_allocation_and_concurrent_counts_read_at_320_px(
    browser: Any, site: str, session: Session, clock: FixedClock, tmp_path: Path, example_dir: Path
) -> None:
    launch(session, clock, excluding(example_dir))
    enrol_people(session, clock, tmp_path / "first.csv", range(1, 61))
    pause(session, clock, TRIAL, "social_norm", "complaints: DMC to review", "dmc")
    session.commit()
    enrol_people(session, clock, tmp_path / "second.csv", range(61, 121))
    resume(session, clock, TRIAL, "social_norm", "dmc")
    session.commit()
    record_outcomes(session, clock, tmp_path / "outcomes.csv", assigned_arms(session), 7, 1.0)
    shown = {
        f"/trials/{TRIAL}/manage": "Social norm paused",
        f"/trials/{TRIAL}/overview": "new participants allocated among every arm",
        f"/trials/{TRIAL}/results": "In the comparison with Social norm",
    }
    for path, words in shown.items():
        page = open_as(browser, site, "researcher", path, 320)
        expect(page.locator("main")).to_contain_text(words)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        no_violations(page)
        page.close()
