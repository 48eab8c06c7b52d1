"""The reproduction bundle on the results page: row-level data, so researchers only."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, select

from nudge.clock import FixedClock
from nudge.models import AuditEvent
from tests.analysis.test_bundle import BUNDLE_FILES
from tests.trial_factories import TRIAL, SeededTrial, seed_trial
from tests.web_helpers import STAFF, logged_in

BUNDLE = f"/trials/{TRIAL}/reproduction.zip"
RESULTS = f"/trials/{TRIAL}/results"


@pytest.fixture
def seeded(staff: None, session: Session, clock: FixedClock, tmp_path: Path) -> SeededTrial:
    return seed_trial(session, clock, tmp_path, people=60)


def test_a_researcher_downloads_the_bundle_and_the_download_is_audited(
    app: Flask, seeded: SeededTrial, session: Session
) -> None:
    response = logged_in(app, "researcher").get(BUNDLE)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{TRIAL}-v2-reproduction.zip"'
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = {name.split("/", 1)[1] for name in archive.namelist()}
    assert names == BUNDLE_FILES
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "results.bundle_exported")
    ).one()
    assert event.actor == f"web:{STAFF['researcher']}" and event.trial_id == TRIAL


@pytest.mark.parametrize("role", ["lead", "admin"])
def test_leads_and_admins_are_refused_the_bundle_and_not_offered_it(
    app: Flask, seeded: SeededTrial, session: Session, role: str
) -> None:
    client = logged_in(app, role)
    refused = client.get(BUNDLE)
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert b"PK" not in refused.data[:2]
    page = client.get(RESULTS).get_data(as_text=True)
    assert "reproduction.zip" not in page and "reproduction bundle" not in page
    actions = session.exec(select(AuditEvent.action)).all()
    assert "results.bundle_exported" not in actions


def test_the_results_page_offers_researchers_the_bundle(app: Flask, seeded: SeededTrial) -> None:
    page = logged_in(app, "researcher").get(RESULTS).get_data(as_text=True)
    assert f'href="{BUNDLE}"' in page and "pseudonymised row-level data" in page


def test_strangers_are_sent_to_log_in_and_an_unknown_trial_is_not_found(
    app: Flask, seeded: SeededTrial
) -> None:
    response = app.test_client().get(BUNDLE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    missing = logged_in(app, "researcher").get("/trials/no-such-trial/reproduction.zip")
    assert missing.status_code == 404
