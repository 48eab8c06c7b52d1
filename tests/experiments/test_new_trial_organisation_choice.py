"""The web "new trial" form asks a researcher in several organisations which one the trial is
for, offers only those where they are a researcher, and refuses any other organisation sent
(a forged id, or one where they hold another role) with a form error and nothing written.
An id another organisation's trial has is refused in the words used for one's own.
tests/nudge/test_browser_new_trial_organisation.py walks it in Chromium."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from experiments import trials
from experiments.loader import LoadedTrial, load_trial_file
from nudge.clock import FixedClock
from nudge.models import Membership, Organisation, Trial, User
from nudge.organisations import add_organisation
from tests.conftest import EXAMPLE
from tests.experiments.test_trial_pages import TRIAL, YAML, create, page_text, upload
from tests.factories import row_counts
from tests.web_helpers import STAFF


def _join(session: Session, clock: FixedClock, slug: str, name: str, role: str) -> int:
    """A new organisation where the test researcher holds `role`; its id."""
    organisation = add_organisation(session, clock, slug, name, "test")
    user = session.exec(select(User).where(User.email == STAFF["researcher"])).one()
    assert user.id is not None and organisation.id is not None
    session.add(Membership(user_id=user.id, organisation_id=organisation.id, role=role))
    session.commit()
    return organisation.id


@pytest.fixture
def two_homes(researcher: FlaskClient, session: Session, clock: FixedClock) -> dict[str, int]:
    """The researcher is a researcher in `default` and South, and a lead in West."""
    south = _join(session, clock, "south", "Southshire Victim Service", "researcher")
    west = _join(session, clock, "west", "Westshire Police", "lead")
    default = session.exec(select(Organisation.id).where(Organisation.slug == "default")).one()
    assert default is not None
    return {"default": default, "south": south, "west": west}


def _offered(response: Any) -> list[str]:
    text = response.get_data(as_text=True)
    return re.findall(r'name="organisation" type="radio" value="(\d+)"', text)


def test_a_researcher_in_one_organisation_is_not_asked_and_the_trial_is_theirs(
    researcher: FlaskClient, session: Session
) -> None:
    assert _offered(researcher.get("/trials/new")) == []
    assert create(researcher).status_code == 201
    trial = session.get(Trial, TRIAL)
    assert trial is not None
    home = session.get(Organisation, trial.organisation_id)
    assert home is not None and home.slug == "default"


def test_a_researcher_in_several_chooses_among_those_where_they_are_a_researcher(
    researcher: FlaskClient, session: Session, two_homes: dict[str, int]
) -> None:
    offered = _offered(researcher.get("/trials/new"))
    assert sorted(offered) == sorted(str(two_homes[k]) for k in ("default", "south"))
    before = row_counts(session)
    unchosen = create(researcher)
    assert unchosen.status_code == 422
    assert "Organisation: choose the organisation the trial is for" in page_text(unchosen)
    assert row_counts(session) == before
    chosen = create(researcher, organisation=str(two_homes["south"]))
    assert chosen.status_code == 201, page_text(chosen)
    session.expire_all()
    trial = session.get(Trial, TRIAL)
    assert trial is not None and trial.organisation_id == two_homes["south"]


@pytest.mark.parametrize("where", ["west", "missing", "words"])
def test_a_forged_organisation_is_refused_with_a_form_error_and_nothing_written(
    researcher: FlaskClient, session: Session, two_homes: dict[str, int], where: str
) -> None:
    """West (where they are only a lead), an id that is no organisation, and no id at all:
    one message for each, so it tells nothing of which organisations exist."""
    forged = {"west": str(two_homes["west"]), "missing": "999999", "words": "south"}[where]
    before = row_counts(session)
    for action in ("check", "create"):
        response = upload(researcher, action=action, organisation=forged)
        assert response.status_code == 422
        text = page_text(response)
        assert (
            "Organisation: choose one of the organisations listed: you are not a researcher in "
            "the one that was sent"
        ) in text
        assert "Westshire" not in text
    assert row_counts(session) == before


def test_a_forged_organisation_is_refused_even_when_there_is_nothing_to_choose(
    researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    """A researcher in one organisation is never asked, and may not slip in another."""
    west = _join(session, clock, "west", "Westshire Police", "lead")
    before = row_counts(session)
    response = create(researcher, organisation=str(west))
    assert response.status_code == 422
    assert "you are not a researcher in the one that was sent" in page_text(response)
    assert row_counts(session) == before


def _refusal(response: Any) -> str:
    """The words of the error summary, less the summary's own heading."""
    found = re.search(
        r'<ul class="govuk-list govuk-error-summary__list">(.*?)</ul>',
        response.get_data(as_text=True),
        re.S,
    )
    assert found is not None
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def test_an_id_another_organisation_uses_is_refused_in_the_same_words_as_ones_own(
    researcher: FlaskClient, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    """Ids are global, so the refusal must come; it names neither the other organisation nor
    its trial's title, and reads exactly as when the trial is the researcher's own."""

    add_organisation(session, clock, "south", "Southshire Victim Service", "test")
    secret = tmp_path / "witness-reminders.yaml"
    secret.write_text(
        YAML.replace("title: ", "title: Southshire secret pilot ", 1), encoding="utf-8"
    )
    shutil.copytree(EXAMPLE.parent / "letters", tmp_path / "letters")
    loaded = load_trial_file(secret)
    assert isinstance(loaded, LoadedTrial), loaded
    trials.create_trial(session, clock, loaded, trials.Actor("test"), organisation="south")
    session.commit()
    before = row_counts(session)
    theirs = create(researcher)
    assert theirs.status_code == 422
    words = _refusal(theirs)
    assert words == (
        f"the id '{TRIAL}' is already used by a trial on this platform (ids are shared by every "
        "organisation): change the id in the file; to change a trial of your own, upload a new "
        "version on its page"
    )
    for secret_word in ("Southshire", "south", "secret pilot"):
        assert secret_word not in page_text(theirs)
    assert row_counts(session) == before

    # A trial of the researcher's own whose id is taken: the same words, but for the id.
    own = "own-reminders-2027"
    mine = YAML.replace(TRIAL, own)
    assert upload(researcher, text=mine, action="create").status_code == 201
    again = upload(researcher, text=mine, action="create")
    assert again.status_code == 422 and _refusal(again).replace(own, TRIAL) == words
