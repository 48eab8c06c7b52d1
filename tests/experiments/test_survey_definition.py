"""Declaring surveys: questions at the top level, the same for every arm, each collecting one
outcome's answers; refused where written, with what to do; earlier trials keep their SHA-256."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.definition import TrialDefinition
from experiments.loader import LoadedTrial, canonical_form, load_trial_file, sha256_of
from tests.experiments.test_definition_rules import BASE, problems_for

OUTCOMES = "outcomes:\n  - {id: attended, primary: true}\n"
SCALE = OUTCOMES + "  - {id: confidence, type: scale, scale: {min: 1, max: 5}}\n"
YES_NO = OUTCOMES + "  - {id: supported}\n"
SURVEY = """\
surveys:
  - id: confidence
    outcome: confidence
    text: {en: "How confident are you? Reply 1 to 5.", cy: "Pa mor hyderus ydych chi? 1 i 5."}
    send: {days_after: 2, of: hearing, at: "10:00"}
    reminder: {after_hours: 48}
    closes: {days_after_sent: 7}
"""
WORDS = """\
  - id: supported
    outcome: supported
    text: {en: "Did you feel supported? Reply yes or no."}
    words: {en: {"yes": true, "no": false}, cy: {ie: true, na: false}}
    send: {days_after: 2}
    closes: {days_after_sent: 7}
"""


def _with(outcomes: str, surveys: str) -> str:
    return BASE.replace(OUTCOMES, outcomes) + surveys


def _loaded(tmp_path: Path, text: str) -> LoadedTrial:
    path = tmp_path / "trial.yaml"
    path.write_text(text, encoding="utf-8")
    result = load_trial_file(path)
    assert isinstance(result, LoadedTrial), result
    return result


def test_a_trial_without_surveys_keeps_its_sha256(tmp_path: Path) -> None:
    before = canonical_form(_loaded(tmp_path, BASE))
    assert "surveys" not in before
    after = canonical_form(_loaded(tmp_path, BASE + "surveys: []\n"))
    assert sha256_of(after) == sha256_of(before)


def test_a_scale_question_and_a_yes_no_question_are_valid_and_stored_as_written(
    tmp_path: Path,
) -> None:
    text = _with(SCALE + "  - {id: supported}\n", SURVEY + WORDS)
    assert problems_for(tmp_path, text) == []
    stored = canonical_form(_loaded(tmp_path, text))
    assert [s["id"] for s in stored["surveys"]] == ["confidence", "supported"]
    assert stored["surveys"][1]["words"]["cy"] == {"ie": True, "na": False}
    again = TrialDefinition.model_validate(json.loads(json.dumps(stored)))
    assert again.surveys == _loaded(tmp_path, text).definition.surveys


def test_a_survey_under_an_arm_is_refused_because_it_is_measurement_not_treatment(
    tmp_path: Path,
) -> None:
    under_arm = BASE.replace(
        "    title: SMS\n", "    title: SMS\n    surveys:\n      - {id: confidence}\n"
    )
    [problem] = problems_for(tmp_path, under_arm)
    assert problem.startswith("trial.yaml:10:5: arms[1]: a survey cannot be declared under an arm")
    assert "measurement, not treatment" in problem and "top-level surveys:" in problem


@pytest.mark.parametrize(
    ("outcomes", "surveys", "expected"),
    [
        (
            OUTCOMES,
            SURVEY,
            "trial.yaml:19:14: surveys[0].outcome: 'confidence' is not an outcome of the trial",
        ),
        (
            OUTCOMES + "  - {id: visits, type: count}\n",
            SURVEY.replace("outcome: confidence", "outcome: visits"),
            "trial.yaml:20:14: surveys[0].outcome: 'visits' is a count outcome",
        ),
        (
            YES_NO,
            "surveys:\n" + WORDS.replace(WORDS.splitlines()[3] + "\n", ""),
            "trial.yaml:19:5: surveys[0]: 'supported' is yes/no: list the words accepted",
        ),
        (
            YES_NO,
            "surveys:\n" + WORDS.replace("cy: {ie: true, na: false}", "cy: {ie: true, na: 0}"),
            "trial.yaml:22:64: surveys[0].words.cy.na: a yes/no outcome's words mean true or false",
        ),
        (
            YES_NO,
            "surveys:\n" + WORDS.replace("cy: {ie: true, na: false}", "cy: {ie: true}"),
            "trial.yaml:22:49: surveys[0].words.cy: give at least one word for yes and one for no",
        ),
        (
            YES_NO,
            "surveys:\n" + WORDS.replace('"no": false', '"stop": false'),
            "trial.yaml:22:31: surveys[0].words.en: 'stop' begins with a reply keyword",
        ),
        (
            SCALE,
            SURVEY.replace(
                "send: {days_after: 2, of: hearing", "send: {days_after: 2, of: verdict"
            ),
            "trial.yaml:22:31: surveys[0].send.of: 'verdict' is not the hearing or a milestone",
        ),
        (
            SCALE,
            SURVEY.replace("after_hours: 48", "after_hours: 168"),
            "trial.yaml:23:29: surveys[0].reminder.after_hours: 168 hours is not before the survey "
            "closes",
        ),
        (
            SCALE,
            SURVEY.replace('{en: "How confident are you? Reply 1 to 5.", cy:', "{cy:"),
            "trial.yaml:21:11: surveys[0].text: an English text (en) is required",
        ),
        (
            SCALE,
            SURVEY + SURVEY.replace("surveys:\n", ""),
            "trial.yaml:25:9: surveys[1].id: survey 'confidence' is used more than once",
        ),
    ],
)
def test_a_mistake_in_a_survey_is_refused_where_it_is_written(
    tmp_path: Path, outcomes: str, surveys: str, expected: str
) -> None:
    problems = problems_for(tmp_path, _with(outcomes, surveys))
    assert any(p.startswith(expected) for p in problems), problems
