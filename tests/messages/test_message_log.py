"""The researcher's message log, through the app: words and a glossary instead of codes, arm
titles, page numbers, times on one line, a CSV of the filtered view, bad filters reported
without dropping the good ones, and each reference a link to the person's timeline."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from messages.log import PER_PAGE
from messages.words import REASON_WORDS, STATUS_WORDS, message_state
from nudge.clock import FixedClock
from nudge.csvout import BYTE_ORDER_MARK
from nudge.models import Arm, Assignment, AuditEvent, Message, MessageStatus, Participant
from tests.conftest import PINNED
from tests.experiments.test_trial_pages import page_text
from tests.nudge.test_csv_output import assert_no_formula
from tests.trial_factories import TRIAL, seed_trial
from tests.web_helpers import logged_in, table_rows

LONDON = ZoneInfo("Europe/London")
LOG = f"/trials/{TRIAL}/messages"
PEOPLE = 56  # about 115 messages (three timed texts or letters per treated person): three pages
TITLES = {
    "control": "Business as usual",
    "practical": "Practical information",
    "social_norm": "Social norm",
}
PERSON_LINK = re.compile(r'<th scope="row"><a class="govuk-link" href="([^"]+)">([^<]+)</a></th>')


@pytest.fixture(autouse=True)
def seeded(session: Session, clock: FixedClock, tmp_path: Path, staff: None) -> None:
    """The example trial with messages in many states; delivery failures carry the provider's
    code, and sent messages the time they went, as callbacks and dispatch leave them."""
    seed_trial(session, clock, tmp_path, people=PEOPLE)
    session.execute(
        update(Message)
        .where(col(Message.status).in_(("sent", "delivered", "undelivered")))
        .values(sent_at=Message.due_at)
    )
    session.execute(
        update(Message)
        .where(col(Message.status).in_(("failed", "undelivered")), col(Message.channel) == "sms")
        .values(reason="provider_30007")
    )
    session.commit()


def messages(session: Session, since: str = "", **where: object) -> list[tuple[Message, str, str]]:
    """(message, reference, arm key) for every message of the trial matching `where` (and due
    on or after the local day `since`), newest due first, worked out here rather than by the
    code under test."""
    query = (
        select(Message, Participant.participant_ref, Arm.key)
        .join(Participant, col(Participant.id) == Message.participant_id)
        .join(Assignment, col(Assignment.participant_id) == Message.participant_id)
        .join(Arm, col(Arm.id) == Assignment.arm_id)
        .where(Message.trial_id == TRIAL)
        .order_by(col(Message.due_at).desc(), col(Message.id).desc())
    )
    found = []
    for message, ref, arm in session.exec(query).all():
        day = message.due_at.astimezone(LONDON).date().isoformat()
        values: dict[str, str | None] = {"status": message.status, "arm": arm}
        values |= {"channel": message.channel, "reason": message.reason, "ref": ref, "day": day}
        if all(values[k] == v for k, v in where.items()) and day >= since:
            found.append((message, ref, arm))
    return found


def rename_someone(session: Session, ref: str) -> None:
    """Give the person with the newest message another reference."""
    _, old, _ = messages(session)[0]
    session.execute(
        update(Participant)
        .where(col(Participant.participant_ref) == old)
        .values(participant_ref=ref)
    )
    session.commit()


def total_shown(text: str) -> int:
    before = text[: text.index(" match.")]
    return int(before.rsplit(" ", 2)[-2].replace(",", ""))


def rows_shown(html: str) -> list[list[str]]:
    """The log table's rows, without its header row."""
    return table_rows(html, "Messages, page")[1:]


