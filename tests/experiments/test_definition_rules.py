"""Each validation rule, shown with a bad definition and the exact message a researcher gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.loader import load_trial_file
from messages.checks import check_definition

BASE = """\
id: t1
title: Test trial
timezone: Europe/London
arms:
  - id: control
    title: Control
    control: true
  - id: sms
    title: SMS
    messages:
      - {channel: sms, template: reminder, send: {days_before: 2, at: "18:00"}}
templates:
  reminder:
    en: "Hi {{ first_name }}, court on {{ hearing_date }} at {{ hearing_time }}."
outcomes:
  - {id: attended, primary: true}
"""


def problems_for(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "trial.yaml"
    path.write_text(text, encoding="utf-8")
    return [
        str(p).replace(str(tmp_path) + "/", "")
        for p in check_definition(load_trial_file(path)).problems
    ]


def assert_refused_at(tmp_path: Path, text: str, expected: str) -> None:
    """Validating `text` reports a problem that starts with `expected`: where, then what."""
    problems = problems_for(tmp_path, text)
    assert any(p.startswith(expected) for p in problems), problems


def test_the_base_definition_is_valid(tmp_path: Path) -> None:
    assert problems_for(tmp_path, BASE) == []


CASES = {
    "missing required key": (
        BASE.replace("timezone: Europe/London\n", ""),
        ["trial.yaml:1:1: missing required key 'timezone'"],
    ),
    "unknown key with a suggestion": (
        BASE.replace("title: Test trial\n", "title: Test trial\nhypotesis: x\n"),
        ["trial.yaml:3:1: unknown key 'hypotesis'; did you mean 'hypothesis'?"],
    ),
    "unknown key inside a list item": (
        BASE.replace("    control: true\n", "    control: true\n    colour: red\n"),
        [
            "trial.yaml:8:5: arms[0]: unknown key 'colour' (allowed here: control, description, "
            "id, messages, tags, title, weight)"
        ],
    ),
    "wrong type": (
        BASE.replace("    control: true\n", "    control: true\n    weight: heavy\n"),
        ["trial.yaml:8:13: arms[0].weight: must be a whole number, such as 2 (not 'heavy')"],
    ),
    "bad choice": (
        BASE + "randomisation: {method: minimisation}\n",
        [
            "trial.yaml:17:25: randomisation.method: must be 'simple' or 'permuted_blocks' "
            "(not 'minimisation')"
        ],
    ),
    "yaml syntax": (
        BASE.replace("title: Test trial", "title: [Test trial"),
        ["trial.yaml:3:9: YAML syntax: expected ',' or ']', but got ':'"],
    ),
    "duplicate key": (
        BASE.replace("title: Test trial\n", "title: Test trial\ntitle: Again\n"),
        [
            'trial.yaml:3:1: YAML syntax: found duplicate key "title" with value "Again" '
            '(original value: "Test trial")'
        ],
    ),
    "no control arm": (
        BASE.replace("    control: true\n", ""),
        ["trial.yaml:5:3: arms: exactly one arm must have control: true (found 0)"],
    ),
    "two control arms": (
        BASE.replace("    title: SMS\n", "    title: SMS\n    control: true\n"),
        ["trial.yaml:8:5: arms: exactly one arm must have control: true (found 2)"],
    ),
    "weight not positive": (
        BASE.replace("    control: true\n", "    control: true\n    weight: 0\n"),
        ["trial.yaml:8:13: arms[0].weight: must be greater than 0 (got 0)"],
    ),
    "block size not a multiple of the total weight": (
        BASE + "randomisation: {block_sizes: [2, 3]}\n",
        [
            "trial.yaml:17:34: randomisation.block_sizes[1]: 3 is not a multiple of the total arm "
            "weight 2"
        ],
    ),
    "blocks with simple randomisation": (
        BASE + "randomisation: {method: simple, block_sizes: [2]}\n",
        [
            "trial.yaml:17:46: randomisation.block_sizes: simple randomisation has no blocks; "
            "remove block_sizes or use method: permuted_blocks"
        ],
    ),
    "duplicate arm id": (
        BASE.replace("  - id: sms\n", "  - id: control\n"),
        ["trial.yaml:8:9: arms[1].id: arm id 'control' is used more than once"],
    ),
    "duplicate outcome id": (
        BASE + "  - {id: attended}\n",
        ["trial.yaml:17:10: outcomes[1].id: outcome id 'attended' is used more than once"],
    ),
    "duplicate covariate": (
        BASE + "analysis: {covariates: [age, age], columns: {age: numeric}}\n",
        ["trial.yaml:17:30: analysis.covariates[1]: covariate 'age' is used more than once"],
    ),
    "duplicate stratum": (
        BASE + "population: {strata: [court, court]}\nanalysis: {columns: {court: categorical}}\n",
        ["trial.yaml:17:30: population.strata[1]: stratum 'court' is used more than once"],
    ),
    "two primary outcomes": (
        BASE + "  - {id: withdrew, primary: true}\n",
        [
            "trial.yaml:17:29: outcomes[1].primary: only one outcome can be primary "
            "('attended' already is)"
        ],
    ),
    "no primary among several outcomes": (
        BASE.replace("primary: true", "primary: false") + "  - {id: withdrew}\n",
        ["trial.yaml:16:3: outcomes: mark the pre-registered primary outcome with primary: true"],
    ),
    "unknown template": (
        BASE.replace("template: reminder", "template: remindr"),
        [
            "trial.yaml:11:34: arms[1].messages[0].template: unknown template 'remindr' "
            "(templates: reminder)",
            "trial.yaml:13:3: warning: templates.reminder: no arm sends this template",
        ],
    ),
    "template without English": (
        BASE.replace('    en: "Hi', '    cy: "Hi'),
        [
            "trial.yaml:14:5: templates.reminder: an English text (en) is required; it is the "
            "fallback for every other language"
        ],
    ),
    "placeholder typo": (
        BASE.replace("{{ first_name }}", "{{ frist_name }}"),
        ["trial.yaml:14:9: templates.reminder.en: unknown placeholder 'frist_name'"],
    ),
    "template syntax error": (
        BASE.replace("{{ first_name }}", "{{ first_name }"),
        [
            "trial.yaml:14:9: templates.reminder.en: template syntax error on its line 1: "
            "unexpected '}'"
        ],
    ),
    "template file missing": (
        BASE.replace('    en: "Hi', '    en: {file: letters/none.md}\n    cy: "Hi'),
        [
            "trial.yaml:14:16: templates.reminder.en.file: no file 'letters/none.md' next to the "
            "definition"
        ],
    ),
    "template neither text nor file": (
        BASE.replace('    en: "Hi', '    en: [1]\n    cy: "Hi'),
        [
            "trial.yaml:14:9: templates.reminder.en: should be the text itself or "
            "{file: path/to/file}"
        ],
    ),
    "bad send time": (
        BASE.replace('at: "18:00"', 'at: "6pm"'),
        [
            "trial.yaml:11:71: arms[1].messages[0].send.at: '6pm' is not a 24-hour time like "
            '"18:00"'
        ],
    ),
    "letter with a send time": (
        BASE.replace(
            "{channel: sms, template: reminder, send: {days_before: 2, at:",
            "{channel: letter, template: reminder, send: {days_before: 2, at:",
        ),
        [
            "trial.yaml:11:74: arms[1].messages[0].send.at: a letter has no send time (it is "
            "posted to arrive in time); remove 'at'"
        ],
    ),
    "bad quiet hours": (
        BASE + 'sending: {quiet_hours: {start: "25:00", end: "08:00"}}\n',
        [
            "trial.yaml:17:32: sending.quiet_hours.start: '25:00' is not a 24-hour time like "
            '"20:00"'
        ],
    ),
    "empty quiet hours": (
        BASE + 'sending: {quiet_hours: {start: "08:00", end: "08:00"}}\n',
        [
            "trial.yaml:17:24: sending.quiet_hours: start and end are the same; remove "
            "quiet_hours for none"
        ],
    ),
    "unknown timezone": (
        BASE.replace("Europe/London", "Europe/Londres"),
        [
            "trial.yaml:3:11: timezone: unknown timezone 'Europe/Londres' (use an IANA name such "
            "as Europe/London)"
        ],
    ),
    "rule with two operators": (
        BASE + "population: {eligibility: [{field: age, min: 18, max: 99}]}\n",
        [
            "trial.yaml:17:28: population.eligibility[0]: a rule needs exactly one of equals, in, "
            "min, max, present (this one has min, max)"
        ],
    ),
    "rule whose operator is empty": (
        BASE + "population: {eligibility: [{field: role, in: null}]}\n",
        [
            "trial.yaml:17:28: population.eligibility[0]: 'in' needs a value to compare role "
            "with (it is empty here)"
        ],
    ),
    "only one arm": (
        BASE.replace(
            "  - id: sms\n    title: SMS\n    messages:\n      - {channel: sms, "
            'template: reminder, send: {days_before: 2, at: "18:00"}}\n',
            "",
        ),
        ["trial.yaml:5:3: arms: list at least 2 items (there is 1)"],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_definition_gets_its_exact_message(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    assert problems_for(tmp_path, text) == expected


def test_sms_with_a_curly_quote_warns_that_it_turns_ucs2(tmp_path: Path) -> None:
    text = BASE.replace("court on", "court\u2019s on")
    assert problems_for(tmp_path, text) == [
        "trial.yaml:14:9: warning: templates.reminder.en: '\u2019' (use ''') makes this SMS "
        "UCS-2: 1 segment(s) of 70 characters instead of 160"
    ]


def test_sms_naming_the_persons_role_warns_about_safeguarding(tmp_path: Path) -> None:
    text = BASE.replace("court on", "as a witness, court on")
    assert problems_for(tmp_path, text) == [
        "trial.yaml:14:9: warning: templates.reminder.en: the text says 'witness'; a reminder "
        "must not reveal the case or the person's part in it to someone who sees their phone"
    ]


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = (
        BASE.replace("Europe/London", "Mars/Base")
        .replace("    control: true\n", "")
        .replace("{{ first_name }}", "{{ frist_name }}")
    )
    assert [p.split(": ")[1] for p in problems_for(tmp_path, text)] == [
        "timezone",
        "arms",
        "templates.reminder.en",
    ]


def test_a_template_no_arm_sends_is_flagged(tmp_path: Path) -> None:
    text = BASE.replace("templates:\n", "templates:\n  spare:\n    en: Hello\n")
    assert problems_for(tmp_path, text) == [
        "trial.yaml:13:3: warning: templates.spare: no arm sends this template"
    ]


def test_the_shipped_example_is_valid_without_warnings() -> None:
    from tests.conftest import EXAMPLE

    checked = check_definition(load_trial_file(EXAMPLE))
    assert checked.ok and checked.problems == []
