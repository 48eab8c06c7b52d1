"""A survey's texts in the message log: named in words by the survey ("Survey question:
confidence"), not by their template code, which the download keeps for scripts."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session

from experiments.loader import LoadedTrial, load_trial_file
from messages.intake import enrol_and_plan
from messages.log import template_words
from nudge.clock import FixedClock
from nudge.csvout import BYTE_ORDER_MARK
from tests.conftest import EXAMPLE_TRIAL
from tests.factories import launch, person, write_people
from tests.messages.survey_factories import survey_trial
from tests.web_helpers import logged_in, table_rows

LOG = f"/trials/{EXAMPLE_TRIAL}/messages"


@pytest.fixture
def surveyed(session: Session, clock: FixedClock, tmp_path: Path, staff: None) -> Path:
    """Four people in the example trial with its two survey questions planned for each."""
    path = survey_trial(tmp_path, open_to_all=True)
    launch(session, clock, path)
    people = write_people(tmp_path / "p.csv", [person(i) for i in range(1, 5)])
    enrol_and_plan(session, clock, EXAMPLE_TRIAL, people, "t")
    session.commit()
    return path


def test_a_surveys_question_and_reminder_are_named_in_words_on_the_log(
    app: Flask, surveyed: Path
) -> None:
    client = logged_in(app, "researcher")
    html = client.get(f"{LOG}?channel=sms").get_data(as_text=True)
    shown = {row[3] for row in table_rows(html, "Messages, page")[1:]}
    assert "Survey question: confidence (en)" in shown
    assert "Survey reminder: confidence (en)" in shown
    # The yes/no question's outcome is named otherwise ("feeling supported"): both are said.
    assert "Survey question: supported (feeling supported) (en)" in shown
    assert not any(cell.startswith("survey:") for cell in shown)


def test_the_download_keeps_the_survey_template_codes_scripts_match(
    app: Flask, surveyed: Path
) -> None:
    client = logged_in(app, "researcher")
    text = client.get(f"{LOG}.csv?channel=sms").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BYTE_ORDER_MARK))))
    templates = {row["template"] for row in rows}
    assert {"survey:confidence", "survey:confidence:reminder", "survey:supported"} <= templates


def test_an_arms_own_template_and_a_survey_no_longer_defined_keep_plain_names(
    surveyed: Path,
) -> None:
    loaded = load_trial_file(surveyed)
    assert isinstance(loaded, LoadedTrial)
    definition = loaded.definition
    assert template_words("reminder_7d", definition) == "reminder_7d"
    assert template_words("survey:withdrawn", definition) == "Survey question: withdrawn"
    assert template_words("survey:withdrawn:reminder") == "Survey reminder: withdrawn"
