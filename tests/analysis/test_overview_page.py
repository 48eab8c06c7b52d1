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
    whens = re.findall(r'<h3 class="moj-timeline__title">(\d+) days? before', page)
    assert whens == sorted(whens, key=int, reverse=True) and whens[0] == "14"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # scripts only as files (the CSP)


def test_the_letter_preview_is_a_pdf_for_the_sample_participant(app: Flask, amended: str) -> None:
    client = logged_in(app, "lead")
    response = client.get(f"/trials/{TRIAL}/arms/social_norm/letters/2.pdf?language=cy")
    assert response.mimetype == "application/pdf"
    with pdfplumber.open(io.BytesIO(response.data)) as document:
        text = "\n".join(page.extract_text() or "" for page in document.pages)
    assert "Alex Example" in text and "BS1 1AA" in text
    assert "Annwyl Alex Example" in text and "Eich diwrnod yn y llys" in text
