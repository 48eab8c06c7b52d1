"""A trial's replies as a researcher's work queue: next hearing, triage, a note, undo, audit."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select
from werkzeug.test import TestResponse

from nudge.clock import FixedClock
from nudge.models import AuditEvent, InboundMessage
from tests.conftest import PINNED
from tests.experiments.test_triage_words import with_replies
from tests.experiments.test_trial_pages import page_text
from tests.factories import enrol_due_texts
from tests.messages.test_researcher_pages import reply
from tests.web_helpers import csrf_token, logged_in, table_rows

TRIAL = "witness-reminders-2027"
QUEUE = f"/trials/{TRIAL}/replies"
SCARED = "I am scared to come, his brother threatened me"


@pytest.fixture
def people(session: Session, clock: FixedClock, example_dir: Path) -> Path:
    """The example trial live with six witnesses (P00000 to P00005, each their own case, due at
    Bristol Crown Court on 4 March 2027 at 10:00); the definition's path."""
    definition = example_dir / "witness-reminders.yaml"
    enrol_due_texts(session, clock, definition, 6, PINNED)
    return definition


pytestmark = pytest.mark.usefixtures("people", "staff")


def queue(client: FlaskClient, query: str = "") -> str:
    response = client.get(f"{QUEUE}{query}")
    assert response.status_code == 200, page_text(response)
    return page_text(response)


def reply_id(session: Session, body: str) -> int:
    found = session.exec(select(InboundMessage.id).where(InboundMessage.body == body)).one()
    assert found is not None
    return found


def post(client: FlaskClient, path: str, **data: str) -> TestResponse:
    return client.post(path, data={"csrf_token": csrf_token(client, QUEUE), **data})


def handle(client: FlaskClient, session: Session, body: str, note: str) -> TestResponse:
    return post(client, f"/replies/{reply_id(session, body)}/handled", note=note, show="open")


