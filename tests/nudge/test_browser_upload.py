"""A researcher uploads and amends a trial in Chromium, as issue 19 asks: every problem in one
summary whose links move focus, the files chosen once, the changes shown before they are saved
and kept in the history; a lead is refused both pages. axe-core checks every state, and each
state reflows at 320 CSS px (tests/nudge/test_browser_reflow.py measures only GET pages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.conftest import EXAMPLE
from tests.experiments.test_trial_pages import ALL_AT_ONCE, TRIAL, YAML
from tests.nudge.test_browser_researcher import checked
from tests.web_helpers import log_in_page

LETTERS = EXAMPLE.parent / "letters"
NARROW = 320


def reflowed(page: Any) -> None:
    """Checked, and nothing on the page scrolls sideways on a 320 px screen."""
    checked(page)
    wide = page.viewport_size
    page.set_viewport_size({"width": NARROW, "height": 640})
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW
    page.set_viewport_size(wide)


def press(page: Any, button: str) -> None:
    """Send the form with that button, and wait for the page it answers with."""
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def follows_each_link_to_focus(page: Any) -> list[str]:
    """Follow each link of the error summary; the ids focused in turn."""
    focused = []
    links = page.locator(".govuk-error-summary__list a")
    for i in range(links.count()):
        links.nth(i).click()
        focused.append(page.evaluate("document.activeElement.id"))
    return focused


def test_a_researcher_fixes_every_problem_at_once_creates_without_choosing_again_and_amends(
    browser: Any, site: str, tmp_path: Path
) -> None:
    page = log_in_page(browser.new_page(), site, "researcher")
    page.get_by_role("link", name="New trial").click()
    broken = tmp_path / "witness-reminders.yaml"
    broken.write_text(ALL_AT_ONCE)
    page.get_by_label("Trial definition (YAML)").set_input_files(broken)
    page.get_by_label("Letter files the definition names (optional)").set_input_files(
        LETTERS / "social_norm.md"
    )
    press(page, "Check only")
    assert page.title().startswith("Error: New trial")
    summary = page.locator(".govuk-error-summary")
    assert "4 problems to fix" in summary.inner_text()
    assert follows_each_link_to_focus(page) == [f"problem-{n}" for n in (1, 2, 3, 4)]
    assert "must be lower-case letters, digits, - or _" in page.locator("#problem-2").inner_text()
    reflowed(page)

    # Replace the definition and add the missing letter: the first letter is still held.
    page.get_by_label("Trial definition (YAML)").set_input_files(EXAMPLE)
    page.get_by_label("Letter files the definition names (optional)").set_input_files(
        LETTERS / "social_norm.cy.md"
    )
    press(page, "Check only")
    assert f"The definition of trial {TRIAL} is valid" in page.get_by_role("alert").inner_text()
    assert (
        "Held on the server: witness-reminders.yaml"
        in page.locator("#definition-hint").inner_text()
    )
    expect(page.get_by_label("Remove social_norm.md")).to_be_visible()
    expect(page.get_by_label("Remove social_norm.cy.md")).to_be_visible()
    reflowed(page)
    press(page, "Check and create draft")  # nothing chosen again
    assert f"Created draft trial {TRIAL}" in page.get_by_role("alert").inner_text()
    checked(page)

    page.get_by_role("link", name=f"Review and launch {TRIAL}").click()
    page.get_by_role("link", name="Upload a new version").click()
    slower = tmp_path / "slower" / "witness-reminders.yaml"
    slower.parent.mkdir()
    slower.write_text(YAML.replace("max_per_second: 10", "max_per_second: 5"))
    page.get_by_label("Trial definition (YAML)").set_input_files(slower)
    page.get_by_label("Letter files the definition names (optional)").set_input_files(
        [LETTERS / "social_norm.md", LETTERS / "social_norm.cy.md"]
    )
    press(page, "Check and show the changes")
    changes = page.get_by_role("table", name="Changes from version 1")
    expect(changes.get_by_role("row", name="sending.max_per_second 10.0 5.0")).to_be_visible()
    reflowed(page)

    press(page, "Save the amendment")  # no reason given
    assert page.title().startswith("Error: Amend")
    assert follows_each_link_to_focus(page) == ["reason"]
    assert page.get_by_label("Reason for the change").get_attribute("aria-invalid") == "true"
    expect(page.get_by_role("table", name="Changes from version 1")).to_be_visible()
    reflowed(page)

    page.get_by_label("Reason for the change").fill("The court asked for a slower pace")
    press(page, "Save the amendment")
    assert "Amended: version 2" in page.get_by_role("alert").inner_text()
    history = page.get_by_role("row", name="2 amended")
    assert "sending.max_per_second: 10.0 → 5.0" in history.inner_text()
    reflowed(page)
    page.close()


def test_a_lead_is_refused_the_upload_and_amendment_pages(
    browser: Any, site: str, tmp_path: Path
) -> None:
    page = log_in_page(browser.new_page(), site, "researcher")
    page.goto(f"{site}/trials/new")
    page.get_by_label("Trial definition (YAML)").set_input_files(EXAMPLE)
    page.get_by_label("Letter files the definition names (optional)").set_input_files(
        [LETTERS / "social_norm.md", LETTERS / "social_norm.cy.md"]
    )
    press(page, "Check and create draft")
    page.close()
    lead = log_in_page(browser.new_page(), site, "lead")
    assert lead.get_by_role("link", name="New trial").count() == 0
    for path in ("/trials/new", f"/trials/{TRIAL}/amend"):
        response = lead.goto(f"{site}{path}")
        assert response is not None and response.status == 403
        expect(lead.get_by_role("heading", name="Forbidden")).to_be_visible()
        checked(lead)
    lead.close()