def audits(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def download(client: FlaskClient, query: str = "") -> list[list[str]]:
    response = client.get(f"{LOG}.csv{query}")
    assert response.status_code == 200, page_text(response)
    assert response.mimetype == "text/csv"
    disposition = f'attachment; filename="{TRIAL}-messages.csv"'
    assert response.headers["Content-Disposition"] == disposition
    text = response.get_data(as_text=True)
    assert text.startswith(BYTE_ORDER_MARK)  # Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(text.removeprefix(BYTE_ORDER_MARK))))


# 1. Statuses and reasons in words, with a glossary


def test_each_status_and_reason_is_shown_in_words_never_as_its_code(
    researcher: FlaskClient, session: Session
) -> None:
    html = researcher.get(f"{LOG}?status=cancelled").get_data(as_text=True)
    assert [row[5] for row in rows_shown(html)] == [
        "Cancelled before sending: the person opted out"
    ] * len(messages(session, status="cancelled"))
    failed = researcher.get(f"{LOG}?status=failed&channel=sms").get_data(as_text=True)
    assert {row[5] for row in rows_shown(failed)} == {"Failed: provider error 30007"}
    every = [
        row[5]
        for page in (1, 2, 3)
        for row in rows_shown(researcher.get(f"{LOG}?page={page}").get_data(as_text=True))
    ]
    wanted = Counter(message_state(m.status, m.reason) for m, _, _ in messages(session))
    assert Counter(every) == wanted
    assert not set(every) & {s.value for s in MessageStatus}


def test_the_counts_by_status_are_in_words_and_link_to_that_status(
    researcher: FlaskClient, session: Session
) -> None:
    response = researcher.get(f"{LOG}?channel=sms")
    text, html = page_text(response), response.get_data(as_text=True)
    for status, n in Counter(m.status for m, _, _ in messages(session, channel="sms")).items():
        assert f"{n} {STATUS_WORDS[MessageStatus(status)].label}" in text
        assert f'href="{LOG}?channel=sms&amp;status={status}"' in html


def test_the_glossary_explains_every_status_and_reason_and_gives_the_code_downloads_use(
    researcher: FlaskClient,
) -> None:
    html = researcher.get(LOG).get_data(as_text=True)
    glossary = html[html.index('<details class="govuk-details">') : html.index("</details>")]
    text = " ".join(re.sub(r"<[^>]+>", "", glossary).replace("&#39;", "'").split())
    assert text.startswith("What the statuses and reasons mean")
    for code, words in [*STATUS_WORDS.items(), *REASON_WORDS.items()]:
        label = words.label[0].upper() + words.label[1:]
        assert f"{label} {words.meaning} In downloads: {code}" in text, code
        assert f'<code class="app-long-word">{code}</code>' in glossary
    assert "Provider error 30003, or another number" in text
    assert '<code class="app-long-word">provider_30003</code>' in glossary


# 2. Arm titles, page numbers, times on one line


def test_arms_are_shown_by_their_titles(researcher: FlaskClient, session: Session) -> None:
    html = researcher.get(f"{LOG}?page=1").get_data(as_text=True)
    shown = [row[1] for row in rows_shown(html)]
    refs = [ref for _, ref, _ in messages(session)][:PER_PAGE]
    keys = {ref: arm for _, ref, arm in messages(session)}
    assert shown == [TITLES[keys[ref]] for ref in refs]
    options = re.findall(r'<option value="(\w+)">([^<]+)</option>', html)
    assert ("practical", "Practical information") in options


def test_the_pages_are_numbered_and_together_hold_every_message_once(
    researcher: FlaskClient, session: Session
) -> None:
    total = len(messages(session, since="2027-01-01"))
    assert 2 * PER_PAGE < total <= 3 * PER_PAGE
    seen: list[str] = []
    for page in (1, 2, 3):
        response = researcher.get(f"{LOG}?due_from=2027-01-01&page={page}")
        html, text = response.get_data(as_text=True), page_text(response)
        assert f"Page {page} of 3" in text
        for number in (1, 2, 3):
            link = f'href="?due_from=2027-01-01&amp;page={number}" aria-label="Page {number}"'
            assert link + (' aria-current="page"' if number == page else ">") in html
        assert ('rel="prev"' in html) == (page > 1) and ('rel="next"' in html) == (page < 3)
        seen += [" ".join(row) for row in rows_shown(html)]
    assert len(seen) == total == len(set(seen))


def test_times_are_in_the_trials_zone_and_never_break_across_lines(
    researcher: FlaskClient, session: Session
) -> None:
    html = researcher.get(f"{LOG}?status=delivered").get_data(as_text=True)
    first, _, _ = messages(session, status="delivered")[0]
    due, sent = first.due_at.astimezone(LONDON), first.sent_at
    assert sent is not None
    expected = f"{due:%a} {due.day} {due:%b %Y %H:%M %Z}".replace(" ", "\u00a0")
    assert f'<time datetime="{first.due_at.isoformat()}">{expected}</time>' in html
    times = re.findall(r"<time datetime=\"[^\"]+\">([^<]*)</time>", html)
    assert len(times) == 2 * len(rows_shown(html))  # due and sent, on every row
    assert all(" " not in t and "\u00a0" in t for t in times)


# 3. The download


def test_the_download_holds_every_page_of_the_filtered_view_with_codes_and_is_audited(
    researcher: FlaskClient, session: Session
) -> None:
    rows = download(researcher, "?channel=sms&arm=practical")
    wanted = messages(session, channel="sms", arm="practical")
    assert len(wanted) > PER_PAGE  # more than the page shows
    header, body = rows[0], rows[1:]
    assert header[:2] == ["participant_ref", "arm"] and header[6:8] == ["status", "reason"]
    assert [r[0] for r in body] == [ref for _, ref, _ in wanted]
    assert {r[1] for r in body} == {"practical"} and {r[2] for r in body} == {"sms"}
    by_row = {(r[0], r[5]): r for r in body}
    for message, ref, _ in wanted:
        due = message.due_at.astimezone(LONDON).isoformat(timespec="seconds")
        row = by_row[(ref, due)]
        assert (row[6], row[7]) == (message.status, message.reason or "")
    assert "cancelled" in {r[6] for r in body} and "opted_out" in {r[7] for r in body}
    [event] = audits(session, "messages.downloaded")
    assert (event.actor, event.trial_id, event.at) == ("web:rita@example.org", TRIAL, PINNED)
    assert event.details == {"filters": {"channel": "sms", "arm": "practical"}, "rows": len(body)}


def test_a_downloaded_reference_filter_is_audited_as_participant_ids_never_the_reference(
    researcher: FlaskClient, session: Session
) -> None:
    _, ref, _ = messages(session, channel="sms")[0]
    rows = download(researcher, f"?ref={ref}")
    assert {r[0] for r in rows[1:]} == {ref} and len(rows) - 1 == len(messages(session, ref=ref))
    [event] = audits(session, "messages.downloaded")
    person = session.exec(select(Participant.id).where(Participant.participant_ref == ref)).one()
    assert event.details["filters"] == {"participant_ref": f"participant ids [{person}]"}
    assert ref not in json.dumps(event.details) and "07700" not in json.dumps(event.details)


def test_a_reference_that_looks_like_a_formula_is_downloaded_as_text(
    researcher: FlaskClient, session: Session
) -> None:
    hostile = '=HYPERLINK("http://x.example","y")'
    rename_someone(session, hostile)
    rows = download(researcher)
    assert_no_formula(rows)
    assert "'" + hostile in {r[0] for r in rows}


def test_the_page_offers_the_download_of_the_view_it_shows(researcher: FlaskClient) -> None:
    html = researcher.get(f"{LOG}?channel=letter&page=2").get_data(as_text=True)
    assert f'href="{LOG}.csv?channel=letter">Download these messages as CSV</a>' in html


def test_a_download_with_a_bad_filter_goes_back_to_the_page_that_explains_it(
    researcher: FlaskClient, session: Session
) -> None:
    response = researcher.get(f"{LOG}.csv?channel=sms&status=lost")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{LOG}?channel=sms&status=lost"
    assert researcher.get(response.headers["Location"]).status_code == 400
    assert audits(session, "messages.downloaded") == []


@pytest.mark.parametrize("role", ["lead", "admin"])
def test_other_roles_are_refused_the_log_and_its_download_and_nothing_is_recorded(
    app: Flask, session: Session, role: str
) -> None:
    client = logged_in(app, role)
    for path in (LOG, f"{LOG}.csv", f"{LOG}.csv?channel=sms"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Your account's role does not allow this page." in page_text(response)
    assert audits(session, "messages.viewed") == audits(session, "messages.downloaded") == []


# 4. Bad filters reported, good ones kept


@pytest.mark.parametrize(
    ("query", "field", "message", "kept"),
    [
        ("?channel=sms&status=lost", "status", "Choose a status from the list", {"channel": "sms"}),
        (
            "?status=sent&channel=fax",
            "channel",
            "Choose a channel from the list",
            {"status": "sent"},
        ),
        (
            "?channel=letter&arm=cheerful",
            "arm",
            "Choose an arm from the list: this trial has no arm 'cheerful'",
            {"channel": "letter"},
        ),
        (
            "?arm=practical&reason=drop%20table",
            "reason",
            "Choose a reason from the list",
            {"arm": "practical"},
        ),
        (
            "?arm=social_norm&due_from=yesterday",
            "due_from",
            "Due from must be a real date, like 2027-03-10",
            {"arm": "social_norm"},
        ),
        (
            "?channel=sms&due_to=0001-01-01",
            "due_to",
            "Due to must be a date from 1900-01-01 to 2199-12-31",
            {"channel": "sms"},
        ),
        (
            "?status=delivered&due_from=2027-03-01&due_to=2027-02-01",
            "due_to",
            "Due to must be the same as or after Due from",
            {"status": "delivered"},
        ),
    ],
)
def test_a_bad_filter_is_reported_at_its_field_and_the_good_ones_still_apply(
    researcher: FlaskClient,
    session: Session,
    query: str,
    field: str,
    message: str,
    kept: dict[str, str],
) -> None:
    response = researcher.get(f"{LOG}{query}")
    assert response.status_code == 400
    html, text = response.get_data(as_text=True), page_text(response)
    assert text.startswith("Error: Message log")
    assert f'<li><a href="#{field}">{message}</a></li>' in html.replace("&#39;", "'")
    assert f'id="{field}-error"' in html
    assert re.search(
        rf'id="{field}"[^>]* aria-invalid="true" aria-describedby="{field}-error"', html
    )
    assert "The other filters still apply." in text
    since = "2027-03-01" if "due_from=2027-03-01" in query else ""  # a good start date stays
    assert 0 < total_shown(text) == len(messages(session, since, **kept))
    [event] = audits(session, "messages.viewed")
    assert event.details["refused"] == [field]
    assert set(event.details["filters"]) >= set(kept)


@pytest.mark.parametrize(
    "query",
    ["?status=skipped", "?channel=letter", "?arm=practical", "?reason=opted_out"],
)
def test_each_filter_narrows_the_log_to_what_the_database_holds(
    researcher: FlaskClient, session: Session, query: str
) -> None:
    name, value = query[1:].split("=")
    response = researcher.get(f"{LOG}{query}")
    assert response.status_code == 200
    assert total_shown(page_text(response)) == len(messages(session, **{name: value}))


def test_a_date_range_keeps_the_messages_due_on_those_local_days(
    researcher: FlaskClient, session: Session
) -> None:
    day = messages(session)[0][0].due_at.astimezone(LONDON).date().isoformat()
    text = page_text(researcher.get(f"{LOG}?due_from={day}&due_to={day}"))
    assert 0 < total_shown(text) == len(messages(session, day=day))


# 5. References link to the person's timeline


def test_each_reference_links_to_that_persons_timeline_encoded_whole(
    researcher: FlaskClient, session: Session
) -> None:
    rename_someone(session, "P 2/b&c")
    pasted = "P%C2%A02/b%26c"  # with a no-break space, which the filter reads as a space
    html = researcher.get(f"{LOG}?ref={pasted}").get_data(as_text=True)
    links = PERSON_LINK.findall(html)
    assert links and set(links) == {(f"/trials/{TRIAL}/people/P%202%2Fb%26c", "P 2/b&amp;c")}
    first = researcher.get(LOG).get_data(as_text=True)
    for href, ref in PERSON_LINK.findall(first):
        plain = ref if ref.startswith("P0") else "P%202%2Fb%26c"
        assert href == f"/trials/{TRIAL}/people/{plain}"
