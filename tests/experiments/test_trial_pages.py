"""The researcher's trial pages: upload and check a definition, create, launch and amend it.

Every problem in one pass, the chosen files held between steps, and an amendment's changes
shown before it is saved are tested here; tests/nudge/test_browser_upload.py walks them in
Chromium."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from nudge.models import Trial, TrialVersion
from tests.conftest import EXAMPLE
from tests.factories import row_counts
from tests.web_helpers import csrf_token, logged_in, table_rows

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


def hidden(response: Any, name: str) -> str:
    """The value of the page's hidden form field `name` (the held files' token...)."""
    found = re.search(rf'name="{name}" value="([^"]*)"', response.get_data(as_text=True))
    assert found, f"no hidden {name} on the page"
    return html.unescape(found.group(1))


def send(client: FlaskClient, path: str, **fields: Any) -> Any:
    """The form sent again with no file chosen: what was checked before is held."""
    data = {"csrf_token": csrf_token(client, path), **fields}
    return client.post(path, data=data, content_type="multipart/form-data")


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
    assert "practical_1d cy GSM-7 162 2" in shown and "social_norm 4 1 1.01" in shown
    assert "Event texts (a hearing moved or vacated, a milestone) are extra" in shown
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
    assert f"the id '{TRIAL}' is already used by a trial on this platform" in page_text(again)


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


AMEND = f"/trials/{TRIAL}/amend"
SLOWER = YAML.replace("max_per_second: 10", "max_per_second: 5")


def amend(client: FlaskClient, text: str = SLOWER, reason: str = "slower", **fields: Any) -> Any:
    """Check the amendment, then save what the check showed, as the two buttons do."""
    shown = upload(client, AMEND, text=text, reason=reason, action="check", **fields)
    if shown.status_code != 200:
        return shown
    held, reviewed = hidden(shown, "held"), hidden(shown, "reviewed")
    return send(client, AMEND, held=held, reviewed=reviewed, reason=reason, action="save", **fields)


# Every problem in one pass


ALL_AT_ONCE = (
    YAML.replace("  - id: practical", "  - id: Practical")  # the schema
    .replace("timezone: Europe/London", "timezone: Europe/Lundon")  # a design check
    .replace("max_per_second: 10", "max_per_second: 0")  # the schema again
)


def test_schema_letter_file_and_design_problems_are_all_reported_at_once_in_words(
    researcher: FlaskClient, session: Session
) -> None:
    before = row_counts(session)
    response = create(
        researcher, text=ALL_AT_ONCE, letters={"social_norm.md": LETTERS["social_norm.md"]}
    )
    assert response.status_code == 422
    body, shown = response.get_data(as_text=True), page_text(response)
    assert shown.startswith("Error: New trial")
    assert "4 problems to fix" in shown
    summary = re.findall(r'<li><a href="#(problem-\d)">([^<]+)</a></li>', body)
    assert [html.unescape(text) for _, text in summary] == [
        "witness-reminders.yaml, line 7, column 11: timezone: unknown timezone 'Europe/Lundon' "
        "(use an IANA name such as Europe/London)",
        "witness-reminders.yaml, line 26, column 9: arms[1].id: must be lower-case letters, "
        "digits, - or _ and start with a letter or digit (not 'Practical')",
        "witness-reminders.yaml, line 65, column 16: templates.social_norm_letter.cy.file: "
        "'letters/social_norm.cy.md' was not uploaded: choose social_norm.cy.md under Letter "
        "files, with the definition",
        "witness-reminders.yaml, line 69, column 19: sending.max_per_second: must be more than 0 "
        "(not the number 0)",
    ]
    for anchor, _ in summary:  # each link's target is there, and takes focus
        assert f'id="{anchor}" tabindex="-1"' in body
    assert "should match pattern" not in shown and "Input should" not in shown
    assert row_counts(session) == before


def test_a_check_that_depends_on_a_refused_value_is_left_out_not_guessed(
    researcher: FlaskClient,
) -> None:
    # "two" is refused; the block sizes can only be judged against the weight meant.
    text = YAML.replace(
        "    title: Social norm\n    weight: 1", "    title: Social norm\n    weight: two"
    ).replace("timezone: Europe/London", "timezone: Europe/Lundon")
    shown = page_text(create(researcher, text=text))
    assert "2 problems to fix" in shown
    assert "arms[2].weight: must be a whole number, such as 2 (not 'two')" in shown
    assert "unknown timezone 'Europe/Lundon'" in shown
    assert "block_sizes" not in shown


def test_a_missing_definition_is_linked_to_its_file_input(researcher: FlaskClient) -> None:
    response = send(researcher, "/trials/new", action="create")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<a href="#definition">choose the trial definition file (.yaml) to upload</a>' in body
    assert 'id="definition-error"' in body and 'aria-invalid="true"' in body


# The chosen files, held between steps


def test_checked_files_are_held_so_create_needs_no_file_chosen_again(
    researcher: FlaskClient, session: Session
) -> None:
    checked = upload(researcher, action="check")
    assert checked.status_code == 200
    shown = page_text(checked)
    assert "Held on the server: witness-reminders.yaml" in shown
    assert "Remove social_norm.md" in shown and "Remove social_norm.cy.md" in shown
    created = send(researcher, "/trials/new", held=hidden(checked, "held"), action="create")
    assert created.status_code == 201
    assert f"Created draft trial {TRIAL}, version 1" in page_text(created)
    assert 'name="held"' not in created.get_data(as_text=True)  # used, so no longer kept
    assert session.get(Trial, TRIAL) is not None


def test_a_replaced_definition_keeps_the_held_letters(researcher: FlaskClient) -> None:
    first = upload(researcher, text=ALL_AT_ONCE, action="check")
    assert first.status_code == 422
    fixed = upload(researcher, held=hidden(first, "held"), letters={}, action="create")
    assert fixed.status_code == 201, page_text(fixed)


def test_a_held_letter_ticked_for_removal_is_no_longer_used(researcher: FlaskClient) -> None:
    checked = upload(researcher, action="check")
    response = send(
        researcher,
        "/trials/new",
        held=hidden(checked, "held"),
        remove="social_norm.cy.md",
        action="create",
    )
    assert response.status_code == 422
    assert "'letters/social_norm.cy.md' was not uploaded" in page_text(response)


def test_held_files_expire_an_hour_after_the_last_check(
    app: Flask, researcher: FlaskClient, session: Session
) -> None:
    checked = upload(researcher, action="check")
    app.extensions["nudge"]["clock"].advance(timedelta(minutes=59))
    again = send(researcher, "/trials/new", held=hidden(checked, "held"), action="check")
    assert again.status_code == 200  # within the hour: still held, and the hour starts again
    app.extensions["nudge"]["clock"].advance(timedelta(minutes=61))
    late = send(researcher, "/trials/new", held=hidden(again, "held"), action="create")
    assert late.status_code == 422
    shown = page_text(late)
    assert (
        "the files chosen earlier were kept for an hour after the last check and have been "
        "deleted: choose them again" in shown
    )
    assert "choose the trial definition file (.yaml) to upload" in shown
    assert session.get(Trial, TRIAL) is None


def test_files_beyond_the_holding_limit_are_checked_but_not_kept_and_the_page_says_so(
    app: Flask, researcher: FlaskClient
) -> None:
    app.config["NUDGE_HOLDING_MAX_BYTES"] = 4 * 1024
    response = upload(researcher, action="check")
    assert response.status_code == 200
    shown = page_text(response)
    assert f"The definition of trial {TRIAL} is valid, with 1 warning" in shown
    assert (
        "the files were checked but could not be kept on the server for the next step (the "
        "space for chosen files, 4 KB, is full): choose them again when you send the form"
    ) in shown
    assert 'name="held"' not in response.get_data(as_text=True)


# Amendments: the changes shown, then saved with them


def test_an_amendment_shows_each_changed_field_before_anything_is_saved(
    researcher: FlaskClient, session: Session
) -> None:
    launched(researcher)
    before = row_counts(session)
    response = upload(researcher, AMEND, text=SLOWER, reason="", action="check")
    assert response.status_code == 200
    assert table_rows(response.get_data(as_text=True), "Changes from version 2") == [
        ["Field", "Now", "After the amendment"],
        ["sending.max_per_second", "10.0", "5.0"],
    ]
    assert "Save the amendment" in page_text(response)
    assert row_counts(session) == before


def test_a_saved_amendment_keeps_its_changes_in_the_version_history(
    researcher: FlaskClient, session: Session
) -> None:
    launched(researcher)
    response = amend(researcher, reason="the court asked for a slower pace")
    assert response.status_code == 302
    shown = page_text(researcher.get(response.headers["Location"]))
    assert "Amended: version 3 (changed: sending.max_per_second)" in shown
    assert "the court asked for a slower pace sending.max_per_second: 10.0 → 5.0" in shown
    stored = session.exec(
        select(TrialVersion).where(TrialVersion.trial_id == TRIAL, TrialVersion.version == 3)
    ).one()
    assert stored.field_changes == [
        {"field": "sending.max_per_second", "kind": "operational", "old": "10.0", "new": "5.0"}
    ]


def test_a_wording_fix_is_shown_around_the_change_and_needs_the_typo_box(
    researcher: FlaskClient,
) -> None:
    launched(researcher)
    fixed = YAML.replace("Please arrive 30 minutes early.", "Please arrive 30 minutes early!")
    unticked = amend(researcher, text=fixed, reason="typo")
    assert unticked.status_code == 422
    body = unticked.get_data(as_text=True)
    assert '<a href="#template_fix">' in body and 'id="template_fix-error"' in body
    assert "a message's wording changed (templates.practical_1d.en)" in page_text(unticked)
    ticked = amend(researcher, text=fixed, reason="typo", template_fix="y")
    assert ticked.status_code == 302
    history = page_text(researcher.get(ticked.headers["Location"]))
    assert (
        "templates.practical_1d.en: '…e arrive 30 minutes early. Need help getting there?…' → "
        "'…e arrive 30 minutes early! Need help getting there?…'"
    ) in history


def test_a_missing_reason_is_marked_at_its_field_with_the_changes_still_shown(
    researcher: FlaskClient, session: Session
) -> None:
    launched(researcher)
    before = row_counts(session)
    response = amend(researcher, reason="  ")
    assert response.status_code == 422
    body, shown = response.get_data(as_text=True), page_text(response)
    assert shown.startswith("Error: Amend")
    assert '<a href="#reason">Reason for the change: enter the reason for the change' in body
    field = body[body.index('<textarea id="reason"') :].split(">")[0]
    assert 'aria-invalid="true"' in field and "reason-error" in field
    assert 'class="govuk-error-message" id="reason-error"' in body
    assert "sending.max_per_second 10.0 5.0" in shown  # the changes, still there to review
    assert row_counts(session) == before


def test_saving_changes_other_than_those_shown_shows_them_instead(
    researcher: FlaskClient, session: Session
) -> None:
    launched(researcher)
    shown = upload(researcher, AMEND, text=SLOWER, reason="slower", action="check")
    before = row_counts(session)
    other = upload(
        researcher,
        AMEND,
        text=YAML.replace("max_per_second: 10", "max_per_second: 4"),
        held=hidden(shown, "held"),
        reviewed=hidden(shown, "reviewed"),
        reason="slower",
        letters={},
        action="save",
    )
    assert other.status_code == 200
    assert "These are not the changes shown before" in page_text(other)
    assert "sending.max_per_second 10.0 4.0" in page_text(other)
    assert row_counts(session) == before


def test_a_design_change_after_launch_is_refused_naming_the_field_before_any_other_check(
    researcher: FlaskClient, session: Session
) -> None:
    launched(researcher)
    before = row_counts(session)
    heavier = YAML.replace(
        "    title: Social norm\n    weight: 1", "    title: Social norm\n    weight: 2"
    ).replace(
        'quiet_hours: {start: "20:00", end: "09:00"}', 'quiet_hours: {start: "20:00", end: "20:00"}'
    )
    response = upload(researcher, AMEND, text=heavier, reason="", action="save")
    assert response.status_code == 422
    shown = page_text(response)
    line = heavier.splitlines().index("    weight: 2") + 1
    assert "1 problem to fix" in shown
    assert (
        f"witness-reminders.yaml, line {line}, column 13: the design cannot change after launch: "
        "arms.social_norm.weight (was 1, now 2); a different design needs a new trial"
    ) in shown
    assert "quiet_hours" not in shown and "enter the reason" not in shown
    assert row_counts(session) == before


def test_an_amendment_to_a_draft_may_change_the_design(
    researcher: FlaskClient, session: Session
) -> None:
    create(researcher)
    two_to_one = YAML.replace(
        "    title: Social norm\n    weight: 1", "    title: Social norm\n    weight: 2"
    ).replace("block_sizes: [3, 6]", "block_sizes: [4, 8]")
    response = amend(researcher, text=two_to_one, reason="more social norm")
    assert response.status_code == 302
    history = page_text(researcher.get(response.headers["Location"]))
    assert "arms.social_norm.weight: 1 → 2" in history
    assert "randomisation.block_sizes: [3, 6] → [4, 8]" in history


def test_a_live_trials_seed_stays_hidden_in_the_history_of_its_draft(
    researcher: FlaskClient,
) -> None:
    create(researcher)
    reseeded = YAML.replace("seed: 20270101", "seed: 20270202")
    assert amend(researcher, text=reseeded, reason="new seed").status_code == 302
    assert "20270202" in page_text(researcher.get(f"/trials/{TRIAL}/manage"))
    token = csrf_token(researcher, f"/trials/{TRIAL}/launch")
    researcher.post(f"/trials/{TRIAL}/launch", data={"csrf_token": token})
    history = page_text(researcher.get(f"/trials/{TRIAL}/manage"))
    assert "randomisation.seed: concealed until the trial closes → concealed" in history
    assert "20270202" not in history and "20270101" not in history


def test_a_file_for_another_trial_is_refused_on_the_amendment_page(
    researcher: FlaskClient,
) -> None:
    launched(researcher)
    other = SLOWER.replace(f"id: {TRIAL}", "id: another-trial")
    response = upload(researcher, AMEND, text=other, reason="x", action="check")
    assert response.status_code == 422
    assert f"this file defines trial 'another-trial', not '{TRIAL}'" in page_text(response)


@pytest.mark.parametrize("path", ["/trials/new", AMEND])
def test_a_lead_may_neither_upload_nor_amend(
    app: Flask, researcher: FlaskClient, path: str
) -> None:
    create(researcher)
    lead = logged_in(app, "lead")
    assert lead.get(path).status_code == 403
    token = csrf_token(lead, "/")
    assert lead.post(path, data={"csrf_token": token, "action": "create"}).status_code == 403


def test_an_unknown_trial_is_a_page_that_says_not_found(researcher: FlaskClient) -> None:
    response = researcher.get("/trials/no-such-trial/manage")
    assert response.status_code == 404 and "Not Found" in page_text(response)
