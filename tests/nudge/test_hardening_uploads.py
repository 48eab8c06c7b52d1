"""Issue 17, the researcher's forms: uploads that cannot be laid out as files, and fields over
their length limit, are refused with a clear message on the form, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from experiments.loader import LoadedTrial
from experiments.upload import UploadedFile, load_upload
from tests.experiments.test_trial_pages import (
    LETTERS,
    TRIAL,
    YAML,
    launched,
    page_text,
    upload,
)
from tests.experiments.test_trial_pages import amend as check_and_save
from tests.factories import row_counts

EN = "{file: letters/social_norm.md}"
CY = "{file: letters/social_norm.cy.md}"


def with_letter_paths(en: str, cy: str) -> str:
    return YAML.replace(EN, en).replace(CY, cy)


def problems(result: object) -> list[str]:
    assert isinstance(result, list), result
    return [str(problem) for problem in result]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("en", "cy"),
    [
        ("{file: x.md}", "{file: x.md/y.md}"),
        ("{file: x.md/y.md}", "{file: x.md}"),  # the folder first, then the file
        ("{file: letters/x.md}", "{file: letters/x.md/deeper/y.md}"),
        ("{file: letters}", "{file: letters/./y.md}"),
    ],
)
def test_a_letter_path_named_as_a_file_and_as_a_folder_is_refused_where_it_stands(
    en: str, cy: str
) -> None:
    text = with_letter_paths(en, cy)
    letters = [UploadedFile(name, b"Dear {{ first_name }},\n") for name in ("x.md", "y.md")]
    letters.append(UploadedFile("letters", b"Dear {{ first_name }},\n"))
    result = problems(load_upload(UploadedFile("trial.yaml", text.encode()), letters).result)
    assert len(result) == 1
    folder_line = line_of(text, "x.md/" if "x.md/" in text else "letters/./")
    assert result[0].startswith(f"trial.yaml:{folder_line}:")
    assert "a path cannot be a file and a folder at once" in result[0]
    assert "rename the file or the folder in the definition" in result[0]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ('"letters/\\0.md"', "embedded null byte"),
        (f"letters/{'n' * 300}.md", "File name too long"),
    ],
)
def test_a_letter_path_the_file_system_refuses_is_named_where_it_stands(
    path: str, why: str
) -> None:
    text = YAML.replace(EN, "{file: " + path + "}")
    name = path.strip('"').replace("\\0", "\0").rsplit("/", 1)[1]
    letters = [*(UploadedFile(n, b) for n, b in LETTERS.items()), UploadedFile(name, b"Dear\n")]
    result = problems(load_upload(UploadedFile("trial.yaml", text.encode()), letters).result)
    assert result[0].startswith(f"trial.yaml:{line_of(text, path)}:16: ")
    assert why in result[0] and "cannot be used as a letter file's path" in result[0]


PIECES = ["x.md", "y.md", "letters", ".", "..", "", "a" * 260, "x.md\0", "\\"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=3), min_size=2, max_size=2))
def test_whatever_paths_the_letters_have_the_upload_loads_or_says_why(
    paths: list[list[str]],
) -> None:
    en, cy = ("/".join(parts) for parts in paths)
    text = with_letter_paths("{file: " + _quoted(en) + "}", "{file: " + _quoted(cy) + "}")
    names = {name for name in PIECES if name} | {"x.md", "y.md"}
    letters = [UploadedFile(n, b"Dear {{ first_name }},\n") for n in sorted(names)]
    result = load_upload(UploadedFile("trial.yaml", text.encode()), letters).result
    if not isinstance(result, LoadedTrial):
        assert all(p.message for p in result)


def _quoted(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace("\0", "\\0") + '"'


def test_the_upload_page_says_which_path_is_both_a_file_and_a_folder_not_a_500(
    researcher: FlaskClient, session: Session
) -> None:
    before = row_counts(session)
    text = with_letter_paths("{file: x.md}", "{file: x.md/y.md}")
    letters = {"x.md": b"Dear {{ first_name }},\n", "y.md": b"Annwyl {{ first_name }},\n"}
    response = upload(researcher, text=text, letters=letters, action="create")
    assert response.status_code == 422
    shown = page_text(response)
    assert f"line {line_of(text, 'x.md/y.md')}" in shown
    assert "'x.md/y.md' puts a letter inside 'x.md'" in shown
    assert row_counts(session) == before


def amend(client: FlaskClient, reason: str, **fields: Any) -> Any:
    later = YAML.replace("max_per_second: 10", "max_per_second: 5")
    return upload(client, f"/trials/{TRIAL}/amend", text=later, reason=reason, **fields)


def test_a_reason_over_its_limit_is_shown_at_the_field_and_the_entries_are_kept(
    researcher: FlaskClient, session: Session
) -> None:
    launched(researcher)
    before = row_counts(session)
    too_long = "the court asked for a slower pace. " * 40  # 1,400 characters
    response = amend(researcher, too_long, template_fix="y")
    assert response.status_code == 422
    shown = page_text(response)
    assert "1 problem to fix" in shown
    assert "Reason for the change: is 1,400 characters long; shorten it to 1,000" in shown
    assert "Held on the server: witness-reminders.yaml" in shown  # no file to choose again
    body = response.get_data(as_text=True)
    assert 'href="#reason"' in body  # the summary links to the field
    assert 'id="reason-error"' in body and 'aria-invalid="true"' in body
    assert too_long.strip() in body and "checked" in body.split('id="template_fix"')[1][:80]
    assert row_counts(session) == before
    accepted = check_and_save(researcher, reason=too_long[:1000])
    assert accepted.status_code == 302


def test_a_reason_over_its_limit_is_reported_with_the_files_own_problems(
    researcher: FlaskClient,
) -> None:
    launched(researcher)
    broken = YAML.replace("max_per_second: 10", "max_per_second: -5")
    response = upload(researcher, f"/trials/{TRIAL}/amend", text=broken, reason="x" * 1001)
    assert response.status_code == 422
    shown = page_text(response)
    assert "2 problems to fix" in shown and "max_per_second" in shown


def test_a_reason_with_a_control_character_is_refused_not_stored(
    researcher: FlaskClient, session: Session
) -> None:
    launched(researcher)
    before = row_counts(session)
    response = amend(researcher, "slower\0pace")
    assert response.status_code == 422
    assert "Reason for the change: holds a control character" in page_text(response)
    assert row_counts(session) == before


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("rita@example.org", "", "Enter your email address and password"),
        ("", "correct horse battery", "Enter your email address and password"),
        ("r" * 300 + "@example.org", "correct horse battery", "The email or password is not"),
        ("rita@example.org", "p" * 1001, "The email or password is not right"),
    ],
)
def test_a_login_form_that_fails_its_field_checks_says_so(
    app: Flask, email: str, password: str, message: str
) -> None:
    from tests.web_helpers import csrf_token

    client = app.test_client()
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 401
    assert message in page_text(response)
