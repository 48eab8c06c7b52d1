"""A multi-site trial's results through the real app: the frame's site, the Sites section on
the page, the JSON, the CSV and the PDF, and what a lead may see of a small site.

The import's side (the site in each person's attributes, the site as a stratum) is made here
by hand, as the brief allows until it lands: people are enrolled by the example trial's
import, then given their site directly.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, select

from analysis.disclosure import FEWER
from analysis.frame_db import frame_from_db
from nudge.clock import FixedClock
from nudge.models import Organisation, Participant
from nudge.organisations import add_organisation
from tests.conftest import EXAMPLE
from tests.trial_factories import TRIAL, seed_trial
from tests.web_helpers import logged_in

HOME, OTHER = "default", "gwent"


@pytest.fixture
def multi_site(staff: None, session: Session, clock: FixedClock, tmp_path: Path) -> dict[str, str]:
    """The example trial across two sites: 'default' (where the staff are) and Gwent, which
    has only the people numbered 1 to 4 (too few for a lead to see its figures), each site's
    people imported for it.

    Half the people then lose the site the import put in their attributes, keeping only their
    site_id, so the frame's fallback is used too. Returns ref -> site."""
    folder = tmp_path / "definition"
    shutil.copytree(EXAMPLE.parent, folder)
    variant = folder / EXAMPLE.name
    sites = f"\nsites:\n  - organisation: {HOME}\n    name: Avon and Somerset\n  - {OTHER}\n"
    variant.write_text(EXAMPLE.read_text() + sites)
    session.exec(select(Organisation).where(Organisation.slug == HOME)).one()
    add_organisation(session, clock, OTHER, "Gwent Police", "test:admin")
    session.commit()
    seed_trial(
        session,
        clock,
        tmp_path,
        people=160,
        definition=variant,
        site_of=lambda n: OTHER if n <= 4 else HOME,
    )
    slugs = dict(session.exec(select(Organisation.id, Organisation.slug)).all())
    sites = {}
    people = session.exec(select(Participant).where(Participant.trial_id == TRIAL)).all()
    for person in people:
        number = int(person.participant_ref[1:])
        assert person.site_id is not None and person.attributes["site"] == slugs[person.site_id]
        if number % 2 == 0:
            person.attributes = {k: v for k, v in person.attributes.items() if k != "site"}
            flag_modified(person, "attributes")
        sites[person.participant_ref] = slugs[person.site_id]
    session.commit()
    return sites


def test_the_frame_has_each_persons_site_from_attributes_or_site_id(
    session: Session, multi_site: dict[str, str]
) -> None:
    frame = frame_from_db(session, TRIAL)
    assert list(frame["site"].cat.categories) == [HOME, OTHER]
    shown = dict(zip(frame["participant_ref"], frame["site"].astype(str), strict=True))
    assert shown == {ref: site for ref, site in multi_site.items() if ref in shown}
    assert (frame["site"] == OTHER).sum() == 4


def test_a_researcher_sees_the_sites_section_with_the_organisations_names(
    app: Flask, multi_site: dict[str, str]
) -> None:
    client = logged_in(app, "researcher")
    page = client.get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    assert 'id="sites-heading"' in page
    assert "Avon and Somerset" in page and "Gwent Police" in page
    assert "forest-sites-" in page
    body = client.get(f"/trials/{TRIAL}/results.json").get_json()
    primary = next(o for o in body["report"]["outcomes"] if o["primary"])
    sites = primary["sites"]
    assert [s["name"] for s in sites["sites"]] == ["Avon and Somerset", "Gwent Police"]
    assert [s["n"] for s in sites["sites"]][1] <= 4
    assert "site_counts" not in body
    table = client.get(f"/trials/{TRIAL}/results.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(table.lstrip("\ufeff"))))
    assert any(r["Outcome"].endswith("at Avon and Somerset") for r in rows)
    assert any(r["Outcome"].endswith("across sites") for r in rows)
    for text in (page, json.dumps(body), table):
        assert "McTestface" not in text and "P00001" not in text


def test_a_lead_never_sees_a_small_sites_counts(app: Flask, multi_site: dict[str, str]) -> None:
    client = logged_in(app, "lead")
    body = client.get(f"/trials/{TRIAL}/results.json").get_json()
    primary = next(o for o in body["report"]["outcomes"] if o["primary"])
    gwent = primary["sites"]["sites"][1]
    assert gwent["n"] == FEWER and gwent["suppressed"] is True
    assert all(c["adjusted_risk_difference"] is None for c in gwent["comparisons"])
    assert gwent["notes"] == []
    for arm in primary["sites"]["arms"]:
        assert arm["cochran_q"] is None
    page = client.get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    assert "not shown (fewer than 5)" in page
    text = client.get(f"/trials/{TRIAL}/results.csv").get_data(as_text=True)
    gwent_rows = [
        r
        for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        if r["Outcome"].endswith("at Gwent Police")
    ]
    assert gwent_rows and all(r["Difference (percentage points)"] == "" for r in gwent_rows)
    pdf = client.get(f"/trials/{TRIAL}/results.pdf")
    assert pdf.status_code == 200
