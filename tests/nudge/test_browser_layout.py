"""The GOV.UK Frontend layout in headless Chromium: its header, navigation and footer reflow.

WCAG 2.1 1.4.10 asks that nothing scrolls sideways at 320 CSS px. test_browser_reflow.py measures
the whole document of every page; this test measures the layout's own parts (header, navigation,
phase banner and footer) one by one, so a failure names the part that grew too wide.
"""

from __future__ import annotations

from typing import Any

from tests.trial_factories import TRIAL
from tests.web_helpers import log_in_page, no_violations

NARROW = 320
LAYOUT_PARTS = (
    "header.govuk-template__header",
    ".govuk-service-navigation",
    ".govuk-phase-banner",
    "footer.govuk-footer",
)
MAIN_PAGES = ("/", f"/trials/{TRIAL}/results", f"/trials/{TRIAL}/overview")


def overflowing_parts(page: Any) -> dict[str, int]:
    """Each layout part on the page whose content is wider than the screen, with its width."""
    widths: dict[str, int] = page.evaluate(
        """parts => Object.fromEntries(parts.flatMap(selector =>
             [...document.querySelectorAll(selector)].map(el => [selector, el.scrollWidth])))""",
        list(LAYOUT_PARTS),
    )
    return {part: width for part, width in widths.items() if width > NARROW}


def test_the_header_navigation_and_footer_fit_a_320_px_screen_on_every_main_page(
    browser: Any, results_site: str
) -> None:
    base = results_site
    page = browser.new_page(viewport={"width": NARROW, "height": 640})
    page.goto(f"{base}/login")
    assert overflowing_parts(page) == {}
    log_in_page(page, base, "researcher")
    paths = [*MAIN_PAGES, "/accessibility", "/privacy"]
    for path in paths:
        page.goto(f"{base}{path}")
        measured = page.evaluate(f"document.querySelectorAll('{', '.join(LAYOUT_PARTS)}').length")
        assert measured == len(LAYOUT_PARTS), path
        assert overflowing_parts(page) == {}, path
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW, path
    # The last navigation item and the log-out button wrap onto the screen, not past its edge.
    last_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Opt-outs")
    for control in (last_link, page.get_by_role("button", name="Log out")):
        box = control.bounding_box()
        assert box is not None and box["x"] + box["width"] <= NARROW, control
    page.close()


def test_the_accessibility_statement_and_privacy_notice_are_public_and_accessible(
    browser: Any, live_app: tuple[str, Any]
) -> None:
    base, _ = live_app
    page = browser.new_page()
    page.goto(f"{base}/login")
    page.get_by_role("contentinfo").get_by_role("link", name="Accessibility statement").click()
    page.get_by_role("heading", name="Accessibility statement for Nudge").wait_for()
    assert "Reporting an accessibility problem" in page.inner_text("main")
    no_violations(page)
    page.get_by_role("contentinfo").get_by_role("link", name="Privacy notice").click()
    page.get_by_role("heading", name="Privacy notice for Nudge").wait_for()
    no_violations(page)
    assert page.locator(".govuk-phase-banner").inner_text().startswith("Beta")
    page.close()
