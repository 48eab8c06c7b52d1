"""Two areas on one platform: a crawl of every page and download, as each role of each
organisation and as a national reader, finds nothing of the other organisation's.

North runs the example trial (seeded with results, replies and an opt-out); South runs its own
copy under another id and title, with people of other names, numbers and addresses. Every GET
route of the app is fetched with the viewer's own values and with the other organisation's
(its trial, its people, its accounts): the other's trial, person or account is a 404, exactly
as one that does not exist, and no page or file a viewer is given holds the other's trial ids,
titles, people or staff. A national reader gets every trial's results and no one's personal data.

Each area's trial sends from its own number; a text from a number that matches no participant
is its area's by the number it was sent to, and one sent to a number no trial sends from is
no one's to see.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file
from messages.intake import enrol_and_plan
from messages.replies import handle_reply
from nudge.accounts import new_user
from nudge.clock import FixedClock
from nudge.db import make_engine
from nudge.models import InboundMessage, Participant, User
from nudge.organisations import add_organisation
from tests.conftest import EXAMPLE, PINNED
from tests.factories import person, write_people
from tests.trial_factories import TRIAL, seed_trial
from tests.web_helpers import (
    CSRF_FIELD,
    PASSWORD,
    STAFF,
    _password_hash,
    add_staff,
    make_app,
    post_login,
    without_csrf_token,
)

SOUTH_TRIAL = "southern-reminders-2027"
SOUTH_TITLE = "Southshire reminder framing"
NORTH_TITLE = "Reminder framing for prosecution witnesses"
SOUTH_STAFF = {
    "admin": "sam.admin@example.org",
    "researcher": "sue.researcher@example.org",
    "lead": "sid.lead@example.org",
}
NATIONAL_EMAIL = "nat.board@example.org"
PEOPLE = 12
TO = "+447700900000"  # North's trial sends from it (the example's sending.sms_from)
SOUTH_FROM = "+447700900999"
NOBODYS_NUMBER = "+447700900444"  # no trial sends from it (a messaging service's pool, say)
# Texts from numbers that match no participant, sent to North's, South's and no one's number.
NORTH_STRANGER = ("07700 900777", TO, "Nightjar here: can I bring my dog?")
SOUTH_STRANGER = ("07700 900888", SOUTH_FROM, "Sandpiper here: which door do I use?")
NOBODYS_STRANGER = ("07700 900666", NOBODYS_NUMBER, "Kittiwake here: I am scared to go")


def south_person(n: int) -> dict[str, Any]:
    """South's people: names, references, numbers and addresses North's never have."""
    return person(
        n,
        participant_ref=f"S{n:05d}",
        case_ref=f"SC{n:05d}",
        first_name="Zebedee",
        last_name=f"Southerly{n}",
        phone=f"07700 900{500 + n:03d}",
        address_line_1=f"{n} Southern Road",
        postcode="TR1 1AA",
    )


# What of each organisation nobody else may see: its trial, its people, its staff.
NORTH_TRIAL_MARKS = (TRIAL, NORTH_TITLE)
# Not North's addresses: "1 Example Street" is also the sample every template is shown with.
NORTH_PEOPLE = ("McTestface", "P00001", "P00002", "900001", "900002", "Nightjar")
SOUTH_TRIAL_MARKS = (SOUTH_TRIAL, SOUTH_TITLE)
SOUTH_PEOPLE = ("Southerly", "Southern Road", "S00001", "900501", "900502", "Sandpiper")
NOBODYS = ("Kittiwake",)


@dataclass
class Areas:
    app: Flask
    clients: dict[str, FlaskClient]  # "north:researcher", "south:lead", "national"...
    params: dict[str, dict[str, Any]]  # per organisation: a value for every URL parameter


def south_definition(folder: Path) -> Path:
    """The example trial under South's id and title, with its letters beside it."""
    definition = folder / "southern.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace(TRIAL, SOUTH_TRIAL).replace(NORTH_TITLE, SOUTH_TITLE)
    text = text.replace(f'sms_from: "{TO}"', f'sms_from: "{SOUTH_FROM}"')
    assert SOUTH_FROM in text
    definition.write_text(text, encoding="utf-8")
    shutil.copytree(EXAMPLE.parent / "letters", folder / "letters", dirs_exist_ok=True)
    return definition


def _reply(
    session: Session, clock: FixedClock, phone: str, sid: str, body: str, to: str = TO
) -> None:
    e164 = "+44" + phone.replace(" ", "")[1:]
    handle_reply(session, clock, provider_id=sid, from_number=e164, to_number=to, body=body)


