"""The results page printed in headless Chromium: content only, details open, all of it on A4."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.web_helpers import RESULTS, log_in_page, open_as

# A4 is 210 mm wide; print.css leaves 10 mm each side: 190 mm at 96 CSS px to the inch.
A4_CONTENT_PX = round(190 / 25.4 * 96)
FURTHER = "Further estimates for attendance"


def overflow(page: Any) -> dict[str, int]:
    return page.evaluate(
        "({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )


def test_a_printed_results_page_has_no_navigation_shows_details_and_fits_a4(
    browser: Any, results_site: str
) -> None:
    # Without JavaScript, so the stylesheet alone must show the content of <details>.
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": A4_CONTENT_PX, "height": 1000}
    )
    page = log_in_page(context.new_page(), results_site, "researcher")
    page.goto(f"{results_site}{RESULTS}")
    further = page.get_by_role("table", name=FURTHER)
    assert further.is_hidden()  # on screen the details are closed
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()

    page.emulate_media(media="print")
    expect(further).to_be_visible()
    for hidden in (
        page.get_by_role("navigation", name="Main"),
        page.get_by_role("button", name="Log out"),
        page.get_by_role("link", name="Nudge"),  # the header's link home
        page.get_by_text("This is a new service."),  # the phase banner
        page.get_by_role("link", name="Accessibility statement"),  # the footer
        page.get_by_role("link", name="CSV"),
        page.get_by_role("link", name="reproduction bundle (zip)"),
    ):
        assert hidden.is_hidden(), hidden
    expect(page.get_by_role("heading", name="Participant flow")).to_be_visible()
    assert page.get_by_role(
        "img", name="Forest plot: effect of each arm on attendance against control"
    ).is_visible()
    size = overflow(page)
    assert size["scroll"] <= size["client"] == A4_CONTENT_PX, size
    widest = page.evaluate(
        "Math.max(...[...document.querySelectorAll('main *')]"
        ".map(e => e.getBoundingClientRect().right))"
    )
    assert widest <= A4_CONTENT_PX, widest
    assert page.pdf(format="A4").startswith(b"%PDF-")
    context.close()


def test_printing_opens_every_details_and_puts_them_back_afterwards(
    browser: Any, results_site: str
) -> None:
    page = open_as(browser, results_site, "researcher", RESULTS)
    page.wait_for_load_state("load")  # frontend-init.js is a module: it runs after parsing
    opened = "[...document.querySelectorAll('details')].map(d => d.open)"
    before = page.evaluate(opened)
    assert before and not any(before)
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert all(page.evaluate(opened))
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert page.evaluate(opened) == before
    page.close()
