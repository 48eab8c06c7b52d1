"""The researcher's trial pages: upload and check a definition, create, launch and amend it."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from nudge.models import Trial, TrialVersion
from tests.conftest import EXAMPLE
from tests.factories import row_counts
from tests.web_helpers import csrf_token

YAML = EXAMPLE.read_text(encoding="utf-8")
LETTERS = {
    "social_norm.md": (EXAMPLE.parent / "letters" / "social_norm.md").read_bytes(),
    "social_norm.cy.md": (EXAMPLE.parent / "letters" / "social_norm.cy.md").read_bytes(),
}
TRIAL = "witness-reminders-2027"


def upload(
    client: FlaskClient,
    path: str = "/trials/new",
    *,
    text: str | bytes = YAML,
    name: str = "witness-reminders.yaml",
    letters: dict[str, bytes] | None = None,
    **fields: Any,
) -> Any:
    data = text.encode("utf-8") if isinstance(text, str) else text
    form: dict[str, Any] = {
        "csrf_token": csrf_token(client, path),
        "definition": (io.BytesIO(data), name),
        "letters": [
            (io.BytesIO(b), n) for n, b in (LETTERS if letters is None else letters).items()
        ],
        **fields,
    }
    return client.post(path, data=form, content_type="multipart/form-data")


def page_text(response: Any) -> str:
    """The page as a reader would see it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True))).split())


def create(client: FlaskClient, **overrides: Any) -> Any:
    return upload(client, action="create", **overrides)


def test_an_error_is_shown_with_its_line_and_column_and_the_offending_line_and_nothing_is_saved(
    researcher: FlaskClient, session: Session
) -> None:
    before = row_counts(session)
    broken = YAML.replace("    weight: 1\n  - id: practical", "    weight: 0\n  - id: practical", 1)
    response = create(researcher, text=broken)
    assert response.status_code == 422
    shown = page_text(response)
    line = broken.splitlines().index("    weight: 0") + 1
    assert f"Error in witness-reminders.yaml, line {line}, column 13:" in shown
    assert "arms[0].weight: must be greater than 0 (got 0)" in shown
    assert f"{line} | weight: 0" in shown and "^" in shown
    assert 'role="alert"' in response.get_data(as_text=True)
    assert row_counts(session) == before


def test_a_valid_definition_and_its_letters_become_a_draft_with_its_sms_report(
    researcher: FlaskClient, session: Session
) -> None:
    response = create(researcher)
    assert response.status_code == 201
    stored = session.exec(select(TrialVersion).where(TrialVersion.trial_id == TRIAL)).one()
    shown = page_text(response)
    assert f"Created draft trial {TRIAL}, version 1, SHA-256 {stored.sha256}" in shown
    assert "practical_1d cy GSM-7 162 2" in shown and "social_norm 2 1 0.93" in shown
    assert session.get(Trial, TRIAL).status == "draft"  # type: ignore[union-attr]
    letter = json.loads(stored.canonical_json)["templates"]["social_norm_letter"]["cy"]
    assert letter == LETTERS["social_norm.cy.md"].decode("utf-8")


def test_check_only_reports_the_definition_valid_and_saves_nothing(
    researcher: FlaskClient, session: Session
) -> None:
    before = row_counts(session)
    response = upload(researcher, action="check")
    assert response.status_code == 200
    assert f"The definition of trial {TRIAL} is valid" in page_text(response)
    assert row_counts(session) == before


def test_a_letter_file_not_uploaded_is_named_with_where_the_definition_names_it(
    researcher: FlaskClient, session: Session
) -> None:
    before = row_counts(session)
    response = create(researcher, letters={"social_norm.md": LETTERS["social_norm.md"]})
    assert response.status_code == 422
    line = YAML.splitlines().index("    cy: {file: letters/social_norm.cy.md}") + 1
    assert (
        f"line {line}, column 16: templates.social_norm_letter.cy.file: "
        "'letters/social_norm.cy.md' was not uploaded: choose social_norm.cy.md under Letter files"
    ) in page_text(response)
    assert row_counts(session) == before


def test_an_extra_letter_file_is_a_warning_and_does_not_block_the_draft(
    researcher: FlaskClient,
) -> None:
    response = create(researcher, letters={**LETTERS, "notes.md": b"my notes"})
    assert response.status_code == 201
    assert (
        "Warning in notes.md: the definition does not name this file, so it was ignored"
        in page_text(response)
    )


def test_a_curly_quote_in_an_sms_is_warned_about_like_the_cli_does(
    researcher: FlaskClient,
) -> None:
    curly = YAML.replace(
        "Please arrive 30 minutes early.", "Please arrive \u201830 minutes\u2019 early."
    )
    response = create(researcher, text=curly)
    assert response.status_code == 201
    assert "makes this SMS UCS-2" in page_text(response)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("trial.docx", b"PK\x03\x04 not yaml", "trial.docx: is not a YAML file"),
        ("trial.yaml", b"", "trial.yaml: the file is empty"),
        ("trial.yaml", b" \n\n", "trial.yaml: the file is empty"),
        ("trial.yaml", "id: caf\u00e9\n".encode("cp1252"), "not UTF-8 text (byte 7)"),
        ("trial.yaml", b"- just\n- a list\n", "a trial definition is a mapping of keys"),
        ("trial.yaml", b"id: [unclosed\n", "trial.yaml, line 2, column 1: YAML syntax"),
    ],
)
def test_a_bad_definition_file_gets_a_clear_message_and_nothing_is_saved(
    researcher: FlaskClient, session: Session, name: str, data: bytes, message: str
) -> None:
    before = row_counts(session)
    response = create(researcher, text=data, name=name)
    assert response.status_code == 422
    assert message in page_text(response)
    assert row_counts(session) == before


