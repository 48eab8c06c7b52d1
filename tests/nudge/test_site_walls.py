"""One trial run by two areas: each site's staff see the trial, and of its people only their own.

North owns (coordinates) the example trial run as a multi-site trial with South: North's people
are its site's, South's (other names, numbers and addresses) South's; each site's people have
messages, replies, an opt-out and outcomes. Every GET route of the app is fetched as each role
of each organisation, and as a national reader, with the viewer's own site's person and reply,
then with the other site's: the other site's person is a 404, exactly as one who never was, and
no page or file a viewer is given holds a name, number, reference or reply of the other site's
people. Leads and national readers see aggregates only, so no one's. Handling a reply of the
other site's person is a 404 and changes nothing; the reproduction bundle (pseudonymised rows of
every site, for the pooled analysis) is the coordinating site's researchers' alone.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from analysis.outcomes import import_outcomes
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
from tests.nudge.test_organisation_walls import (
    NATIONAL_EMAIL,
    SOUTH_STAFF,
    _body,
    _gets,
    _log_in,
    crawl,
    south_person,
)
from tests.trial_factories import TRIAL, assigned_arms, set_message_fates
from tests.web_helpers import (
    CSRF_FIELD,
    STAFF,
    add_staff,
    csrf_token,
    make_app,
    without_csrf_token,
)

SITES = ("north", "south")
PER_SITE = 12
NORTH_REPLY = "Nightjar here: where do I park?"
SOUTH_REPLY = "Sandpiper here: is there a ramp?"
# What of each site's people no one of the other site may see (nor any lead or national reader).
PEOPLE = {
    "north": ("McTestface", "P00001", "P00002", "900001", "900002", "Nightjar"),
    "south": ("Southerly", "Southern Road", "S00001", "S00002", "900501", "900502", "Sandpiper"),
}
VIEWERS = [f"{org}:{role}" for org in SITES for role in STAFF] + ["national"]


@dataclass
class Shared:
    app: Flask
    clients: dict[str, FlaskClient]
    params: dict[str, dict[str, Any]]  # per site: a value for every URL parameter
    replies: dict[str, int]  # per site: its person's reply for staff


def sited_definition(folder: Path) -> Path:
    """The example trial, run by North and South (North, first, owns it)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    path = folder / "shared.yaml"
    path.write_text(text.rstrip("\n") + "\nsites: [north, south]\n", encoding="utf-8")
    shutil.copytree(EXAMPLE.parent / "letters", folder / "letters", dirs_exist_ok=True)
    return path


def _enrol_by_site(session: Session, clock: FixedClock, folder: Path) -> None:
    """Each site's people, imported for their site."""
    files = {
        "north": [person(n) for n in range(1, PER_SITE + 1)],
        "south": [south_person(n) for n in range(1, PER_SITE + 1)],
    }
    for site, rows in files.items():
        path = write_people(folder / f"{site}.csv", rows)
        enrol_and_plan(session, clock, TRIAL, path, "t", site=site)
    session.commit()


def _outcomes(session: Session, clock: FixedClock, folder: Path) -> None:
    path = folder / "outcomes.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant_ref", "case_ref", "attended"])
        for n, ref in enumerate(sorted(assigned_arms(session))):
            case = ("SC" if ref.startswith("S") else "C") + ref[1:]
            writer.writerow([ref, case, "yes" if n % 3 else "no"])
    import_outcomes(session, clock, TRIAL, path, "test")
    session.commit()


def _reply(session: Session, clock: FixedClock, phone: str, sid: str, body: str) -> None:
    e164 = "+44" + phone.replace(" ", "")[1:]
    handle_reply(
        session, clock, provider_id=sid, from_number=e164, to_number="+447700900000", body=body
    )


