"""The results and overview pages in headless Chromium: usable without script, and accessible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.trial_factories import TRIAL
from tests.web_helpers import RESULTS, log_in_page, no_violations, open_as


def test_a_researcher_reads_the_results_and_downloads_the_csv(
    browser: Any, results_site: str
) -> None:
    base = results_site
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else external.append(r.url))
    log_in_page(page, base, "researcher")
    page.get_by_role("link", name="Results of Reminder framing for prosecution witnesses").click()
    page.wait_for_url(f"{base}{RESULTS}")
    expect(page.get_by_role("heading", name="Participant flow")).to_be_visible()
    forest = page.get_by_role(
        "img", name="Forest plot: effect of each arm on attendance against control"
    )
    assert forest.count() == 1
    assert "Practical information:" in forest.locator("desc").text_content()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    saved = Path(download.value.path())
    assert saved.read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    assert saved.read_text(encoding="utf-8-sig").startswith(
        "Outcome,Primary outcome,Arm,Compared with,Randomised,Analysed,Events,Rate (%),"
    )
    page.get_by_role("link", name="Overview").first.click()
    page.wait_for_url(f"{base}/trials/{TRIAL}/overview")
    expect(page.get_by_role("heading", name="Each arm's journey")).to_be_visible()
    assert external == []
    context.close()
    # axe runs as a script in the page, so the accessibility check needs JavaScript on.
    checked = log_in_page(browser.new_page(), base, "researcher")
    for path in ("results", "overview"):
        checked.goto(f"{base}/trials/{TRIAL}/{path}")
        no_violations(checked)
    checked.close()


def test_a_lead_sees_small_counts_as_fewer_than_5_on_an_accessible_page(
    browser: Any, results_site: str
) -> None:
    page = open_as(browser, results_site, "lead", RESULTS)
    table = page.get_by_role("table", name="Victim withdrew support for the prosecution")
    assert "fewer than 5" in table.first.inner_text()
    assert page.get_by_role("note").first.inner_text().startswith("Statistical disclosure control")
    no_violations(page)
    page.close()
