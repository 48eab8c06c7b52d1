"""The results as a PDF report: the same access, figures and disclosure control as the page."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pdfplumber
import pytest
from flask import Flask
from pdfminer.pdftypes import resolve1
from sqlmodel import Session

from analysis.analyse import analyse_trial
from analysis.disclosure import FEWER
from analysis.pages import decimal, figure, money, pct, points, pvalue
from analysis.report_pdf import Numbers, results_pdf
from analysis.results_view import results_view
from experiments import trials
from experiments.loader import load_trial_file
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE
from tests.trial_factories import TRIAL, SeededTrial, seed_trial
from tests.web_helpers import logged_in

PDF = f"/trials/{TRIAL}/results.pdf"
TITLE = "Results: Reminder framing for prosecution witnesses"
FOOTER = re.compile(rf"^{re.escape(TITLE)} Page \d+$")


@pytest.fixture
def seeded(staff: None, session: Session, clock: FixedClock, tmp_path: Path) -> SeededTrial:
    return seed_trial(session, clock, tmp_path, people=120)


def pdf_text(data: bytes) -> str:
    """The report's words in reading order, one line each, without the page footers."""
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        lines = [line for page in pdf.pages for line in (page.extract_text() or "").splitlines()]
    return "\n".join(line for line in lines if not FOOTER.match(line))


def flat(text: str) -> str:
    """Text with its line breaks undone, to find a sentence the PDF wrapped."""
    return " ".join(text.split())


def download(app: Flask, role: str) -> bytes:
    response = logged_in(app, role).get(PDF)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{TRIAL}-results.pdf"'
    )
    return response.data


def page_view(app: Flask, session: Session, role: str) -> dict[str, Any]:
    """The view the results page builds for this role, from the disclosed JSON it serves."""
    shown = logged_in(app, role).get(f"/trials/{TRIAL}/results.json").get_json()
    return results_view(shown, analyse_trial(session, TRIAL).definition)


def test_staff_download_the_pdf_and_strangers_are_sent_to_log_in(
    app: Flask, seeded: SeededTrial
) -> None:
    for role in ("lead", "researcher", "admin"):
        assert download(app, role).startswith(b"%PDF-")
    stranger = app.test_client().get(PDF)
    assert stranger.status_code == 302 and "/login" in stranger.headers["Location"]


def test_the_pdf_shows_the_pages_arms_figures_sentences_and_methods(
    app: Flask, seeded: SeededTrial, session: Session
) -> None:
    view = page_view(app, session, "researcher")
    text = pdf_text(download(app, "researcher"))
    words = flat(text)
    assert words.startswith(TITLE)
    assert "Computed 10 January 2027 at 12:00" in words
    primary = view["primary"]
    assert f"Primary outcome: {primary['description']}" in words
    for arm in primary["arms"]:
        row = (
            f"{view['titles'][arm['arm']]} {figure(arm['n'])} {figure(arm['events'])} "
            f"{pct(arm['rate'])} {pct(arm['ci_low'])} to {pct(arm['ci_high'])}"
        )
        assert row in text.splitlines()
    for c in primary["comparisons"]:
        assert c["sentence"] in words
        title = view["titles"][c["arm"]]
        effect = (
            f"{title} {points(c['adjusted_risk_difference'], True)} "
            f"{points(c['adjusted_ci_low'], True)} to {points(c['adjusted_ci_high'], True)} "
            f"{pvalue(c['p_value_corrected'])}"
        )
        assert effect in text.splitlines()
        cost = f"{money(c['incremental_cost'])} {money(c['cost_per_extra_event'])}"
        assert f"{title} {cost}" in text
        # The forest plot's text alternative is its caption.
        assert f"{title}: {points(c['adjusted_risk_difference'], True)} points" in words
    for outcome in view["secondary"]:
        assert f"Secondary outcome: {outcome['description']}" in words
    assert view["methods"] in words
    for verdict in view.get("verdicts", []):
        assert verdict["sentence"] in words