@pytest.fixture(scope="module")
def shared(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    clock = FixedClock(PINNED)
    engine = make_engine(module_db_url)
    folder = tmp_path_factory.mktemp("shared")
    with Session(engine, expire_on_commit=False) as session:
        add_organisation(session, clock, "north", "Northshire Police", "test")
        add_staff(session, clock, "north", STAFF)
        add_organisation(session, clock, "south", "Southshire Victim Service", "test")
        add_staff(session, clock, "south", SOUTH_STAFF)
        new_user(session, clock, NATIONAL_EMAIL, "national", _hash(), "test")
        loaded = load_trial_file(sited_definition(folder))
        assert isinstance(loaded, LoadedTrial), loaded
        trials.create_trial(session, clock, loaded, trials.Actor("test"), organisation="north")
        trials.launch_trial(session, clock, TRIAL, trials.Actor("test"))
        session.commit()
        _enrol_by_site(session, clock, folder)
        set_message_fates(session)
        _outcomes(session, clock, folder)
        _reply(session, clock, person(1)["phone"], "SM1", NORTH_REPLY)
        _reply(session, clock, person(2)["phone"], "SM2", "STOP")
        _reply(session, clock, south_person(1)["phone"], "SM3", SOUTH_REPLY)
        _reply(session, clock, south_person(2)["phone"], "SM4", "STOP")
        session.commit()
        replies = {
            site: session.exec(select(InboundMessage.id).where(InboundMessage.body == body)).one()
            for site, body in (("north", NORTH_REPLY), ("south", SOUTH_REPLY))
        }
        lead = session.exec(select(User.id).where(User.email == STAFF["lead"])).one()
        params = {
            site: {
                "trial_id": TRIAL,
                "ref": ref,
                "arm_id": "social_norm",
                "position": 2,
                "filename": "nudge.css",
                "reply_id": replies[site],
                "user_id": lead,
                "token": "no-such-token",
            }
            for site, ref in (("north", "P00001"), ("south", "S00001"))
        }
    app = make_app(module_db_url)
    clients = {f"north:{role}": _log_in(app, email) for role, email in STAFF.items()}
    clients |= {f"south:{role}": _log_in(app, email) for role, email in SOUTH_STAFF.items()}
    clients["national"] = _log_in(app, NATIONAL_EMAIL)
    yield Shared(app, clients, params, replies)
    app.extensions["nudge"]["engine"].dispose()
    engine.dispose()


def _hash() -> str:
    from tests.web_helpers import _password_hash

    return _password_hash()


def _person_gets(app: Flask, params: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(endpoint, path, whether it names a person or their reply) of every GET route."""
    with app.test_request_context():
        rules = [(r.endpoint, set(r.arguments)) for r in app.url_map.iter_rules()]
    names = {endpoint: bool(args & {"ref", "reply_id"}) for endpoint, args in rules}
    return [(endpoint, path, names[endpoint]) for endpoint, path, _ in _gets(app, params)]


def _forbidden(viewer: str) -> tuple[str, ...]:
    """What of the trial's people this viewer may never be shown: the other site's people's;
    everyone's for a lead or a national reader, who read aggregates only."""
    if viewer == "national" or viewer.endswith(":lead"):
        return PEOPLE["north"] + PEOPLE["south"]
    return PEOPLE["south" if viewer.startswith("north:") else "north"]


@pytest.mark.parametrize("viewer", VIEWERS)
def test_no_page_or_download_shows_a_site_anything_of_the_other_sites_people(
    shared: Shared, viewer: str
) -> None:
    """Every GET route with the viewer's own site's person and reply, then with the other
    site's: a page they get with their own is a 404 with the other's (one their role refuses
    stays refused); nothing they are given holds the other site's people."""
    client = shared.clients[viewer]
    forbidden = _forbidden(viewer)
    wrong, leaks, owned = crawl(client, viewer, shared.params, shared.app, _person_gets, forbidden)
    assert wrong == []
    assert leaks == []
    if viewer.endswith(":researcher"):  # the crawl did reach their own people
        assert owned["people_pages.person_timeline"] == 200
        assert owned["message_pages.message_log_page"] == 200


@pytest.mark.parametrize("site", SITES)
def test_a_sites_researcher_sees_only_their_own_sites_people_in_every_list(
    shared: Shared, site: str
) -> None:
    client = shared.clients[f"{site}:researcher"]
    mine, theirs = ("P0", "S0") if site == "north" else ("S0", "P0")
    my_reply, their_reply = (
        (NORTH_REPLY, SOUTH_REPLY) if site == "north" else (SOUTH_REPLY, NORTH_REPLY)
    )
    for path in (f"/trials/{TRIAL}/messages", f"/trials/{TRIAL}/messages.csv", "/opt-outs"):
        status, text = _body(client, path)
        assert status == 200 and mine in text and theirs not in text, path
    status, text = _body(client, f"/trials/{TRIAL}/replies?show=all")
    assert status == 200 and my_reply in text and their_reply not in text
    # A reference filter naming the other site's person matches no one, as an unknown one.
    for ref, rows in ((f"{mine}0001", 1), (f"{theirs}0001", 0)):
        status, text = _body(client, f"/trials/{TRIAL}/messages.csv?ref={ref}")
        found = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:]
        assert status == 200 and {row[0] for row in found} == ({ref} if rows else set()), ref
    other, missing = (
        _body(client, f"/trials/{TRIAL}/people/{theirs}0001"),
        _body(client, f"/trials/{TRIAL}/people/X{theirs}0001"),
    )
    assert other[0] == missing[0] == 404
    assert without_csrf_token(other[1]).replace(f"{theirs}0001", "") == without_csrf_token(
        missing[1]
    ).replace(f"X{theirs}0001", "")


@pytest.mark.parametrize("site", SITES)
def test_handling_a_reply_of_the_other_sites_person_is_a_404_and_changes_nothing(
    shared: Shared, site: str
) -> None:
    client = shared.clients[f"{site}:researcher"]
    other = "south" if site == "north" else "north"
    status, text = _body(client, "/replies")
    token = re.search(CSRF_FIELD, text)
    assert status == 200 and token is not None
    theirs = shared.replies[other]
    for action in ("handled", "reopened"):
        form = {"csrf_token": token.group(1), "note": "Called back", "show": "open"}
        assert client.post(f"/replies/{theirs}/{action}", data=form).status_code == 404
    engine = shared.app.extensions["nudge"]["engine"]
    with Session(engine) as session:
        assert session.get(InboundMessage, theirs).handled_at is None  # type: ignore[union-attr]


def test_the_reproduction_bundle_is_the_coordinating_sites_researchers_with_every_site(
    shared: Shared,
) -> None:
    """North owns the trial: its researchers' bundle holds both sites' pseudonymised rows (the
    pooled analysis is theirs to run); South's researchers are neither offered it nor given it."""
    north = shared.clients["north:researcher"]
    with north.get(f"/trials/{TRIAL}/reproduction.zip") as response:
        assert response.status_code == 200, response.get_data(as_text=True)
        archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    texts = {name: archive.read(name).decode("utf-8", "replace") for name in archive.namelist()}
    rows = next(text for name, text in texts.items() if name.endswith("analysis.csv"))
    assert len(rows.strip().splitlines()) - 1 == 2 * PER_SITE
    for text in texts.values():
        for mark in PEOPLE["north"] + PEOPLE["south"]:
            assert mark not in text
    assert "reproduction.zip" in _body(north, f"/trials/{TRIAL}/results")[1]
    south = shared.clients["south:researcher"]
    assert _body(south, f"/trials/{TRIAL}/reproduction.zip")[0] == 403
    status, page = _body(south, f"/trials/{TRIAL}/results")
    assert status == 200 and "reproduction.zip" not in page


def test_the_trials_list_shows_a_sites_staff_their_role_in_the_shared_trial(
    shared: Shared,
) -> None:
    """South's researcher holds no role in North, the owner: the list gives their site role."""
    status, text = _body(shared.clients["south:researcher"], "/")
    assert status == 200 and TRIAL in text
    assert f"/trials/{TRIAL}/messages" in text  # the researcher's links, not a lead's row


def test_the_sites_people_are_apart_in_the_database_as_the_test_built_them(
    shared: Shared,
) -> None:
    engine = shared.app.extensions["nudge"]["engine"]
    with Session(engine) as session:
        refs = session.exec(
            select(Participant.participant_ref, Participant.site_id).where(
                col(Participant.trial_id) == TRIAL
            )
        ).all()
    assert len({site for _, site in refs}) == 2 and all(site is not None for _, site in refs)


def test_only_the_coordinating_sites_researchers_change_the_shared_trial(shared: Shared) -> None:
    """Launching, amending and pausing are the owning organisation's: another site's researcher
    is refused (403) and their Manage page says who manages the trial, offering no such link."""
    paths = [f"/trials/{TRIAL}/{action}" for action in ("launch", "amend", "pause")]
    south = shared.clients["south:researcher"]
    for path in paths:
        assert _body(south, path)[0] == 403, path
    token = csrf_token(south, f"/trials/{TRIAL}/manage")
    resumed = south.post(f"/trials/{TRIAL}/resumed", data={"csrf_token": token, "which": "x"})
    assert resumed.status_code == 403
    status, page = _body(south, f"/trials/{TRIAL}/manage")
    assert status == 200 and "managed by Northshire Police" in page
    assert not any(path in page for path in paths)
    north = shared.clients["north:researcher"]
    status, page = _body(north, f"/trials/{TRIAL}/manage")
    assert status == 200 and f"/trials/{TRIAL}/amend" in page
    assert _body(north, f"/trials/{TRIAL}/pause")[0] == 200