def test_no_file_at_all_asks_for_one(researcher: FlaskClient) -> None:
    token = csrf_token(researcher, "/trials/new")
    response = researcher.post("/trials/new", data={"csrf_token": token, "action": "create"})
    assert response.status_code == 422
    assert "choose the trial definition file (.yaml) to upload" in page_text(response)


def test_a_zip_of_letters_is_refused_with_what_to_do_instead(researcher: FlaskClient) -> None:
    response = create(researcher, letters={"letters.zip": b"PK\x05\x06" + b"\0" * 18})
    assert response.status_code == 422
    assert "archives are not accepted: choose the letter files themselves" in page_text(response)


def test_an_upload_over_the_size_limit_gets_an_inline_message_not_an_error_page(
    app: Flask, researcher: FlaskClient, session: Session
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 400 * 1024  # the test client spools larger bodies to disk
    before = row_counts(session)
    response = create(researcher, letters={"huge.md": b"x" * (450 * 1024)})
    assert response.status_code == 413
    assert "the upload is larger than 400 KB altogether" in page_text(response)
    assert 'id="definition"' in response.get_data(as_text=True)
    assert row_counts(session) == before


def test_uploading_a_trial_that_exists_is_refused_with_the_way_forward(
    researcher: FlaskClient,
) -> None:
    create(researcher)
    again = create(researcher)
    assert again.status_code == 422
    assert f"a trial with id '{TRIAL}' already exists" in page_text(again)


def test_launching_asks_for_confirmation_then_shows_the_frozen_sha256(
    researcher: FlaskClient, session: Session
) -> None:
    create(researcher)
    confirm = researcher.get(f"/trials/{TRIAL}/launch")
    assert confirm.status_code == 200 and "Yes, launch" in page_text(confirm)
    assert session.get(Trial, TRIAL).status == "draft"  # type: ignore[union-attr]
    assert researcher.post(f"/trials/{TRIAL}/launch").status_code == 400  # no CSRF token
    token = csrf_token(researcher, f"/trials/{TRIAL}/launch")
    launched = researcher.post(f"/trials/{TRIAL}/launch", data={"csrf_token": token})
    assert launched.status_code == 302
    session.expire_all()
    frozen = session.exec(
        select(TrialVersion).where(TrialVersion.trial_id == TRIAL, TrialVersion.version == 2)
    ).one()
    assert frozen.kind == "launched"
    shown = page_text(researcher.get(launched.headers["Location"]))
    assert f"Launched: version 2 is frozen, SHA-256 {frozen.sha256}." in shown
    assert session.get(Trial, TRIAL).status == "live"  # type: ignore[union-attr]
    again = researcher.get(f"/trials/{TRIAL}/launch")
    assert again.status_code == 302


def launched(client: FlaskClient) -> None:
    create(client)
    token = csrf_token(client, f"/trials/{TRIAL}/launch")
    assert client.post(f"/trials/{TRIAL}/launch", data={"csrf_token": token}).status_code == 302


def test_a_design_change_to_a_live_trial_is_refused_naming_the_field(
    researcher: FlaskClient, session: Session
) -> None:
    launched(researcher)
    before = row_counts(session)
    heavier = YAML.replace(
        "    title: Social norm\n    weight: 1", "    title: Social norm\n    weight: 2"
    )
    heavier = heavier.replace("block_sizes: [3, 6]", "block_sizes: [4, 8]")
    response = upload(researcher, f"/trials/{TRIAL}/amend", text=heavier, reason="more norm")
    assert response.status_code == 422
    assert "'arms[2].weight' is part of the launched design and cannot change" in page_text(
        response
    )
    assert row_counts(session) == before


def test_an_operational_amendment_with_its_reason_is_kept_as_a_new_version(
    researcher: FlaskClient, session: Session
) -> None:
    launched(researcher)
    later = YAML.replace("max_per_second: 10", "max_per_second: 5")
    response = upload(
        researcher, f"/trials/{TRIAL}/amend", text=later, reason="the court asked for a slower pace"
    )
    assert response.status_code == 302
    shown = page_text(researcher.get(response.headers["Location"]))
    assert "Amended: version 3 (changed: sending.max_per_second)" in shown
    assert "the court asked for a slower pace" in shown
    assert session.get(Trial, TRIAL).current_version == 3  # type: ignore[union-attr]


def test_a_wording_change_after_launch_needs_the_typo_box_and_a_reason(
    researcher: FlaskClient,
) -> None:
    launched(researcher)
    fixed = YAML.replace("Please arrive 30 minutes early.", "Please arrive 30 minutes early!")
    path = f"/trials/{TRIAL}/amend"
    no_reason = upload(researcher, path, text=fixed, reason=" ")
    assert no_reason.status_code == 422 and "give the reason for the amendment" in page_text(
        no_reason
    )
    unticked = upload(researcher, path, text=fixed, reason="typo")
    assert unticked.status_code == 422
    assert "tick “The change to a message's wording only fixes a typo”" in page_text(unticked)
    ticked = upload(researcher, path, text=fixed, reason="typo", template_fix="y")
    assert ticked.status_code == 302


def test_an_unknown_trial_is_a_page_that_says_not_found(researcher: FlaskClient) -> None:
    response = researcher.get("/trials/no-such-trial/manage")
    assert response.status_code == 404 and "Not Found" in page_text(response)
