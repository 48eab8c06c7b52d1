"""Time to withdrawal on the results page in headless Chromium: 320 px, 1280 px, axe clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from nudge.clock import FixedClock
from tests.analysis.test_time_to_event_pages import date_withdrawals
from tests.trial_factories import seed_trial
from tests.web_helpers import RESULTS, no_violations, open_as

NARROW = 320


@pytest.fixture
def dated_site(site: str, session: Session, clock: FixedClock, tmp_path: Path) -> str:
    """The live site with the example trial: 150 people, half victims, withdrawals dated."""
    seeded = seed_trial(session, clock, tmp_path, people=150, victims_every=2)
    date_withdrawals(session, clock, tmp_path, seeded.arms)
    return site


@pytest.mark.parametrize("role", ["researcher", "lead"])
def test_time_to_withdrawal_reads_at_320_and_1280_px_and_is_accessible(
    browser: Any, dated_site: str, role: str
) -> None:
    for width in (NARROW, 1280):
        page = open_as(browser, dated_site, role, RESULTS, width)
        expect(page.get_by_role("heading", name="Time to withdrawal after charge")).to_be_visible()
        region = page.get_by_role("region", name="Time to withdrawal after charge")
        table = region.get_by_role("table")
        assert table.count() == 1
        assert "By 90 days" in table.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        no_violations(page)
        page.close()
