"""Creating a multi-site trial on the web: refused, in the page's words, while a site is no
organisation here or the researcher's organisation is not one of the sites; then created with
its sites listed."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from nudge.clock import FixedClock
from nudge.models import Organisation, TrialSite
from nudge.organisations import add_organisation
from tests.experiments.test_trial_pages import TRIAL, YAML, amend, create, page_text
from tests.factories import row_counts
from tests.web_helpers import csrf_token


def _sites(*slugs: str) -> str:
    return YAML + "\nsites: [" + ", ".join(slugs) + "]\n"


def test_a_multi_site_trial_is_refused_until_it_can_run_then_created_with_its_sites(
    researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    before = row_counts(session)
    missing = create(researcher, text=_sites("default", "south"))
    said = page_text(missing)
    assert "there is no organisation 'south': ask an administrator to add it first" in said
    assert "nudge orgs" not in said
    assert row_counts(session) == before
    add_organisation(session, clock, "south", "Southshire Police", "test")
    add_organisation(session, clock, "north", "Northshire Police", "test")
    session.commit()
    before = row_counts(session)
    outsider = page_text(create(researcher, text=_sites("north", "south")))
    assert "the organisation that runs the trial must be one of its sites" in outsider
    assert "create the trial for one of them" in outsider and "--org" not in outsider
    assert row_counts(session) == before
    created = create(researcher, text=_sites("default", "south"))
    assert created.status_code == 201, page_text(created)
    stored = session.exec(
        select(Organisation.slug)
        .join(TrialSite, col(TrialSite.organisation_id) == Organisation.id)
        .order_by(col(TrialSite.position))
    ).all()
    assert stored == ["default", "south"]


def test_a_live_trial_gains_a_site_on_the_amendment_page(
    researcher: FlaskClient, session: Session, clock: FixedClock
) -> None:
    for slug in ("south", "west"):
        add_organisation(session, clock, slug, f"{slug.title()}shire Police", "test")
    session.commit()
    assert create(researcher, text=_sites("default", "south")).status_code == 201
    token = csrf_token(researcher, f"/trials/{TRIAL}/launch")
    launch = researcher.post(f"/trials/{TRIAL}/launch", data={"csrf_token": token})
    assert launch.status_code == 302
    saved = amend(researcher, text=_sites("default", "south", "west"), reason="west joins")
    assert saved.status_code == 302, page_text(saved)
    shown = page_text(researcher.get(saved.headers["Location"]))
    assert "Amended: version 3 (changed: sites)" in shown
    session.expire_all()
    assert len(session.exec(select(TrialSite)).all()) == 3
