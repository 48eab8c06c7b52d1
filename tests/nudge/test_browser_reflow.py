"""Every page of the app reflows at 320 CSS px (WCAG 2.1 1.4.10): nothing scrolls sideways.

The pages are read from the app's own URL map, so a new page is measured as soon as it exists:
a route with a part this test cannot fill in fails until it is given a value below. Wide tables
may scroll inside their own labelled region; the document itself must not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlmodel import Session

from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file
from messages.replies import handle_reply
from nudge.clock import FixedClock
from tests.trial_factories import TRIAL
from tests.web_helpers import log_in_page

NARROW = 320
# A draft beside the live trial: its pages differ (launch, no results), and its long id is one
# unbroken string that must wrap.
DRAFT = "draft-of-a-reminder-trial-with-a-deliberately-long-unbroken-identifier-2027"
# Routes that are not pages, and why they are not measured.
NOT_PAGES = {
    "static": "stylesheets, scripts and images",
    "healthz": "a JSON answer for the load balancer",
    "overview.letter_preview": "a PDF download",
    "results.results_download_csv": "a CSV download",
    "results.results_download_json": "a JSON download",
    "results.results_download_pdf": "a PDF download",
    "results.results_bundle": "a zip download",
    "audit_pages.audit_download": "a CSV download",
    "message_pages.message_log_download": "a CSV download",
}


# Values for route parts other than a trial: the first account (rita), a set-password token
# that does not work (its page says so; tests/nudge/test_browser_admin.py measures the form), and
# the person whose timeline holds the long reply below (in the draft: the not-found page).
OTHER_PARTS = {"user_id": 1, "token": "a-link-that-does-not-work", "ref": "P00003"}


def create_draft(session: Session, clock: FixedClock, example_dir: Path) -> None:
    path = example_dir / "witness-reminders.yaml"
    path.write_text(path.read_text().replace(TRIAL, DRAFT))
    loaded = load_trial_file(path)
    assert isinstance(loaded, LoadedTrial), loaded
    trials.create_trial(session, clock, loaded, trials.Actor("test:researcher"))
    session.commit()


def add_long_reply(session: Session, clock: FixedClock) -> None:
    """A reply holding a long link, as people paste them: one word wider than any phone."""
    handle_reply(
        session,
        clock,
        provider_id="SM" + "7" * 32,
        from_number="+447700900003",
        to_number="+447700900000",
        body="Is this the right court? https://www.example.org/" + "court-finder-" * 8,
    )
    session.commit()


def page_paths(app: Flask) -> list[str]:
    """The path of every page the app serves by GET, once for each trial where it takes one."""
    adapter = app.url_map.bind("localhost")
    paths: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in NOT_PAGES or "GET" not in (rule.methods or ()):
            continue
        unknown = set(rule.arguments) - {"trial_id"} - set(OTHER_PARTS)
        assert not unknown, f"{rule.rule}: give {sorted(unknown)} a seeded value in this test"
        others = {k: v for k, v in OTHER_PARTS.items() if k in rule.arguments}
        for trial_id in (TRIAL, DRAFT) if "trial_id" in rule.arguments else (None,):
            values = {"trial_id": trial_id} if trial_id else {}
            paths.append(adapter.build(rule.endpoint, {**values, **others}))
    return paths


def too_wide(page: Any, base: str, paths: list[str], who: str) -> list[str]:
    """Each page whose document is wider than the screen, named with its width."""
    wide = []
    for path in paths:
        page.goto(f"{base}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > NARROW:
            wide.append(f"{path} as {who} is {width} px wide at {NARROW} px")
    return wide


def test_no_page_scrolls_sideways_on_a_320_px_screen(
    browser: Any,
    live_app: tuple[str, Any],
    results_site: str,
    session: Session,
    clock: FixedClock,
    example_dir: Path,
) -> None:
    create_draft(session, clock, example_dir)
    add_long_reply(session, clock)
    base, app = live_app
    paths = page_paths(app)
    assert {"/", f"/trials/{TRIAL}/results", f"/trials/{DRAFT}/launch", "/login"} <= set(paths)
    assert {"/admin/users", "/admin/users/1", "/admin/audit"} <= set(paths)
    assert f"/trials/{TRIAL}/people/P00003" in paths
    assert {f"/trials/{TRIAL}/replies", "/replies"} <= set(paths)
    page = browser.new_page(viewport={"width": NARROW, "height": 640})
    wide = too_wide(page, base, ["/login"], "nobody")
    for role in ("researcher", "lead", "admin"):
        page.context.clear_cookies()
        log_in_page(page, base, role)
        wide += too_wide(page, base, [p for p in paths if p != "/login"], f"the {role}")
    # The message log's wide table scrolls in its own region, which a keyboard can reach.
    page.context.clear_cookies()
    log_in_page(page, base, "researcher")
    page.goto(f"{base}/trials/{TRIAL}/messages")
    region = page.get_by_role("region", name="Messages, page 1 of")
    assert region.get_by_role("table").count() == 1
    region.focus()
    assert region.evaluate("r => document.activeElement === r && r.scrollWidth > r.clientWidth")
    # The long reply was measured in its trial's queue, where its person's replies go.
    page.goto(f"{base}/trials/{TRIAL}/replies")
    assert page.get_by_text("https://www.example.org/court-finder-").count() == 1
    page.close()
    assert not wide, "pages that scroll sideways:\n" + "\n".join(wide)
