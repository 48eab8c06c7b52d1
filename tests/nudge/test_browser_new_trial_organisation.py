"""A researcher in two organisations creates a trial in Chromium and chooses which one it is
for, from GOV.UK radios listing only the organisations where they are a researcher: not
choosing is an error in the summary whose link moves focus to the radios. axe-core checks each
state, and each reflows at 320 CSS px."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session, select

from nudge.clock import FixedClock
from nudge.models import Organisation, Trial
from tests.conftest import EXAMPLE
from tests.experiments.test_new_trial_organisation_choice import _join
from tests.experiments.test_trial_pages import TRIAL
from tests.nudge.test_browser_upload import LETTERS, follows_each_link_to_focus, press, reflowed
from tests.web_helpers import log_in_page


def test_a_researcher_in_two_organisations_chooses_which_one_the_new_trial_is_for(
    browser: Any, site: str, session: Session, clock: FixedClock
) -> None:
    south = _join(session, clock, "south", "Southshire Victim Service", "researcher")
    _join(session, clock, "west", "Westshire Police", "lead")
    page = log_in_page(browser.new_page(), site, "researcher")
    page.get_by_role("link", name="New trial").click()
    radios = page.get_by_role("group", name="Organisation")
    # Waits for the new page (a count alone does not wait, and read the old one under load).
    expect(radios.get_by_role("radio")).to_have_count(2)
    expect(radios.get_by_role("radio", name="Southshire Victim Service")).to_be_visible()
    expect(radios.get_by_role("radio", name="Westshire Police")).to_have_count(0)  # a lead
    reflowed(page)

    page.get_by_label("Trial definition (YAML)").set_input_files(EXAMPLE)
    page.get_by_label("Letter files the definition names (optional)").set_input_files(
        [LETTERS / "social_norm.md", LETTERS / "social_norm.cy.md"]
    )
    press(page, "Check and create draft")  # no organisation chosen
    assert page.title().startswith("Error: New trial")
    summary = page.locator(".govuk-error-summary")
    assert "Organisation: choose the organisation the trial is for" in summary.inner_text()
    assert follows_each_link_to_focus(page) == ["organisation"]
    assert session.get(Trial, TRIAL) is None
    reflowed(page)

    radios.get_by_role("radio", name="Southshire Victim Service").check()
    press(page, "Check and create draft")  # the files are held: not chosen again
    assert f"Created draft trial {TRIAL}" in page.get_by_role("alert").inner_text()
    reflowed(page)
    session.expire_all()
    trial = session.get(Trial, TRIAL)
    assert trial is not None and trial.organisation_id == south
    owner = session.exec(select(Organisation.slug).where(Organisation.id == south)).one()
    assert owner == "south"
    page.close()
