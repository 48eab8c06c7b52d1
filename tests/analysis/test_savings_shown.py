"""The net saving per 1,000 people on the results page, in the PDF and in the CSV: only for a
trial that gives a cost of an event, labelled an estimate, with the cost's source, each figure
the results JSON's."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from analysis.numbers import money
from nudge.clock import FixedClock
from tests.analysis.test_results_pdf import flat, pdf_text
from tests.evidence_factories import SOURCE, tagged_example
from tests.trial_factories import TRIAL, seed_trial
from tests.web_helpers import logged_in, table_rows

HEADING = "Net saving per 1,000 people, attendance (an estimate)"
TITLE = "Reminder framing for prosecution witnesses"
ARMS = {"practical": "Practical information", "social_norm": "Social norm"}


@pytest.fixture
def costed(staff: None, session: Session, clock: FixedClock, tmp_path: Path) -> None:
    definition = tagged_example(tmp_path / "costed", TRIAL, TITLE, costed=True)
    seed_trial(session, clock, tmp_path, people=240, definition=definition)


def savings(client: FlaskClient) -> dict[str, dict[str, Any]]:
    body = json.loads(client.get(f"/trials/{TRIAL}/results.json").get_data(as_text=True))
    primary = next(o for o in body["report"]["outcomes"] if o["id"] == "attended")
    return {c["arm"]: c["net_saving"] for c in primary["comparisons"]}


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize("role", ["researcher", "lead"])
def test_the_results_page_shows_each_arms_net_saving_as_an_estimate_with_its_source(
    app: Flask, costed: None, role: str
) -> None:
    client = logged_in(app, role)
    html = client.get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    words = text_of(html)
    assert f"{HEADING} Estimate" in words  # the heading and its tag
    assert f"Source: {SOURCE}" in words
    assert "Cost of each non-attendance: £250" in words
    # Near the cost section: right after the cost per extra attendance.
    assert words.index("Cost per extra attendance") < words.index(HEADING)
    rows = table_rows(html, "Estimated net saving per 1,000 people")
    found = savings(client)
    assert [row[0] for row in rows[1:]] == list(ARMS.values())
    for row, arm in zip(rows[1:], ARMS, strict=True):
        saving = found[arm]
        assert row[2] == money(saving["message_cost"])
        assert row[3] == money(saving["estimate"])
        assert row[4] == f"{money(saving['ci_low'])} to {money(saving['ci_high'])}"
    assert "the true range is wider" in words


def test_a_trial_without_a_cost_of_an_event_shows_no_saving(
    app: Flask, staff: None, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    seed_trial(session, clock, tmp_path, people=120)
    client = logged_in(app, "researcher")
    assert "Net saving" not in client.get(f"/trials/{TRIAL}/results").get_data(as_text=True)
    header = client.get(f"/trials/{TRIAL}/results.csv").get_data(as_text=True).splitlines()[0]
    assert "Net saving" not in header and "Source of the cost" not in header


def test_the_csv_gives_each_arms_net_saving_its_interval_the_cost_and_its_source(
    app: Flask, costed: None
) -> None:
    client = logged_in(app, "researcher")
    text = client.get(f"/trials/{TRIAL}/results.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    columns = list(rows[0])
    assert columns[-5:] == [
        "Net saving per 1,000 people, estimate (£)",
        "Net saving 95% interval low (£)",
        "Net saving 95% interval high (£)",
        "Cost of an event used (£)",
        "Source of the cost of an event",
    ]
    found = savings(client)
    attendance = [r for r in rows if r["Outcome"] == "attendance"]
    for row in attendance:
        arm = next((key for key, title in ARMS.items() if title == row["Arm"]), None)
        if arm is None:  # control: nothing to save against itself
            assert all(row[c] == "" for c in columns[-5:])
            continue
        saving = found[arm]
        assert Decimal(row[columns[-5]]) == Decimal(f"{saving['estimate']:.2f}")
        assert Decimal(row[columns[-4]]) == Decimal(f"{saving['ci_low']:.2f}")
        assert Decimal(row[columns[-3]]) == Decimal(f"{saving['ci_high']:.2f}")
        assert Decimal(row[columns[-2]]) == Decimal("250.00")
        assert row[columns[-1]] == SOURCE
    withdrawal = [r for r in rows if r["Outcome"] == "withdrawal"]
    assert withdrawal and all(r[columns[-5]] == "" for r in withdrawal)  # no cost given for it


def test_the_pdf_gives_the_same_saving_labelled_an_estimate_with_its_source(
    app: Flask, costed: None
) -> None:
    client = logged_in(app, "lead")
    response = client.get(f"/trials/{TRIAL}/results.pdf")
    assert response.status_code == 200
    text = flat(pdf_text(response.data))
    assert HEADING in text
    assert f"Source: {SOURCE}" in text
    assert "Estimated net saving per 1,000 people against control" in text
    found = savings(client)
    for arm, title in ARMS.items():
        saving = found[arm]
        assert f"{title} " in text
        assert money(saving["estimate"]) in text
        assert f"{money(saving['ci_low'])} to {money(saving['ci_high'])}" in text
