"""The "What we know" page in Debian's Chromium: words first, the forest plot as an image with
its text alternative, tables that scroll inside their own region, no sideways scrolling at
320 px, axe-clean, reached from the site navigation, with no JavaScript needed. Screenshots at
1280 and 320 px go to `artefacts/screenshots/` (not committed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session

from nudge.clock import FixedClock
from tests.evidence_factories import run_closed_trial, tagged_example
from tests.nudge.test_browser_lead import SCREENSHOTS, assert_no_sideways_scroll
from tests.web_helpers import log_in_page, no_violations, open_as


def test_the_evidence_page_reads_first_reflows_and_passes_axe(
    browser: Any, site: str, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    for folder, trial_id, rates in (
        ("one", "first-area-2027", {"control": 0.55, "practical": 0.75, "social_norm": 0.65}),
        ("two", "second-area-2027", {"control": 0.6, "practical": 0.72, "social_norm": 0.6}),
    ):
        title = f"Reminders in the {trial_id.split('-')[0]} area"
        run_closed_trial(session, clock, tagged_example(tmp_path / folder, trial_id, title), rates)
    page = open_as(browser, site, "lead", "/", width=1280)
    page.get_by_role("link", name="What we know").click()
    expect(page.get_by_role("heading", name="What we know", level=1)).to_be_visible()
    section = page.get_by_role("region", name="Attendance: arms tagged “practical information”")
    expect(section.get_by_text("Across 2 closed trials").first).to_be_visible()
    chart = section.get_by_role("img")
    expect(chart).to_have_count(1)
    described = section.locator("svg desc").text_content() or ""
    assert "Reminders in the first area" in described and "Pooled" in described
    no_violations(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "evidence-1280.png"), full_page=True)
    page.set_viewport_size({"width": 320, "height": 800})
    assert_no_sideways_scroll(page)
    no_violations(page)
    page.screenshot(path=str(SCREENSHOTS / "evidence-320.png"), full_page=True)
    page.close()
    context = browser.new_context(java_script_enabled=False, viewport={"width": 320, "height": 800})
    plain = log_in_page(context.new_page(), site, "lead")
    plain.goto(f"{site}/evidence")
    expect(plain.get_by_text("Across 2 closed trials").first).to_be_visible()
    assert_no_sideways_scroll(plain)
    context.close()
