"""The results and overview pages through the real app: roles, figures, downloads, suppression."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from analysis.analyse import analyse_trial
from analysis.disclosure import FEWER
from analysis.numbers import percent, points
from analysis.report import report_json
from analysis.text import comparison_sentence
from nudge.clock import FixedClock
from tests.trial_factories import TRIAL, SeededTrial, seed_trial
from tests.web_helpers import STAFF, logged_in, table_rows

ROUTES = (
    f"/trials/{TRIAL}/overview",
    f"/trials/{TRIAL}/results",
    f"/trials/{TRIAL}/results.csv",
    f"/trials/{TRIAL}/results.json",
    f"/trials/{TRIAL}/arms/social_norm/letters/2.pdf",
)
# What the seeded people's rows hold: names, numbers, addresses, references.
PERSONAL = ("McTestface", "07700 900001", "+447700900001", "1 Example Street", "P00001", "C00001")
COUNT_COLUMNS = ("Randomised", "Analysed", "Events")


@pytest.fixture
def seeded(staff: None, session: Session, clock: FixedClock, tmp_path: Path) -> SeededTrial:
    return seed_trial(session, clock, tmp_path, people=120)


def exact_report(session: Session) -> dict[str, Any]:
    return report_json(analyse_trial(session, TRIAL).report)


def test_every_results_route_admits_each_staff_role_and_sends_strangers_to_log_in(
    app: Flask, seeded: SeededTrial
) -> None:
    stranger = app.test_client()
    for route in ROUTES:
        response = stranger.get(route)
        assert response.status_code == 302 and "/login" in response.headers["Location"], route
    for role in STAFF:
        client = logged_in(app, role)
        assert [client.get(route).status_code for route in ROUTES] == [200] * len(ROUTES), role


def test_an_unknown_trial_is_not_found(app: Flask, seeded: SeededTrial) -> None:
    client = logged_in(app, "researcher")
    assert client.get("/trials/no-such-trial/results").status_code == 404
    assert client.get("/trials/no-such-trial/overview").status_code == 404
    assert client.get(f"/trials/{TRIAL}/arms/practical/letters/1.pdf").status_code == 404


def test_the_results_page_shows_the_reports_figures_and_sentences(
    app: Flask, seeded: SeededTrial, session: Session
) -> None:
    report = exact_report(session)
    definition = analyse_trial(session, TRIAL).definition
    page = logged_in(app, "researcher").get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    primary = next(o for o in report["outcomes"] if o["primary"])
    titles = {arm.id: arm.title for arm in definition.arms}
    rows = table_rows(page, "Attended court on the hearing date: people analysed")
    for arm, row in zip(primary["arms"], rows[1:], strict=True):
        interval = f"{percent(arm['ci_low'])} to {percent(arm['ci_high'])}"
        assert row == [
            titles[arm["arm"]],
            f"{arm['n']:,}",
            f"{arm['events']:,}",
            percent(arm["rate"]),
            interval,
        ]
    tested = len(primary["comparisons"])  # the pre-registered family
    effects = table_rows(page, "Effects on attendance:")
    for c, row in zip(primary["comparisons"], effects[1:], strict=True):
        sentence = comparison_sentence(c, "attended", definition, tested)
        assert sentence in html.unescape(page)
        interval = f"{points(c['adjusted_ci_low'])} to {points(c['adjusted_ci_high'])}"
        assert row[:3] == [titles[c["arm"]], points(c["adjusted_risk_difference"]), interval]
    assert "Arm sizes match the plan" in page and "unlikely under the planned weights" not in page
    assert 'role="img"' in page
    # The charts are plain SVG: the only scripts are the layout's own files, none inline.
    assert all(" src=" in tag for tag in re.findall(r"<script\b[^>]*>", page))


def test_a_researcher_downloads_exactly_the_reports_json(
    app: Flask, seeded: SeededTrial, session: Session
) -> None:
    response = logged_in(app, "researcher").get(f"/trials/{TRIAL}/results.json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = response.get_json()
    assert data["report"] == exact_report(session)
    assert data["disclosure_control"]["applied"] is False
    assert data["flow"]["randomised"] == sum(data["report"]["randomisation"]["units"].values())


def test_a_lead_sees_fewer_than_5_exactly_where_a_count_is_under_5(
    app: Flask, seeded: SeededTrial, session: Session
) -> None:
    exact = exact_report(session)
    shown = logged_in(app, "lead").get(f"/trials/{TRIAL}/results.json").get_json()
    assert shown["disclosure_control"]["applied"] is True
    suppressed = 0
    for outcome, seen in zip(exact["outcomes"], shown["report"]["outcomes"], strict=True):
        for arm, arm_seen in zip(outcome["arms"], seen["arms"], strict=True):
            if arm["events"] < 5:
                suppressed += 1
                assert arm_seen["events"] == FEWER and arm_seen["rate"] is None
                assert arm_seen["ci_low"] is None and arm_seen["ci_high"] is None
            elif arm["n"] - arm["events"] >= 5:
                assert (arm_seen["events"], arm_seen["rate"]) == (arm["events"], arm["rate"])
        hidden = {a["arm"] for a in seen["arms"] if a.get("suppressed")}
        for comparison in seen["comparisons"]:
            if {comparison["arm"], comparison["versus"]} & hidden:
                assert comparison["risk_difference"] is None
                assert comparison["adjusted_risk_difference"] is None
    assert suppressed > 0, "the seeded trial should have a small cell to hide"
    page = logged_in(app, "lead").get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    assert FEWER in page and "Statistical disclosure control" in page
    researcher_page = logged_in(app, "researcher").get(f"/trials/{TRIAL}/results")
    assert FEWER not in researcher_page.get_data(as_text=True)


def test_no_count_under_5_reaches_a_leads_csv_while_a_researchers_has_them(
    app: Flask, seeded: SeededTrial
) -> None:
    def rows(role: str) -> list[dict[str, str]]:
        response = logged_in(app, role).get(f"/trials/{TRIAL}/results.csv")
        assert response.mimetype == "text/csv"
        text = response.get_data(as_text=True)
        return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))

    def is_small_count(row: dict[str, str]) -> bool:
        return any(row[k].isdigit() and int(row[k]) < 5 for k in COUNT_COLUMNS)

    lead, researcher = rows("lead"), rows("researcher")
    assert [r for r in lead if is_small_count(r)] == []
    assert any(r["Events"] == FEWER for r in lead)
    assert any(is_small_count(r) for r in researcher)
    assert not any(FEWER in r.values() for r in researcher)
    # The example's labels and arm titles, one row per outcome and arm.
    assert [(r["Outcome"], r["Arm"]) for r in researcher] == [
        (outcome, arm)
        for outcome in ("attendance", "withdrawal")
        for arm in ("Business as usual", "Practical information", "Social norm")
    ]


def test_no_page_or_download_carries_personal_data(app: Flask, seeded: SeededTrial) -> None:
    for role in STAFF:
        client = logged_in(app, role)
        for route in ROUTES[:4]:
            text = client.get(route).get_data(as_text=True)
            for personal in PERSONAL:
                assert personal not in text, (role, route, personal)


def test_a_flagged_sample_ratio_mismatch_puts_a_warning_on_the_page(
    app: Flask, seeded: SeededTrial, session: Session
) -> None:
    from nudge.models import ResultsCache

    client = logged_in(app, "lead")
    client.get(f"/trials/{TRIAL}/results")
    cached = session.get(ResultsCache, TRIAL)
    assert cached is not None
    body = json.loads(cached.body)
    body["report"]["randomisation"].update(srm_flagged=True, srm_p_value=0.0002)
    cached.body = json.dumps(body)
    session.commit()
    page = client.get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    assert "Warning: </span>Sample-ratio mismatch" in page and "(p &lt; 0.001)" in page
    assert 'role="alert"' in page


def test_the_flow_gives_each_exclusion_reason_in_words_beside_its_rule(
    app: Flask, seeded: SeededTrial
) -> None:
    """The seeded trial turns away six people aged 17 by the example's `{field: age, min: 18}`."""
    for role in ("researcher", "lead"):
        flow = logged_in(app, role).get(f"/trials/{TRIAL}/results.json").get_json()["flow"]
        assert flow["ineligible_by_rule"] == {"age min 18.0": 6}
        assert flow["ineligible_reasons"] == {"age min 18.0": "age under 18 or not recorded"}
