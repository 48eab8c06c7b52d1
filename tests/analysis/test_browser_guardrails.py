"""A breached guardrail's warning on a trial's pages in headless Chromium: 320 px, axe clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session

from analysis.guardrails import run_guardrails
from nudge.clock import FixedClock
from nudge.config import load_settings
from tests.analysis.test_guardrails import guarded, stop_replies
from tests.trial_factories import seed_trial
from tests.web_helpers import RESULTS, no_violations, open_as


def test_the_warning_reads_at_320_px_on_results_and_overview_and_is_accessible(
    browser: Any, site: str, session: Session, clock: FixedClock, tmp_path: Path, example_dir: Path
) -> None:
    seeded = seed_trial(session, clock, tmp_path, definition=guarded(example_dir))
    stop_replies(session, clock, seeded.arms, "social_norm")
    settings = load_settings({"NUDGE_DATABASE_URL": "sqlite://"})
    assert len(run_guardrails(session, clock, seeded.trial_id, settings, "test").new) == 1
    for path in (RESULTS, f"/trials/{seeded.trial_id}/overview"):
        page = open_as(browser, site, "lead", path, 320)
        warning = page.locator(".app-guardrail-warning")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("Social norm, opt-out rate")
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        no_violations(page)
        page.close()
