"""A person's timeline, as a researcher reads it: built through the real services, from
enrolment to the outcome, and checked for what it shows, in what order, and what it never shows."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from analysis.outcomes import import_outcomes
from messages.callbacks import apply_status
from messages.dispatch import dispatch_due
from messages.intake import enrol_and_plan, update_hearings_and_replan
from messages.providers.console import ConsoleProvider
from messages.replies import handle_reply
from nudge.clock import FixedClock
from nudge.models import Arm, Assignment, AuditEvent, Message, Participant
from tests.experiments.test_trial_pages import page_text
from tests.factories import launch, person, write_people
from tests.web_helpers import logged_in, without_csrf_token

TRIAL = "witness-reminders-2027"
OTHER_TRIAL = "witness-reminders-2028"
PEOPLE = 6  # one case each, all at Bristol: the first block of six holds every arm twice
EXCLUDED = "P00007"  # 17 years old
MOVED_TO = "2027-03-11T10:00"
# What the fictional people's rows hold that must never reach the page (tests/factories.py).
PERSONAL = ("Testy", "McTestface", "07700", "+44", "Example Street", "Exampletown", "BS1 1AA")


@dataclass(frozen=True)
class Story:
    ref: str
    participant_id: int


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def practical_person(session: Session) -> Participant:
    """The first person allocated to the practical-information arm (two texts each)."""
    found = session.exec(
        select(Participant)
        .join(Assignment, col(Assignment.participant_id) == Participant.id)
        .join(Arm, col(Arm.id) == Assignment.arm_id)
        .where(Arm.key == "practical")
        .order_by(col(Participant.participant_ref))
    ).first()
    assert found is not None and found.id is not None
    return found


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def tell_story(
    session: Session, engine: Engine, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> Story:
    """Enrol six witnesses and one too young; move one practical-arm person's hearing a week
    on; send their first text (delivered), take their STOP (the second text is withheld), and
    record that they attended."""
    launch(session, clock, example_dir / "witness-reminders.yaml")
    rows = [person(n) for n in range(1, PEOPLE + 1)] + [person(PEOPLE + 1, age="17")]
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "people.csv", rows), "t")
    session.commit()
    chosen = practical_person(session)
    case_ref = f"C{chosen.participant_ref[1:]}"
    clock.set(at("2027-01-20T09:30"))
    court_list = write_csv(
        tmp_path / "court-list.csv",
        ["case_ref", "hearing_start", "status"],
        [[case_ref, MOVED_TO, "adjourned"]],
    )
    update_hearings_and_replan(session, clock, TRIAL, court_list, "t")
    session.commit()
    clock.set(at("2027-03-04T18:00"))
    dispatch_due(engine, clock, ConsoleProvider(tmp_path / "outbox", clock), worker="w")
    session.expire_all()
    first = session.exec(
        select(Message)
        .where(Message.participant_id == chosen.id, Message.template == "practical_7d")
        .where(Message.status == "sent")
    ).one()
    clock.advance(timedelta(seconds=40))
    apply_status(
        session,
        clock,
        message_id=first.id,
        provider_id=first.provider_id or "",
        provider_status="delivered",
        error_code=None,
    )
    session.commit()
    clock.set(at("2027-03-05T08:15"))
    handle_reply(
        session,
        clock,
        provider_id="SM" + "5" * 32,
        from_number=chosen.phone or "",
        to_number="+447700900000",
        body="STOP",
    )
    session.commit()
    clock.set(at("2027-03-12T11:00"))
    outcomes = write_csv(
        tmp_path / "outcomes.csv",
        ["participant_ref", "case_ref", "attended", "withdrew"],
        [[chosen.participant_ref, case_ref, "yes", ""]],
    )
    import_outcomes(session, clock, TRIAL, outcomes, "t")
    session.commit()
    return Story(chosen.participant_ref, chosen.id or 0)


@pytest.fixture
def story(
    session: Session, engine: Engine, clock: FixedClock, example_dir: Path, tmp_path: Path
) -> Story:
    return tell_story(session, engine, clock, example_dir, tmp_path)


pytestmark = pytest.mark.usefixtures("staff")


def timeline_of(client: FlaskClient, ref: str, trial: str = TRIAL) -> str:
    response = client.get(f"/trials/{trial}/people/{ref}")
    assert response.status_code == 200, page_text(response)
    return page_text(response)


def test_the_timeline_tells_the_story_in_order_in_the_trials_time(
    researcher: FlaskClient, story: Story
) -> None:
    text = timeline_of(researcher, story.ref)
    story_in_order = [
        "Enrolled: eligible Sun 10 Jan 2027 12:00 GMT",
        "Hearing listed for Thu 4 Mar 2027 10:00 GMT Sun 10 Jan 2027 12:00 GMT",
        "Allocated to Practical information Sun 10 Jan 2027 12:00 GMT",
        "Hearing moved Wed 20 Jan 2027 09:30 GMT",
        "Was Thu 4 Mar 2027 10:00 GMT (listed) Now Thu 11 Mar 2027 10:00 GMT (adjourned)",
        "Text (SMS): practical_7d Thu 25 Feb 2027 18:00 GMT",
        "Text (SMS): practical_1d Wed 3 Mar 2027 18:00 GMT",
        "Text (SMS): practical_7d Thu 4 Mar 2027 18:00 GMT",
        "Replied STOP Fri 5 Mar 2027 08:15 GMT",
        "Opted out of texts Fri 5 Mar 2027 08:15 GMT How They replied STOP",
        "Text (SMS): practical_1d Wed 10 Mar 2027 18:00 GMT",
        "Outcome recorded: attendance Fri 12 Mar 2027 11:00 GMT Recorded as attended: yes",
    ]
    places = [text.find(part) for part in story_in_order]
    assert -1 not in places, [p for p, i in zip(story_in_order, places, strict=True) if i < 0]
    assert places == sorted(places)
    assert "Stratum court BRS" in text
    assert f"Randomised with everyone in case C{story.ref[1:]}" in text


def message_entry(text: str, title: str) -> str:
    """The page text of one message's entry: from its title to the next entry's."""
    start = text.index(title)
    ends = [text.find(t, start + 1) for t in ("Text message:", "Replied", "Outcome recorded")]
    return text[start : min(e for e in ends if e > 0)]


def test_each_message_shows_every_status_change_with_its_reason(
    researcher: FlaskClient, story: Story
) -> None:
    text = timeline_of(researcher, story.ref)
    superseded = message_entry(text, "Text (SMS): practical_7d Thu 25 Feb")
    assert "Status now Replaced: the hearing moved" in superseded
    assert "For the hearing as first listed" in superseded
    assert "Wed 20 Jan 2027 09:30 GMT: Replaced: the hearing moved" in superseded
    delivered = message_entry(text, "Text (SMS): practical_7d Thu 4 Mar")
    assert "Status now Delivered" in delivered and "For the hearing after it changed" in delivered
    steps = [
        "Thu 4 Mar 2027 18:00 GMT: Being sent",
        "Thu 4 Mar 2027 18:00 GMT: Sent",
        "Thu 4 Mar 2027 18:00 GMT: Delivered (reported by the provider)",
    ]
    places = [delivered.find(step) for step in steps]
    assert -1 not in places and places == sorted(places)
    withheld = message_entry(text, "Text (SMS): practical_1d Wed 10 Mar")
    assert "Status now Cancelled before sending: the person opted out" in withheld
    assert "Fri 5 Mar 2027 08:15 GMT: Cancelled before sending: the person opted out" in withheld


def test_the_reply_is_shown_as_written_and_what_it_did(
    researcher: FlaskClient, story: Story
) -> None:
    text = timeline_of(researcher, story.ref)
    reply = text[text.index("Replied STOP") : text.index("Opted out of texts")]
    assert "They wrote (anything like a phone number hidden): STOP" in reply
    assert "What Nudge did Texts to this number stopped, in every trial" in reply


def test_the_page_shows_the_reference_and_never_a_name_number_or_address(
    researcher: FlaskClient, story: Story, session: Session
) -> None:
    page = researcher.get(f"/trials/{TRIAL}/people/{story.ref}").get_data(as_text=True)
    shown = [word for word in PERSONAL if word in page]
    assert shown == []
    stored = session.get(Participant, story.participant_id)
    assert stored is not None and stored.phone and stored.phone not in page
    assert f"Person {story.ref}" in page_text(researcher.get(f"/trials/{TRIAL}/people/{story.ref}"))


def test_every_view_is_audited_by_internal_id_with_who_when_and_trial(
    app: Flask, researcher: FlaskClient, story: Story, session: Session
) -> None:
    app.extensions["nudge"]["clock"].set(at("2027-03-15T10:05"))
    timeline_of(researcher, story.ref)
    timeline_of(researcher, story.ref)
    events = session.exec(
        select(AuditEvent).where(AuditEvent.action == "person.viewed").order_by(col(AuditEvent.id))
    ).all()
    assert len(events) == 2
    event = events[0]
    assert (event.actor, event.trial_id, event.at) == (
        "web:rita@example.org",
        TRIAL,
        at("2027-03-15T10:05"),
    )
    assert event.subject == f"participant {story.participant_id}"
    assert event.details == {"participant_ids": [story.participant_id]}
    written = json.dumps([event.subject, event.details])
    assert story.ref not in written
    assert not [word for word in PERSONAL if word in written]


def test_an_excluded_person_shows_why_and_no_allocation(
    researcher: FlaskClient, story: Story
) -> None:
    text = timeline_of(researcher, EXCLUDED)
    assert "Eligibility Not eligible: age under 18 or not recorded" in text
    assert "Arm Not randomised" in text
    assert "Enrolled: not eligible Sun 10 Jan 2027 12:00 GMT Why age under 18 or not recorded" in (
        text
    )
    assert "Allocated to" not in text and "Text message:" not in text


def launch_other_trial(session: Session, clock: FixedClock, example_dir: Path) -> None:
    other = example_dir / "other.yaml"
    other.write_text(
        (example_dir / "witness-reminders.yaml").read_text().replace(TRIAL, OTHER_TRIAL)
    )
    launch(session, clock, other)


def test_an_unknown_reference_gets_a_helpful_404_that_says_nothing_of_other_trials(
    researcher: FlaskClient, story: Story, session: Session, clock: FixedClock, example_dir: Path
) -> None:
    launch_other_trial(session, clock, example_dir)
    known_elsewhere = researcher.get(f"/trials/{OTHER_TRIAL}/people/{story.ref}")
    unknown = researcher.get(f"/trials/{OTHER_TRIAL}/people/Q99999")
    assert known_elsewhere.status_code == unknown.status_code == 404
    same = without_csrf_token(known_elsewhere.get_data(as_text=True)).replace(story.ref, "Q99999")
    assert same == without_csrf_token(unknown.get_data(as_text=True))
    text = page_text(unknown)
    assert (
        "No one with that reference" in text
        and "No one in this trial has the reference Q99999" in text
    )
    assert 'value="Q99999"' in unknown.get_data(as_text=True)  # the find form, ready to correct
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "person.viewed")).all() == []


def test_an_unknown_trial_is_the_sites_404(researcher: FlaskClient) -> None:
    response = researcher.get("/trials/no-such-trial/people/P00001")
    assert response.status_code == 404 and "There is nothing at this address" in page_text(response)


def test_finding_a_person_goes_to_their_timeline_spaces_trimmed(
    researcher: FlaskClient, story: Story
) -> None:
    response = researcher.get(f"/trials/{TRIAL}/people?ref=%20{story.ref}%C2%A0")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/trials/{TRIAL}/people/{story.ref}"
    form = researcher.get(f"/trials/{TRIAL}/people")
    assert form.status_code == 200 and "Find a person" in page_text(form)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ref=", "Enter a participant reference, such as P00042"),
        ("ref=%20%20", "Enter a participant reference, such as P00042"),
        ("ref=" + "P" * 101, "A participant reference is at most 100 characters: check it"),
        ("ref=P0%0000", "A participant reference has no control characters"),
    ],
)
def test_an_invalid_reference_is_a_govuk_error_linking_to_the_field(
    researcher: FlaskClient, story: Story, query: str, message: str
) -> None:
    response = researcher.get(f"/trials/{TRIAL}/people?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<title>Error: Find a person" in page
    assert f'<a href="#ref">{message}' in page
    assert 'aria-invalid="true"' in page and 'id="ref"' in page


def test_a_reference_that_no_import_could_store_is_not_found_without_a_query(
    researcher: FlaskClient, story: Story
) -> None:
    for path in (f"{story.ref}%20", "P0%0000", "P" * 101):
        response = researcher.get(f"/trials/{TRIAL}/people/{path}")
        assert response.status_code == 404, path
        assert "No one with that reference" in page_text(response)


@pytest.mark.parametrize("role", ["lead", "admin"])
def test_leads_and_admins_are_refused_the_timeline_and_the_find_form(
    app: Flask, story: Story, role: str
) -> None:
    client = logged_in(app, role)
    for path in (f"/trials/{TRIAL}/people/{story.ref}", f"/trials/{TRIAL}/people?ref={story.ref}"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert not [
            word for word in (story.ref, "Practical information") if word in page_text(response)
        ]


def test_strangers_are_sent_to_log_in(app: Flask, story: Story) -> None:
    for path in (f"/trials/{TRIAL}/people/{story.ref}", f"/trials/{TRIAL}/people"):
        response = app.test_client().get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_reference_in_two_cases_shows_both_and_audits_both_ids(
    researcher: FlaskClient, story: Story, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    both = [
        person(50, case_ref=case_ref, hearing_start="2027-04-01T10:00")
        for case_ref in ("C00050", "C00051")
    ]
    enrol_and_plan(session, clock, TRIAL, write_people(tmp_path / "two.csv", both), "t")
    session.commit()
    text = timeline_of(researcher, "P00050")
    assert "Cases C00050, C00051" in text
    assert text.count("Enrolled: eligible") == 2 and text.count("Hearing listed for") == 2
    found = session.exec(select(Participant.id).where(Participant.participant_ref == "P00050"))
    ids = sorted(i for i in found.all() if i is not None)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "person.viewed")).one()
    assert event.details == {"participant_ids": ids}
    assert event.subject == f"participants {ids[0]}, {ids[1]}"
