"""The results and overview pages in headless Chromium: usable without script, and accessible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session

from nudge.accounts import add_user
from nudge.clock import FixedClock
from tests.nudge.test_browser import PASSWORD, no_violations
from tests.trial_factories import TRIAL, seed_trial


def log_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def open_results(
    browser: Any, base: str, width: int = 1280, who: str = "lee@example.org", height: int = 900
) -> Any:
    """A new page at that width, logged in as `who`, on the example trial's results."""
    page = browser.new_page(viewport={"width": width, "height": height})
    log_in(page, base, who)
    page.goto(f"{base}/trials/{TRIAL}/results")
    return page


def seed(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    add_user(session, clock, "rita@example.org", "researcher", PASSWORD, "test")
    add_user(session, clock, "lee@example.org", "lead", PASSWORD, "test")
    session.commit()
    seed_trial(session, clock, tmp_path, people=90)


def test_a_researcher_reads_the_results_and_downloads_the_csv(
    browser: Any, live_app: tuple[str, Any], session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    seed(session, clock, tmp_path)
    base, _ = live_app
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else external.append(r.url))
    log_in(page, base, "rita@example.org")
    page.get_by_role("link", name="Results of Reminder framing for prosecution witnesses").click()
    page.wait_for_url(f"{base}/trials/{TRIAL}/results")
    assert page.get_by_role("heading", name="Participant flow").is_visible()
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
    assert page.get_by_role("heading", name="Schedule relative to the hearing").is_visible()
    assert external == []
    context.close()
    # axe runs as a script in the page, so the accessibility check needs JavaScript on.
    checked = browser.new_page()
    log_in(checked, base, "rita@example.org")
    for path in ("results", "overview"):
        checked.goto(f"{base}/trials/{TRIAL}/{path}")
        no_violations(checked)
    checked.close()


def test_a_lead_sees_small_counts_as_fewer_than_5_on_an_accessible_page(
    browser: Any, live_app: tuple[str, Any], session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    seed(session, clock, tmp_path)
    base, _ = live_app
    page = browser.new_page()
    log_in(page, base, "lee@example.org")
    page.goto(f"{base}/trials/{TRIAL}/results")
    table = page.get_by_role("table", name="Victim withdrew support for the prosecution")
    assert "fewer than 5" in table.first.inner_text()
    assert page.get_by_role("note").first.inner_text().startswith("Statistical disclosure control")
    no_violations(page)
    page.close()
