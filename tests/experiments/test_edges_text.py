"""Text no database can store (NUL, lone surrogates): refused where it comes in, with where.

One check, `experiments/characters.py::unstorable`, is used by the definition loader (every key
and value, and each letter file), every CSV import, the amendment form and the command line's
text arguments. Run on PostgreSQL too: it is the engine that refuses NUL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session

from experiments.characters import unstorable
from tests.conftest import Cli
from tests.experiments.test_definition_rules import BASE
from tests.experiments.test_trial_pages import TRIAL, YAML, launched, page_text, upload
from tests.factories import person, row_counts, write_people

SURROGATE = "\\ud800"  # as written in a double-quoted YAML string
NUL = "\\0"
DEFINITIONS = {
    "a lone surrogate in a template": (
        BASE.replace('en: "Hi {{ first_name }},', f'en: "Hi{SURROGATE} {{{{ first_name }}}},'),
        "trial.yaml:14:9: templates.reminder.en: contains a lone surrogate U+D800",
    ),
    "a NUL in the title": (
        BASE.replace("title: Test trial", f'title: "Test{NUL} trial"'),
        "trial.yaml:2:8: title: contains the NUL character U+0000",
    ),
    "a NUL in a letter file's path": (
        BASE.replace(
            '    en: "Hi {{ first_name }}, court on {{ hearing_date }} at {{ hearing_time }}."',
            f'    en: {{file: "letters/x{NUL}.md"}}',
        ),
        "trial.yaml:14:16: templates.reminder.en.file: contains the NUL character U+0000",
    ),
    "a lone surrogate in a key": (
        BASE.replace("templates:\n  reminder:", f'templates:\n  "remind{SURROGATE}er":'),
        "trial.yaml:13:3: templates.remind\\ud800er: contains a lone surrogate U+D800",
    ),
}


@pytest.mark.parametrize("case", DEFINITIONS, ids=list(DEFINITIONS))
@pytest.mark.parametrize("command", ["validate", "create"])
def test_unstorable_text_in_a_definition_is_refused_at_its_line_and_column(
    cli: Cli, tmp_path: Path, case: str, command: str
) -> None:
    text, expected = DEFINITIONS[case]
    path = tmp_path / "trial.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = cli.unchanged("trial", command, str(path))
    assert result.exit_code == 1, result.output
    lines = [line.replace(str(tmp_path) + "/", "") for line in result.output.splitlines()]
    assert any(line.startswith(expected) for line in lines), lines


def test_a_nul_inside_a_letter_file_is_refused_naming_the_file_and_its_line(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "letters").mkdir()
    (tmp_path / "letters" / "x.md").write_text("Dear {{ first_name }},\n\nCourt\x00.\n")
    text = BASE.replace(
        '    en: "Hi {{ first_name }}, court on {{ hearing_date }} at {{ hearing_time }}."',
        "    en: {file: letters/x.md}",
    ).replace("channel: sms, template: reminder", "channel: letter, template: reminder")
    path = tmp_path / "trial.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli("trial", "validate", str(path))
    assert result.exit_code == 1
    assert (
        f"{path}:14:16: templates.reminder.en.file: 'letters/x.md' line 3: contains the NUL "
        "character U+0000, which is not text; remove it"
    ) in result.output.splitlines()


@pytest.mark.parametrize("kind", ["enrolment", "hearings", "outcomes"])
def test_a_nul_in_any_imported_cell_is_refused_at_its_line_and_column(
    cli: Cli, tmp_path: Path, kind: str
) -> None:
    cli.launch_example()
    cli("enrol", "witness-reminders-2027", str(write_people(tmp_path / "a.csv", [person(1)])))
    path = tmp_path / f"{kind}.csv"
    if kind == "enrolment":
        write_people(path, [person(2, last_name="Nul\x00face")])
        command, column = ["enrol"], "last_name"
    elif kind == "hearings":
        path.write_text("case_ref,hearing_start,status\nC00001\x00,2027-03-05T10:00,listed\n")
        command, column = ["hearings", "update"], "case_ref"
    else:
        path.write_text("participant_ref,case_ref,attended\nP00001,C00001,y\x00es\n")
        command, column = ["outcomes", "import"], "attended"
    result = cli.unchanged(*command, "witness-reminders-2027", str(path))
    assert result.exit_code == 1
    assert f"{path}:2: {column}: contains the control character '\\x00'" in result.output


@pytest.mark.parametrize(
    "arguments",
    [
        ["trial", "close", "witness-reminders-2027", "--reason", "done\udcff"],
        ["trial", "close", "witness\udcff", "--reason", "done"],
        ["users", "add", "lead\udcff@example.org", "--role", "lead"],
    ],
)
def test_a_command_line_argument_that_is_not_text_is_refused_before_the_database(
    cli: Cli, arguments: list[str]
) -> None:
    result = cli.unchanged(*arguments, input="a long enough password\na long enough password\n")
    assert result.exit_code == 2
    assert "contains a lone surrogate U+DCFF, which is not text and cannot be stored" in (
        result.output
    )


def test_an_amendment_reason_with_a_nul_is_refused_on_the_form(
    researcher: FlaskClient, session: Session
) -> None:
    launched(researcher)
    before = row_counts(session)
    later = YAML.replace("max_per_second: 10", "max_per_second: 5")
    response = upload(researcher, f"/trials/{TRIAL}/amend", text=later, reason="slower\x00")
    assert response.status_code == 422
    # The form's own check of the reason (no control characters) refuses it at the field.
    assert "holds a control character; type the reason as plain text" in page_text(response)
    assert row_counts(session) == before


def test_the_check_names_nul_and_both_halves_of_a_surrogate_pair_and_nothing_else() -> None:
    assert unstorable("fine: accents é, emoji 🙂, CJK 漢") is None
    assert unstorable("a\x00") == (1, "the NUL character U+0000")
    assert unstorable("\udfff") == (0, "a lone surrogate U+DFFF")
