"""Creating a multi-site trial on the web: refused, in the page's words, while a site is no
organisation here or the researcher's organisation is not one of the sites; then created with
its sites listed."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from nudge.clock import FixedClock
from nudge.models import Organisation, TrialSite
from nudge.organisations import add_organisation
from tests.experiments.test_trial_pages import YAML, create, page_text
from tests.factories import row_counts


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
