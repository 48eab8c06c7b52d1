"""A multi-site trial's Sites section in headless Chromium: 320 px and 1280 px, axe clean,
for a researcher (every figure) and a lead (a small site hidden)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.analysis.test_sites_pages import multi_site
from tests.nudge.test_browser_lead import SCREENSHOTS
from tests.web_helpers import RESULTS, no_violations, open_as

__all__ = ["multi_site"]  # the fixture, used by name

NARROW = 320


def test_the_sites_section_reads_at_320_and_1280_px_and_is_accessible(
    browser: Any, site: str, multi_site: dict[str, str]
) -> None:
    for role in ("researcher", "lead"):
        for width in (NARROW, 1280):
            page = open_as(browser, site, role, RESULTS, width)
            heading = page.get_by_role("heading", name="Sites", exact=True)
            expect(heading).to_be_visible()
            expect(page.get_by_role("region", name="Effects at each site")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            no_violations(page)
            section = heading.locator("xpath=..")
            section.screenshot(path=str(SCREENSHOTS / f"sites-{role}-{width}.png"))
            page.close()
