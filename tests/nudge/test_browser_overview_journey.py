"""The overview's journeys in headless Chromium: readable at 320 px and 1280 px, accessible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session

from nudge.clock import FixedClock
from tests.factories import launch
from tests.messages.whole_journey import whole_journey
from tests.trial_factories import TRIAL
from tests.web_helpers import no_violations, open_as


def test_a_whole_journey_reflows_at_320_px_and_is_accessible(
    browser: Any, site: str, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    launch(session, clock, whole_journey(tmp_path))
    session.commit()
    for width in (320, 1280):
        page = open_as(browser, site, "lead", f"/trials/{TRIAL}/overview", width=width)
        practical = page.get_by_role("region", name="Practical information").last
        titles = practical.locator(".moj-timeline__title").all_inner_texts()
        assert titles[0] == "Charged" and titles[-1] == "2 hours after the verdict milestone"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        no_violations(page)
        page.close()
