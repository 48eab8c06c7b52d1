"""Interim looks on the results page in headless Chromium: 320 px, 1280 px, axe clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from analysis.analyse import analyse_trial
from analysis.interim import earlier_looks, record_look, take_look
from nudge.clock import FixedClock
from tests.analysis.test_interim import interim_example
from tests.trial_factories import seed_trial
from tests.web_helpers import RESULTS, no_violations, open_as

NARROW = 320


@pytest.fixture
def looked_site(
    site: str, session: Session, clock: FixedClock, tmp_path: Path, example_dir: Path
) -> str:
    """The live site with the example trial planning looks, and one look taken."""
    seeded = seed_trial(session, clock, tmp_path, definition=interim_example(example_dir, 456))
    analysed = analyse_trial(session, seeded.trial_id)
    look = take_look(analysed.definition, analysed.report, earlier_looks(session, seeded.trial_id))
    record_look(session, clock, seeded.trial_id, look, "test:researcher")
    session.commit()
    return site


def test_interim_looks_read_at_320_and_1280_px_and_are_accessible(
    browser: Any, looked_site: str
) -> None:
    for width in (NARROW, 1280):
        page = open_as(browser, looked_site, "lead", RESULTS, width)
        region = page.get_by_role("region", name="Interim looks")
        expect(region).to_be_visible()
        expect(
            region.get_by_role("heading", name="Look 1, 10 January 2027 Planned")
        ).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        no_violations(page)
        page.close()
