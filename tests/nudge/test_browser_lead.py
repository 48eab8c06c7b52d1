"""The results page as a programme lead sees it, in Debian's Chromium: the verdict on the first
screen, status and progress in words, no sideways scrolling on a phone, axe-clean, on a live
trial (the example the demo runs), a draft, a closed trial and a trial whose pre-registered
analysis cannot be computed. Screenshots of the top of the page at 1280 and 390 px are saved
for people to look at (`artefacts/screenshots/`, not committed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from experiments import trials
from nudge.clock import FixedClock
from tests.analysis.test_fallback_wording import everyone_attended
from tests.conftest import EXAMPLE
from tests.factories import launch, load_trial_file
from tests.trial_factories import TRIAL, seed_trial
from tests.web_helpers import RESULTS, no_violations, open_as

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artefacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def assert_no_sideways_scroll(page: Any) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= page.viewport_size["width"], f"the page is {wide} px wide"


def test_a_lead_sees_the_verdict_on_the_first_screen_of_a_live_trial(
    browser: Any, site: str, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    seed_trial(session, clock, tmp_path, people=240)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in (("1280", DESKTOP), ("390", PHONE)):
        page = open_as(browser, site, "lead", RESULTS, **viewport)
        verdict = page.get_by_role("heading", name="What the trial has found so far")
        box = verdict.bounding_box()
        assert box is not None and box["y"] < viewport["height"], (
            f"verdict below the fold at {name}"
        )
        panel = page.locator(".app-verdict")
        for arm in ("Practical information", "Social norm"):
            item = panel.locator(".app-verdict-item", has_text=arm)
            tag = item.locator(".govuk-tag").inner_text()
            assert tag.lower() in (
                "likely helps",
                "no clear effect",
                "likely harms",
                "not enough data yet",
            ), tag
        status = page.locator(".app-status .govuk-tag").inner_text()
        assert status.lower() == "live (interim)"
        expect(page.get_by_text("Interim results: they will change")).to_be_visible()
        progress = page.locator(".app-progress").inner_text()
        assert "People randomised" in progress and "Outcomes observed" in progress
        health = page.locator(".app-health").inner_text()
        for check in ("Arm sizes match the plan", "Messages reach people"):
            assert check in health
        assert "Business as usual: None: this arm gets no messages" in health
        methods = page.get_by_role("region", name="How the results were worked out")
        expect(methods.get_by_text("Full methods, for statisticians")).to_be_visible()
        assert not methods.get_by_text("Bell–McCaffrey").first.is_visible()  # the second layer
        assert_no_sideways_scroll(page)
        page.screenshot(path=str(SCREENSHOTS / f"results-top-{name}.png"))
        if name == "1280":
            no_violations(page)
        page.close()


@pytest.mark.parametrize("state", ["draft", "closed", "primary unavailable"])
def test_the_results_page_says_where_a_trial_stands(
    state: str,
    browser: Any,
    site: str,
    session: Session,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    if state == "draft":
        loaded = load_trial_file(EXAMPLE)
        trials.create_trial(session, clock, loaded, trials.Actor("test"))  # type: ignore[arg-type]
        session.commit()
    else:
        seeded = seed_trial(session, clock, tmp_path, people=120)
    if state == "closed":
        trials.close_trial(session, clock, TRIAL, trials.Actor("test"), "follow-up complete")
        session.commit()
    if state == "primary unavailable":
        everyone_attended(session, clock, tmp_path, seeded)
    # With every outcome the same, a lead's page hides the figures (no one did not attend);
    # the researcher's shows why the pre-registered analysis could not be computed.
    who = "researcher" if state == "primary unavailable" else "lead"
    page = open_as(browser, site, who, RESULTS, **PHONE)
    status = page.locator(".app-status .govuk-tag").inner_text().lower()
    main = page.locator("main").inner_text()
    if state == "draft":
        assert status == "draft"
        expect(page.get_by_role("heading", name="No results yet")).to_be_visible()
        assert page.locator("main table").count() == 0
    elif state == "closed":
        assert status == "final (closed)"
        expect(page.get_by_role("heading", name="What the trial found")).to_be_visible()
        assert "interim" not in main
    else:
        panel = page.locator(".app-verdict").inner_text()
        assert panel.count("the pre-registered analysis could not be computed") == 2
        assert panel.lower().count("not enough data yet") >= 2
    assert_no_sideways_scroll(page)
    page.set_viewport_size(DESKTOP)
    no_violations(page)
    page.close()


def test_a_live_trial_before_any_enrolment_says_no_results_yet(
    browser: Any, site: str, session: Session, clock: FixedClock
) -> None:
    launch(session, clock, EXAMPLE)
    page = open_as(browser, site, "lead", RESULTS, **PHONE)
    expect(page.get_by_role("heading", name="No results yet")).to_be_visible()
    expect(page.get_by_text("Nobody has been randomised yet")).to_be_visible()
    assert_no_sideways_scroll(page)
    page.close()