def test_a_leads_pdf_shows_fewer_than_5_where_the_page_does(
    app: Flask, seeded: SeededTrial, session: Session
) -> None:
    lead, researcher = page_view(app, session, "lead"), page_view(app, session, "researcher")
    lead_lines = pdf_text(download(app, "lead")).splitlines()
    exact_lines = pdf_text(download(app, "researcher")).splitlines()
    hidden = [
        (outcome, exact)
        for outcome, exact_outcome in zip(
            [lead["primary"], *lead["secondary"]],
            [researcher["primary"], *researcher["secondary"]],
            strict=True,
        )
        for arm, exact in zip(outcome["arms"], exact_outcome["arms"], strict=True)
        if arm["events"] == FEWER
    ]
    assert hidden, "the seeded trial has an arm with fewer than 5 events"
    for _, exact in hidden:
        title = lead["titles"][exact["arm"]]
        shown = f"{title} {figure(exact['n'])} {figure(exact['events'])} "
        assert any(line.startswith(shown) for line in exact_lines)
        assert not any(line.startswith(shown) for line in lead_lines)
        assert any(line.startswith(title) and FEWER in line for line in lead_lines)
    assert "Statistical disclosure control" in flat("\n".join(lead_lines))
    assert "Statistical disclosure control" not in flat("\n".join(exact_lines))


def test_the_pdf_names_its_title_language_and_sections_for_assistive_technology(
    app: Flask, seeded: SeededTrial
) -> None:
    with pdfplumber.open(io.BytesIO(download(app, "lead"))) as pdf:
        assert pdf.metadata["Title"] == TITLE
        assert pdf.metadata["Author"] == "Nudge"
        assert "Reminder framing for prosecution witnesses" in pdf.metadata["Subject"]
        assert pdf.metadata["CreationDate"] == "D:20270110120000+00'00'"  # when computed
        catalog = pdf.doc.catalog
        assert resolve1(catalog["Lang"]) == b"en-GB"
        assert resolve1(resolve1(catalog["ViewerPreferences"])["DisplayDocTitle"]) is True
        outline = [title for _, title, *_ in pdf.doc.get_outlines()]
    assert outline[0] == TITLE
    assert "Primary outcome: Attended court on the hearing date" in outline
    assert "Methods" in outline


def test_an_unknown_trial_has_no_pdf(app: Flask, seeded: SeededTrial) -> None:
    client = logged_in(app, "researcher")
    assert client.get("/trials/no-such-trial/results.pdf").status_code == 404


def test_a_draft_trials_pdf_says_there_are_no_results_yet(
    app: Flask, staff: None, session: Session, clock: FixedClock
) -> None:
    trials.create_trial(session, clock, load_trial_file(EXAMPLE), trials.Actor("test:rita"))
    session.commit()
    for role in ("lead", "researcher"):
        words = flat(pdf_text(download(app, role)))
        assert "No results yet" in words
        assert "Nobody has been randomised in this trial yet" in words
        assert "Primary outcome" not in words


def test_the_report_leads_with_status_and_verdicts_and_gives_the_short_methods_first(
    app: Flask, seeded: SeededTrial, session: Session
) -> None:
    view = page_view(app, session, "lead")
    view["status"] = {"tag": "Live (interim)", "warning": "These results may change."}
    view["verdicts"] = [
        {
            "arm": "practical",
            "title": "Practical information",
            "label": "Likely helps",
            "sentence": "Practical-information texts raised attendance from 47% to 84%.",
        }
    ]
    view["methods_short"] = "We compared attendance between arms. Three sentences in all."
    numbers = Numbers(figure=figure, pct=pct, points=points, pvalue=pvalue, decimal=decimal)
    computed = datetime(2027, 1, 10, 12, tzinfo=UTC)
    words = flat(
        pdf_text(results_pdf(view, trial_title=TITLE[9:], computed_at=computed, numbers=numbers))
    )
    order = [
        "Status: Live (interim)",
        "Warning: These results may change.",
        "Likely helps Practical-information texts raised attendance from 47% to 84%.",
        "Primary outcome",
        "We compared attendance between arms. Three sentences in all. The full method",
        view["methods"],
    ]
    places = [words.find(part) for part in order]
    assert -1 not in places and places == sorted(places), places


def test_the_results_page_links_to_the_pdf_beside_the_csv_and_json(
    app: Flask, seeded: SeededTrial
) -> None:
    page = logged_in(app, "lead").get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    links = re.findall(r'<a [^>]*href="([^"]+)" download>([^<]+)</a>', page)
    assert (PDF, "Download as PDF") in links
    assert [href for href, _ in links][:3] == [PDF, f"{PDF[:-4]}.csv", f"{PDF[:-4]}.json"]