def _log_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = post_login(client, email, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture(scope="module")
def areas(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Areas]:
    clock = FixedClock(PINNED)
    engine = make_engine(module_db_url)
    folder = tmp_path_factory.mktemp("areas")
    with Session(engine, expire_on_commit=False) as session:
        add_organisation(session, clock, "north", "Northshire Police", "test")
        add_staff(session, clock)  # North's, as the only organisation so far
        seed_trial(session, clock, folder, people=PEOPLE)
        add_organisation(session, clock, "south", "Southshire Victim Service", "test")
        add_staff(session, clock, "south", SOUTH_STAFF)
        new_user(session, clock, NATIONAL_EMAIL, "national", _password_hash(), "test")
        loaded = load_trial_file(south_definition(folder))
        assert isinstance(loaded, LoadedTrial), loaded
        trials.create_trial(session, clock, loaded, trials.Actor("test"), organisation="south")
        trials.launch_trial(session, clock, SOUTH_TRIAL, trials.Actor("test"))
        people = write_people(folder / "south.csv", [south_person(n) for n in range(1, 9)])
        enrol_and_plan(session, clock, SOUTH_TRIAL, people, "t")
        session.commit()
        _reply(session, clock, person(1)["phone"], "SM1", "Where do I park?")
        _reply(session, clock, person(2)["phone"], "SM2", "STOP")
        _reply(session, clock, south_person(1)["phone"], "SM3", "Is there a ramp?")
        _reply(session, clock, south_person(2)["phone"], "SM4", "STOP")
        for n, (phone, to, body) in enumerate((NORTH_STRANGER, SOUTH_STRANGER, NOBODYS_STRANGER)):
            _reply(session, clock, phone, f"SM{5 + n}", body, to)
        session.commit()
        params = {
            "north": _params(session, TRIAL, "P00001", STAFF["lead"]),
            "south": _params(session, SOUTH_TRIAL, "S00001", SOUTH_STAFF["lead"]),
        }
    app = make_app(module_db_url)
    clients = {f"north:{role}": _log_in(app, email) for role, email in STAFF.items()}
    clients |= {f"south:{role}": _log_in(app, email) for role, email in SOUTH_STAFF.items()}
    clients["national"] = _log_in(app, NATIONAL_EMAIL)
    yield Areas(app, clients, params)
    app.extensions["nudge"]["engine"].dispose()
    engine.dispose()


def _params(session: Session, trial_id: str, ref: str, lead: str) -> dict[str, Any]:
    reply_id = session.exec(
        select(InboundMessage.id)
        .join(Participant, Participant.id == InboundMessage.participant_id)  # type: ignore[arg-type]
        .where(Participant.trial_id == trial_id)
        .limit(1)
    ).one()
    return {
        "trial_id": trial_id,
        "ref": ref,
        "arm_id": "social_norm",
        "position": 2,
        "filename": "nudge.css",
        "reply_id": reply_id,
        "user_id": session.exec(select(User.id).where(User.email == lead)).one(),
        "token": "no-such-token",
    }


def _gets(app: Flask, params: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(endpoint, path, whether it names a trial, person or account) of every GET route."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in (rule.methods or set()):
                continue
            path = url_for(rule.endpoint, **{k: params[k] for k in rule.arguments})
            names = bool(set(rule.arguments) & {"trial_id", "ref", "user_id", "reply_id"})
            found.append((rule.endpoint, path, names))
    return found


def _body(client: FlaskClient, path: str) -> tuple[int, str]:
    with client.get(path) as response:
        return response.status_code, response.get_data().decode("utf-8", "replace")


def _forbidden(viewer: str) -> tuple[str, ...]:
    """What must never be on a page or in a file this viewer is given."""
    if viewer == "national":
        staff = tuple(STAFF.values()) + tuple(SOUTH_STAFF.values())
        return NORTH_PEOPLE + SOUTH_PEOPLE + NOBODYS + staff
    if viewer.startswith("north:"):
        return SOUTH_TRIAL_MARKS + SOUTH_PEOPLE + NOBODYS + tuple(SOUTH_STAFF.values())
    return NORTH_TRIAL_MARKS + NORTH_PEOPLE + NOBODYS + tuple(STAFF.values())


Gets = Callable[[Flask, dict[str, Any]], list[tuple[str, str, bool]]]


def crawl(
    client: FlaskClient,
    viewer: str,
    params: dict[str, dict[str, Any]],
    app: Flask,
    gets: Gets,
    forbidden: tuple[str, ...] = (),
) -> tuple[list[str], list[str], dict[str, int]]:
    """Every GET route (`gets`: endpoint, path, whether it names something of an area) as
    `viewer` ("north:researcher", or "national") with their own area's `params`, then, for the
    routes that name something, with the other area's. Returns what was wrong (a page they
    get with their own values that is not a 404 with the other's), where a `forbidden` mark
    showed, and the status of each of their own pages."""
    own = viewer.split(":")[0]
    if own == "national":  # every area's own: only what they may never see is checked
        passes = [(params["north"], False), (params["south"], False)]
    else:
        other = "south" if own == "north" else "north"
        passes = [(params[own], False), (params[other], True)]
    leaks, wrong, owned = [], [], {}
    for values, foreign in passes:
        for endpoint, path, names in gets(app, values):
            if foreign and not names:
                continue  # the same page as with their own values: already fetched
            status, text = _body(client, path)
            if not foreign:
                owned[endpoint] = status
            elif status != 404 and (owned[endpoint] in (200, 302) or status != owned[endpoint]):
                wrong.append(f"GET {path} ({endpoint}): {status}, their own {owned[endpoint]}")
            if status == 200:
                leaks += [f"{path}: {mark}" for mark in forbidden if mark in text]
    return wrong, leaks, owned


VIEWERS = [f"{org}:{role}" for org in ("north", "south") for role in STAFF] + ["national"]


@pytest.mark.parametrize("viewer", VIEWERS)
def test_no_page_or_download_shows_a_viewer_anything_of_another_organisation(
    areas: Areas, viewer: str
) -> None:
    """Every GET route with the viewer's own values, then with the other organisation's: a
    page they get with their own is a 404 with the other's (one their role refuses stays
    refused, or is a 404); nothing they are given holds the other's trial, people or staff."""
    client = areas.clients[viewer]
    wrong, leaks, _ = crawl(client, viewer, areas.params, areas.app, _gets, _forbidden(viewer))
    assert wrong == []
    assert leaks == []


@pytest.mark.parametrize("viewer", ["north:researcher", "south:researcher"])
def test_the_lists_show_only_the_viewers_own_organisation(areas: Areas, viewer: str) -> None:
    client = areas.clients[viewer]
    own, other = (TRIAL, SOUTH_TRIAL) if viewer.startswith("north") else (SOUTH_TRIAL, TRIAL)
    for path in ("/", "/replies"):
        status, text = _body(client, path)
        assert status == 200 and own in text and other not in text, path
    status, text = _body(client, "/opt-outs")
    mine, theirs = ("P00002", "S00002") if own == TRIAL else ("S00002", "P00002")
    assert status == 200 and mine in text and theirs not in text


def _stranger_reply_id(areas: Areas, body: str) -> int:
    engine = areas.app.extensions["nudge"]["engine"]
    with Session(engine) as session:
        return session.exec(select(InboundMessage.id).where(InboundMessage.body == body)).one()


@pytest.mark.parametrize("viewer", ["north:researcher", "south:researcher"])
def test_a_text_from_an_unknown_number_is_shown_only_to_the_area_whose_number_it_was_sent_to(
    areas: Areas, viewer: str
) -> None:
    """The queue of replies from numbers in no trial holds the viewer's area's stranger only;
    one sent to a number no trial sends from is no one's; handling another area's is a 404,
    as for a reply that never was, and changes nothing."""
    client = areas.clients[viewer]
    mine, theirs = (
        (NORTH_STRANGER, SOUTH_STRANGER)
        if viewer.startswith("north")
        else (SOUTH_STRANGER, NORTH_STRANGER)
    )
    status, text = _body(client, "/replies")
    assert status == 200
    assert mine[2].split(":")[0] in text
    assert theirs[2].split(":")[0] not in text and "Kittiwake" not in text
    token = re.search(CSRF_FIELD, text)
    assert token is not None
    for body in (theirs[2], NOBODYS_STRANGER[2]):
        reply_id = _stranger_reply_id(areas, body)
        for action in ("handled", "reopened"):
            form = {"csrf_token": token.group(1), "note": "Called back", "show": "open"}
            response = client.post(f"/replies/{reply_id}/{action}", data=form)
            assert response.status_code == 404, (body, action)
    assert (
        client.post("/replies/999999/handled", data={"csrf_token": token.group(1)}).status_code
        == 404
    )
    engine = areas.app.extensions["nudge"]["engine"]
    with Session(engine) as session:
        stranger_bodies = (theirs[2], NOBODYS_STRANGER[2])
        untouched = session.exec(
            select(InboundMessage.handled_at).where(col(InboundMessage.body).in_(stranger_bodies))
        ).all()
    assert untouched == [None, None]


def test_a_national_reader_sees_every_trials_results_and_no_one(areas: Areas) -> None:
    client = areas.clients["national"]
    status, text = _body(client, "/")
    assert status == 200 and TRIAL in text and SOUTH_TRIAL in text
    for trial_id in (TRIAL, SOUTH_TRIAL):
        assert _body(client, f"/trials/{trial_id}/results")[0] == 200
        assert _body(client, f"/trials/{trial_id}/people")[0] == 403
        assert _body(client, f"/trials/{trial_id}/messages")[0] == 403
    assert _body(client, "/opt-outs")[0] == 403
    assert _body(client, "/admin/users")[0] == 403


def test_a_trial_of_another_organisation_is_as_missing_as_one_that_never_was(
    areas: Areas,
) -> None:
    client = areas.clients["north:researcher"]
    for page in ("results", "manage", "people", "messages", "results.csv"):
        other = _body(client, f"/trials/{SOUTH_TRIAL}/{page}")
        missing = _body(client, f"/trials/no-such-trial/{page}")
        assert other[0] == missing[0] == 404, page
        assert without_csrf_token(other[1]) == without_csrf_token(missing[1]), page