def audit_rows(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    query = select(AuditEvent).where(AuditEvent.action == action)
    return list(session.exec(query.order_by(col(AuditEvent.id))).all())


def test_each_reply_shows_the_persons_reference_and_next_hearing_in_the_trials_time(
    researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    reply(session, clock, 3, "Can I bring my daughter with me?")
    text = queue(researcher)
    assert "1 unhandled reply." in text
    assert (
        "P00003, Sun 10 Jan 2027 12:00 GMT Reply Can I bring my daughter with me? "
        "Next hearing Thu 4 Mar 2027 10:00 GMT at Bristol Crown Court Status Not handled"
    ) in text
    assert "McTestface" not in text and "07700" not in text and "+44" not in text
    page = researcher.get(QUEUE).get_data(as_text=True)
    assert f'href="/trials/{TRIAL}/people/P00003"' in page  # the person's timeline


def test_a_reply_whose_hearing_has_passed_says_none_is_ahead(
    app: Flask, researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    reply(session, clock, 3, "Did I miss it?")
    app.extensions["nudge"]["clock"].set(datetime(2027, 3, 5, 9, 0, tzinfo=PINNED.tzinfo))
    assert (
        "Next hearing None ahead. The last was Thu 4 Mar 2027 10:00 GMT at Bristol Crown Court "
        "(listed)."
    ) in queue(researcher)


def test_replies_with_a_default_triage_word_are_flagged_and_listed_first(
    researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    reply(session, clock, 3, SCARED)
    clock.advance(timedelta(hours=1))
    reply(session, clock, 4, "Where do I park?")
    text = queue(researcher)
    assert "2 unhandled replies, 1 of them flagged." in text
    flagged = text.index("Flagged: read these first")
    assert flagged < text.index(SCARED) < text.index("Other replies") < text.index("Where do I")
    assert "Flagged Check first words found: scared, threatened" in text


def test_the_trials_yaml_chooses_the_triage_words(
    researcher: FlaskClient, session: Session, clock: FixedClock, people: Path
) -> None:
    from experiments import trials
    from tests.experiments.test_triage_words import loaded

    amended = with_replies(people.parent, "replies:\n  triage_words: [park, parking]\n")
    trials.amend_trial(
        session, clock, TRIAL, loaded(amended), trials.Actor("test:rita"), reason="parking"
    )
    session.commit()
    reply(session, clock, 3, SCARED)
    clock.advance(timedelta(hours=1))
    reply(session, clock, 4, "Where do I PARK?")
    text = queue(researcher)
    assert "2 unhandled replies, 1 of them flagged." in text
    assert text.index("Where do I PARK?") < text.index("Other replies") < text.index(SCARED)
    assert "words found: park" in text and "words found: scared" not in text


def test_handling_a_reply_keeps_the_note_and_audits_who_and_when_but_not_the_note(
    app: Flask, researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    reply(session, clock, 3, SCARED)
    app.extensions["nudge"]["clock"].advance(timedelta(minutes=30))
    note = "Called P00003's witness care officer, Ms Example, who will ring back today"
    done = handle(researcher, session, SCARED, note)
    assert done.status_code == 302
    assert done.headers["Location"] == f"{QUEUE}?show=open&page=1"
    text = queue(researcher)
    assert (
        "The reply from P00003 received Sun 10 Jan 2027 12:00 GMT is marked handled, with your "
        "note."
    ) in text
    assert not re.search(r"[Rr]eply \d", text)  # no internal id
    assert "0 unhandled replies." in text and SCARED not in text
    handled = queue(researcher, "?show=handled")
    assert f"Status Handled Sun 10 Jan 2027 12:30 GMT by rita@example.org What was done {note}" in (
        handled
    )
    [event] = audit_rows(session, "reply.handled")
    assert event.actor == "web:rita@example.org" and event.trial_id == TRIAL
    assert event.at == PINNED + timedelta(minutes=30)
    assert event.subject == f"inbound:{reply_id(session, SCARED)}"
    recorded = json.dumps(event.details)
    assert event.details == {"note_characters": len(note)}
    assert "Example" not in recorded and "P00003" not in recorded and "0770" not in recorded


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("", "Enter what was done about this reply, such as who called back"),
        ("   ", "Enter what was done about this reply, such as who called back"),
        ("x" * 501, "The note must be 500 characters or fewer"),
    ],
)
def test_a_missing_or_long_note_is_explained_at_its_field_and_nothing_is_saved(
    researcher: FlaskClient, session: Session, clock: FixedClock, note: str, message: str
) -> None:
    reply(session, clock, 3, SCARED)
    refused = handle(researcher, session, SCARED, note)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    field = f"note-{reply_id(session, SCARED)}"
    assert "<title>Error: Replies: Reminder framing for prosecution witnesses" in page
    assert f'<a href="#{field}">{message}</a>' in page
    assert re.search(rf'<textarea id="{field}"[^>]*aria-invalid="true"', page)
    if note.strip():
        assert f">{note}</textarea>" in page  # what was typed is kept to fix
    session.expire_all()
    unchanged = session.get(InboundMessage, reply_id(session, SCARED))
    assert unchanged is not None and unchanged.handled_at is None and unchanged.handled_note is None
    assert audit_rows(session, "reply.handled") == []


def test_undo_puts_a_reply_back_in_the_queue_with_its_note_and_is_audited(
    app: Flask, researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    reply(session, clock, 3, SCARED)
    handle(researcher, session, SCARED, "Passed to the Witness Care Unit")
    app.extensions["nudge"]["clock"].advance(timedelta(hours=2))
    path = f"/replies/{reply_id(session, SCARED)}/reopened"
    undone = post(researcher, path, show="handled", page="1")
    assert undone.headers["Location"] == f"{QUEUE}?show=handled&page=1"
    text = queue(researcher)
    assert (
        "The reply from P00003 received Sun 10 Jan 2027 12:00 GMT is back in the queue as not "
        "handled."
    ) in text
    assert "1 unhandled reply, 1 of them flagged." in text
    assert "The note from before it was reopened is filled in." in text
    assert ">Passed to the Witness Care Unit</textarea>" in researcher.get(QUEUE).get_data(
        as_text=True
    )
    [event] = audit_rows(session, "reply.reopened")
    assert (event.actor, event.trial_id, event.at) == (
        "web:rita@example.org",
        TRIAL,
        PINNED + timedelta(hours=2),
    )
    assert event.subject == f"inbound:{reply_id(session, SCARED)}" and event.details == {}
    again = post(researcher, path)
    assert again.status_code == 302
    assert "was not marked handled: nothing changed." in queue(researcher)
    assert len(audit_rows(session, "reply.reopened")) == 1


def test_a_reply_handled_by_someone_else_first_keeps_their_note(
    app: Flask, researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    reply(session, clock, 3, SCARED)
    first = handle(researcher, session, SCARED, "Called back")
    colleague = logged_in(app, "researcher")
    second = handle(colleague, session, SCARED, "Also called back")
    assert first.status_code == second.status_code == 302
    assert (
        "The reply from P00003 received Sun 10 Jan 2027 12:00 GMT was already marked handled by "
        "rita@example.org at 10 Jan 2027 12:00 GMT: your note was not saved."
    ) in queue(colleague)
    stored = session.get(InboundMessage, reply_id(session, SCARED))
    session.refresh(stored)
    assert stored is not None and stored.handled_note == "Called back"


def test_an_unknown_reply_is_not_found(researcher: FlaskClient) -> None:
    for path in ("/replies/999/handled", "/replies/999/reopened"):
        assert post(researcher, path, note="done").status_code == 404


def test_the_trial_navigation_shows_the_unhandled_count_to_researchers_only(
    app: Flask, researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    def badge(client: FlaskClient) -> str | None:
        page = client.get(f"/trials/{TRIAL}/overview").get_data(as_text=True)
        start = page.index('aria-label="Pages of this trial"')
        nav = page[start : page.index("</nav>", start)]
        found = re.search(r'<span class="moj-notification-badge">(.*?)</span></span>', nav)
        return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split()) if found else None

    assert badge(researcher) is None
    reply(session, clock, 3, SCARED)
    reply(session, clock, 4, "Where do I park?")
    assert badge(researcher) == "2 unhandled replies"
    handle(researcher, session, SCARED, "Called back")
    assert badge(researcher) == "1 unhandled reply"
    assert badge(logged_in(app, "lead")) is None


def test_viewing_a_queue_is_audited_with_the_view_and_no_personal_data(
    researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    reply(session, clock, 3, SCARED)
    queue(researcher, "?show=all")
    [event] = audit_rows(session, "replies.viewed")
    assert event.actor == "web:rita@example.org" and event.trial_id == TRIAL
    assert event.at == PINNED
    assert event.details == {"show": "all", "page": 1, "shown": 1}


def test_the_replies_hub_counts_each_trials_queue_and_lists_numbers_in_no_trial(
    researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    reply(session, clock, 3, SCARED)
    reply(session, clock, 4, "Where do I park?")
    reply(session, clock, 200, "Who is this? I am scared")  # a number no one enrolled has
    hub = researcher.get("/replies")
    assert table_rows(hub.get_data(as_text=True), "Replies by trial")[1:] == [
        ["Reminder framing for prosecution witnesses: replieswitness-reminders-2027", "2", "1"]
    ]
    text = page_text(hub)
    assert "Number ending 200, Sun 10 Jan 2027 12:00 UTC" in text and "words found: scared" in text
    assert SCARED not in text  # a trial's replies are in its own queue
    old_link = researcher.get(f"/replies?trial={TRIAL}&show=handled")
    assert old_link.status_code == 302
    assert old_link.headers["Location"] == f"{QUEUE}?show=handled&page=1"
    unknown = reply_id(session, "Who is this? I am scared")
    done = post(researcher, f"/replies/{unknown}/handled", note="No one we know: left")
    assert done.headers["Location"] == "/replies?show=open&page=1"
    assert (
        "The reply from the number ending 200 received Sun 10 Jan 2027 12:00 UTC is marked handled"
    ) in page_text(researcher.get("/replies"))
