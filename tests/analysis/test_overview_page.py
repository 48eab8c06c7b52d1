"""The trial overview: the registered design, messages as the sample participant gets them."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pdfplumber
import pytest
from flask import Flask
from sqlmodel import Session

from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file
from messages.preview import preview_arm
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE
from tests.factories import launch
from tests.messages.whole_journey import whole_journey
from tests.web_helpers import logged_in

TRIAL = "witness-reminders-2027"


@pytest.fixture
def amended(session: Session, clock: FixedClock, example_dir: Path, staff: None) -> str:
    """The example trial, launched, then amended with a reason (a new care-unit number)."""
    launch(session, clock, EXAMPLE)
    path = example_dir / "witness-reminders.yaml"
    path.write_text(path.read_text().replace("0117 496 0000", "0117 496 0999"))
    loaded = load_trial_file(path)
    assert isinstance(loaded, LoadedTrial)
    trials.amend_trial(
        session, clock, TRIAL, loaded, trials.Actor("test"), reason="The unit moved office"
    )
    session.commit()
    return TRIAL


def test_the_overview_shows_the_design_the_messages_and_the_history(
    app: Flask, amended: str, session: Session
) -> None:
    client = logged_in(app, "lead")
    page = html.unescape(client.get(f"/trials/{TRIAL}/overview").get_data(as_text=True))
    definition = trials.current_definition(session, trials.get_trial(session, TRIAL))
    assert definition.hypothesis and definition.hypothesis in page
    current = trials.current_version(session, trials.get_trial(session, TRIAL))
    assert current.sha256 in page and "The unit moved office" in page
    for version in trials.versions(session, TRIAL):
        assert version.sha256 in page
    for item in preview_arm(definition, "practical"):
        assert item.text in page and "0117 496 0999" in item.text
        assert f"{item.encoding}, {item.characters} characters, {item.segments} segment" in page
    assert journey_titles(page, "social_norm") == [
        "When the hearing moves",
        "When the hearing is vacated, withdrawn or discontinued",
        "14 days before the hearing, to arrive by then",
        "7 days before the hearing, 18:00",
        "The hearing",
        "1 day after the hearing, 10:00",
    ]
    # Everyone gets the timed messages; the moved and vacated texts only if it happens.
    assert (
        "Cost per participant: GBP 1.01, and each text sent on an event (a hearing moved or "
        "vacated, a milestone) for those it happens to"
    ) in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # scripts only as files (the CSP)


def test_the_letter_preview_is_a_pdf_for_the_sample_participant(app: Flask, amended: str) -> None:
    client = logged_in(app, "lead")
    response = client.get(f"/trials/{TRIAL}/arms/social_norm/letters/2.pdf?language=cy")
    assert response.mimetype == "application/pdf"
    with pdfplumber.open(io.BytesIO(response.data)) as document:
        text = "\n".join(page.extract_text() or "" for page in document.pages)
    assert "Alex Example" in text and "BS1 1AA" in text
    assert "Annwyl Alex Example" in text and "Eich diwrnod yn y llys" in text


def journey_titles(page: str, arm_id: str) -> list[str]:
    """The timeline titles of one arm's journey on the overview, in page order."""
    section = page.split(f'<section aria-labelledby="journey-{arm_id}">')[1].split("</section>")[0]
    return re.findall(r'<h4 class="moj-timeline__title">([^<]*)</h4>', section)


def test_the_overview_draws_each_arms_whole_journey_from_charge_to_verdict(
    app: Flask, session: Session, clock: FixedClock, tmp_path: Path, staff: None
) -> None:
    launch(session, clock, whole_journey(tmp_path))
    session.commit()
    page = html.unescape(
        logged_in(app, "lead").get(f"/trials/{TRIAL}/overview").get_data(as_text=True)
    )
    assert journey_titles(page, "practical") == [
        "Charged",
        "2 days after the charged milestone, 10:00",
        "Trial listed",
        "When the trial listed milestone is recorded",
        "When the hearing moves",
        "When the hearing is vacated, withdrawn or discontinued",
        "7 days before the hearing, 18:00",
        "1 day before the hearing, 18:00",
        "The hearing",
        "2 hours after the hearing",
        "Verdict",
        "2 hours after the verdict milestone",
    ]
    assert 'SMS, template moved <span class="muted">(English, Welsh; message 6)' in page
    control = page.split('<section aria-labelledby="journey-control">')[1].split("</section>")[0]
    assert "No messages: business as usual." in control
