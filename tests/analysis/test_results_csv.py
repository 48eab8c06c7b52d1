"""The results CSV opens in a spreadsheet as a table a programme lead reads: one row per outcome
and arm, human headers, labels not ids, rounded figures, and disclosure control kept."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from analysis.disclosure import FEWER, disclose
from analysis.downloads import SUPPRESSED_NOTE, results_csv
from analysis.report import build_report, report_json
from experiments.definition import TrialDefinition
from tests.analysis.test_report import definition, small_frame

LABELLED = {
    "outcomes": [
        {"id": "attended", "primary": True, "label": "attendance"},
        {"id": "withdrew", "better": "lower", "label": "withdrawal"},
    ],
    "costs": {"sms_segment": 0.04, "letter": 0.85},
}
HEADER = [
    "Outcome",
    "Primary outcome",
    "Arm",
    "Compared with",
    "Randomised",
    "Analysed",
    "Events",
    "Rate (%)",
    "Rate 95% interval low (%)",
    "Rate 95% interval high (%)",
    "Difference (percentage points)",
    "Difference 95% interval low (percentage points)",
    "Difference 95% interval high (percentage points)",
    "p (corrected)",
    "Pre-registered estimate",
    "Cost per extra person with the better outcome (£)",
    "Cost 95% interval low (£)",
    "Cost 95% interval high (£)",
    "Note",
]


def body(counts: dict[str, tuple[int, int]], plan: TrialDefinition) -> dict[str, Any]:
    frame = small_frame(counts)
    frame["withdrew"] = 1.0 - frame["attended"]
    frame["cost"] = frame["arm"].map({"control": 0.0, "sms": 0.08, "letter": 0.85}).astype(float)
    flow = {"assessed": 0, "ineligible": 0, "randomised": 0, "ineligible_by_rule": {}, "arms": []}
    return {"report": report_json(build_report(frame, plan)), "flow": flow, "enrolment": []}


def read(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with the byte order mark
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


COUNTS = {"control": (200, 140), "sms": (200, 165), "letter": (200, 150)}


def test_one_row_per_outcome_and_arm_with_human_headers_and_labels_not_ids() -> None:
    plan = definition(**LABELLED)
    shown = disclose(body(COUNTS, plan), exact=True)
    text = results_csv(shown, plan)
    assert next(csv.reader(io.StringIO(text.removeprefix("\ufeff")))) == HEADER
    rows = read(text)
    assert [(r["Outcome"], r["Arm"], r["Compared with"]) for r in rows] == [
        ("attendance", "Business as usual", ""),
        ("attendance", "SMS reminder", "Business as usual"),
        ("attendance", "Letter", "Business as usual"),
        ("withdrawal", "Business as usual", ""),
        ("withdrawal", "SMS reminder", "Business as usual"),
        ("withdrawal", "Letter", "Business as usual"),
    ]
    assert [r["Primary outcome"] for r in rows] == ["yes"] * 3 + ["no"] * 3
    ids = {"attended", "withdrew", "control", "sms", "letter"}
    assert not [cell for r in rows for cell in r.values() if cell in ids]


def test_figures_are_rounded_as_the_page_shows_them() -> None:
    plan = definition(**LABELLED)
    shown = disclose(body(COUNTS, plan), exact=True)
    rows = read(results_csv(shown, plan))
    outcome = shown["report"]["outcomes"][0]
    control, sms = rows[0], rows[1]
    assert (control["Analysed"], control["Events"], control["Rate (%)"]) == ("200", "140", "70.0")
    assert control["Randomised"] == "200"
    # The control row carries its rate and nothing of a comparison.
    assert control["Difference (percentage points)"] == control["p (corrected)"] == ""
    c = outcome["comparisons"][0]
    assert sms["Difference (percentage points)"] == f"{100 * c['adjusted_risk_difference']:.1f}"
    low = sms["Difference 95% interval low (percentage points)"]
    assert low == f"{100 * c['adjusted_ci_low']:.1f}"
    assert sms["Pre-registered estimate"] == "yes"
    p = c["p_value_corrected"]
    assert sms["p (corrected)"] == ("<0.001" if p < 0.001 else f"{p:.3f}")
    cost = sms["Cost per extra person with the better outcome (£)"]
    assert cost == f"{c['cost_per_extra_event']:.2f}" and len(cost.split(".")[1]) == 2
    # A negative difference is a number, not a formula escaped as text.
    withdrawal_sms = rows[4]
    assert withdrawal_sms["Difference (percentage points)"].startswith("-")


def test_a_leads_csv_reads_fewer_than_5_and_leaves_what_would_reveal_it_blank() -> None:
    plan = definition(**LABELLED)
    counts = {"control": (60, 30), "sms": (60, 3), "letter": (60, 33)}
    exact = read(results_csv(disclose(body(counts, plan), exact=True), plan))
    lead = read(results_csv(disclose(body(counts, plan), exact=False), plan))
    sms = lead[1]
    assert sms["Events"] == FEWER and sms["Rate (%)"] == ""
    assert sms["Difference (percentage points)"] == "" and sms["Note"] == SUPPRESSED_NOTE
    assert exact[1]["Events"] == "3" and exact[1]["Note"] == ""
    counted = ("Randomised", "Analysed", "Events")
    assert not [r for r in lead for k in counted if r[k].isdigit() and int(r[k]) < 5]


def test_a_label_that_looks_like_a_formula_is_written_as_text() -> None:
    plan = definition(outcomes=[{"id": "attended", "primary": True, "label": "=1+1 attended"}])
    rows = read(results_csv(disclose(body(COUNTS, plan), exact=True), plan))
    assert {r["Outcome"] for r in rows} == {"'=1+1 attended"}


@pytest.mark.parametrize(("currency", "symbol"), [("GBP", "£"), ("EUR", "€"), ("NZD", "NZD")])
def test_the_cost_headers_name_the_trials_currency(currency: str, symbol: str) -> None:
    plan = definition(**{**LABELLED, "costs": {"currency": currency, "sms_segment": 0.04}})
    text = results_csv(disclose(body(COUNTS, plan), exact=True), plan)
    assert f"Cost per extra person with the better outcome ({symbol})" in text.splitlines()[0]
