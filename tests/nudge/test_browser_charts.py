"""The results page's charts in headless Chromium: readable at every width, labelled, accessible.

Each chart is measured as drawn: its text's font size times the SVG's scale on screen.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from nudge.clock import FixedClock
from tests.analysis.test_over_time import seed_over_weeks
from tests.web_helpers import RESULTS, no_violations, open_as

# Each chart's text at its rendered size in CSS px: font size × (drawn width / viewBox width).
RENDERED_TEXT = """() => [...document.querySelectorAll('svg.chart')].flatMap(svg => {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll('text')].map(t => ({
    chart: svg.getAttribute('aria-labelledby'),
    text: t.textContent,
    px: parseFloat(getComputedStyle(t).fontSize) * scale,
    right: t.getBoundingClientRect().right,
  }));
})"""


@pytest.fixture
def weekly_site(site: str, session: Session, clock: FixedClock, tmp_path: Path) -> str:
    """`site` with the example trial enrolled in one import a week for six weeks."""
    seed_over_weeks(session, clock, tmp_path, weeks=6)
    return site


def save(page: Any, name: str) -> None:
    """A screenshot for people to look at, when NUDGE_SCREENSHOTS names a folder (not committed)."""
    folder = os.environ.get("NUDGE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
        for i, figure in enumerate(page.locator("figure.chart-figure").all()):
            figure.screenshot(path=str(Path(folder) / f"{name}-figure-{i}.png"))


def test_every_charts_text_is_at_least_12px_on_a_phone_and_on_a_desktop(
    browser: Any, weekly_site: str
) -> None:
    for width in (320, 390, 768, 1280):
        page = open_as(browser, weekly_site, "researcher", RESULTS, width)
        texts = page.evaluate(RENDERED_TEXT)
        charts = {t["chart"] for t in texts}
        # Two forest plots, one chart over time per treatment arm, and enrolment by week.
        assert len(charts) == 5, charts
        smallest = min(texts, key=lambda t: t["px"])
        assert smallest["px"] >= 12, (width, smallest)
        assert max(t["right"] for t in texts) <= width, width
        save(page, f"charts-{width}")
        page.close()


def test_the_forest_plot_prints_each_estimate_and_says_which_side_is_better(
    browser: Any, results_site: str
) -> None:
    page = open_as(browser, results_site, "researcher", RESULTS, 390)
    attended = page.get_by_role(
        "img", name="Forest plot: effect of each arm on attendance against control"
    )
    drawn = attended.locator("text").all_text_contents()
    table = page.get_by_role("table", name="Effects on attendance")
    for arm in ("Practical information", "Social norm"):
        cell = table.get_by_role("row", name=arm).get_by_role("cell").first.inner_text()
        assert cell.replace("-", "\u2212") in drawn, (cell, drawn)
        assert any(arm in text for text in drawn)
    assert "Better \u2192" in drawn and "\u2190 Worse" in drawn
    assert "right of 0 are better" in attended.locator("desc").text_content()
    # Withdrawal is better lower: the left side is the better one.
    withdrew = page.get_by_role(
        "img", name="Forest plot: effect of each arm on withdrawal against control"
    )
    assert "\u2190 Better" in withdrew.locator("text").all_text_contents()
    assert "left of 0 are better" in withdrew.locator("desc").text_content()
    page.close()


def test_results_over_time_are_marked_exploratory_with_a_table_of_the_same_figures(
    browser: Any, weekly_site: str
) -> None:
    page = open_as(browser, weekly_site, "researcher", RESULTS)
    section = page.get_by_role("region", name="Results over time", exact=True)
    assert "Exploratory" in section.inner_text()
    assert "inflates false positives" in section.inner_text()
    chart = section.get_by_role(
        "img", name="Results over time: Practical information against control, on attendance"
    )
    assert chart.count() == 1
    description = chart.locator("desc").text_content()
    table = section.get_by_role("table")
    rows = table.locator("tbody tr")
    assert rows.count() == 6
    assert rows.first.locator("th").inner_text() == "11 Jan 2027"
    last = rows.last.get_by_role("cell").nth(1).inner_text()  # Practical information
    estimate = last.split(" ")[0]
    assert f"week starting 15 February 2027: {estimate} points" in description
    assert estimate in chart.locator("text").all_text_contents()
    enrolment = page.get_by_role("img", name="People randomised per week")
    axis = enrolment.locator("text").all_text_contents()
    assert "4 Jan" in axis and "2027" in axis
    no_violations(page)
    page.close()


def test_a_trial_enrolled_in_one_import_says_so_instead_of_drawing_one_bar(
    browser: Any, results_site: str
) -> None:
    page = open_as(browser, results_site, "researcher", RESULTS, 320)
    enrolment = page.get_by_role("region", name="Enrolment over time", exact=True)
    assert "All 90 people were randomised on 10 January 2027, in one import." in (
        enrolment.inner_text()
    )
    assert enrolment.get_by_role("img").count() == 0
    assert enrolment.get_by_role("table", name="People randomised per week").count() == 1
    # Every hearing is on 4 March 2027: one week of outcomes is no trend.
    over_time = page.get_by_role("region", name="Results over time", exact=True)
    assert "in the week starting 1 March 2027" in over_time.inner_text()
    assert over_time.get_by_role("img").count() == 0
    no_violations(page)
    page.close()
