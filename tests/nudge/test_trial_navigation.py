"""Every trial page carries the trial's sub-navigation, by role, with the current page marked.

The pages are read from the app's URL map (as the reflow test does), so a new trial page is
checked as soon as it exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session

from nudge.clock import FixedClock
from tests.factories import launch
from tests.nudge.test_browser_reflow import DRAFT, NOT_PAGES, create_draft
from tests.trial_factories import TRIAL
from tests.web_helpers import logged_in, make_app

EVERYONE = ["Overview", "Results"]
RESEARCHERS = ["Overview", "Results", "Messages", "Replies", "Manage"]
# The item marked current on each page this test knows; launch and amend are steps of Manage.
CURRENT = {
    "overview.overview_page": "Overview",
    "results.results_page": "Results",
    "message_pages.message_log_page": "Messages",
    "people_pages.find_person": "Messages",
    "reply_pages.trial_replies": "Replies",
    "trial_pages.manage": "Manage",
    "trial_pages.launch": "Manage",
    "trial_pages.amend": "Manage",
    "pause_pages.pause_page": "Manage",
}
NAV = re.compile(
    r'<nav class="moj-sub-navigation" aria-label="Pages of this trial">(.*?)</nav>', re.S
)
LINK = re.compile(r"<a ([^>]*)>(.*?)</a>", re.S)
BADGE = re.compile(r'<span class="moj-notification-badge">.*?</span></span>', re.S)


@pytest.fixture
def app(
    db_url: str, session: Session, clock: FixedClock, staff: None, example_dir: Path
) -> Iterator[Flask]:
    """A live trial and a draft beside it (whose pages differ: launch, no results)."""
    app = make_app(db_url)
    launch(session, clock, example_dir / "witness-reminders.yaml")
    create_draft(session, clock, example_dir)
    yield app
    app.extensions["nudge"]["engine"].dispose()


def trial_pages(app: Flask) -> list[tuple[str, str]]:
    """(endpoint, path) of every page that takes only a trial, for both trials."""
    adapter = app.url_map.bind("localhost")
    return [
        (rule.endpoint, adapter.build(rule.endpoint, {"trial_id": trial_id}))
        for rule in app.url_map.iter_rules()
        if rule.arguments == {"trial_id"}
        and "GET" in (rule.methods or ())
        and rule.endpoint not in NOT_PAGES
        for trial_id in (TRIAL, DRAFT)
    ]


def sub_navigation(page: str) -> list[tuple[str, bool]]:
    """The sub-navigation's items as (name, whether marked the current page)."""
    found = NAV.findall(page)
    assert len(found) == 1, f"{len(found)} trial navigations"
    return [
        (" ".join(re.sub(r"<[^>]+>", "", BADGE.sub("", text)).split()), 'aria-current="page"' in a)
        for a, text in LINK.findall(found[0])
    ]


def test_a_researcher_sees_every_trial_page_with_all_five_items_and_the_current_one_marked(
    app: Flask,
) -> None:
    client = logged_in(app, "researcher")
    pages = trial_pages(app)
    assert set(CURRENT) <= {endpoint for endpoint, _ in pages}
    for endpoint, path in pages:
        response = client.get(path, follow_redirects=True)  # launching a live trial: manage
        assert response.status_code == 200, path
        items = sub_navigation(response.get_data(as_text=True))
        assert [name for name, _ in items] == RESEARCHERS, path
        current = [name for name, marked in items if marked]
        if response.request.path != path:
            assert current == ["Manage"], path
        elif endpoint in CURRENT:
            assert current == [CURRENT[endpoint]], path
        else:
            assert len(current) <= 1, path


def test_a_lead_sees_overview_and_results_only_and_is_refused_the_rest(app: Flask) -> None:
    client = logged_in(app, "lead")
    for endpoint, path in trial_pages(app):
        response = client.get(path)
        if CURRENT.get(endpoint) in ("Messages", "Replies", "Manage"):
            assert response.status_code == 403, path
            continue
        assert response.status_code == 200, path
        assert [name for name, _ in sub_navigation(response.get_data(as_text=True))] == EVERYONE


def test_the_trials_list_takes_a_researcher_to_each_trials_manage_messages_and_replies(
    app: Flask,
) -> None:
    page = logged_in(app, "researcher").get("/").get_data(as_text=True)
    for trial_id in (TRIAL, DRAFT):
        for part in ("manage", "messages", "replies"):
            assert f'href="/trials/{trial_id}/{part}"' in page, (trial_id, part)
    lead = logged_in(app, "lead").get("/").get_data(as_text=True)
    assert "/manage" not in lead and "/messages" not in lead and "/replies" not in lead


def test_every_trial_page_of_a_trial_that_does_not_exist_is_the_404_page(app: Flask) -> None:
    client = logged_in(app, "researcher")
    for _endpoint, path in trial_pages(app):
        missing = path.replace(f"/trials/{TRIAL}/", "/trials/no-such-trial/")
        if missing == path:
            continue  # the draft's copy of the same page
        response = client.get(missing)
        assert response.status_code == 404, missing
        page = response.get_data(as_text=True)
        assert "There is nothing at this address" in page and DRAFT not in page, missing
