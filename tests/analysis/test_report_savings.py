"""The net saving in the report: given only for an outcome with a cost of an event, from the
pre-registered estimate and the messages' cost; a trial without it reports as before."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.report import build_report, report_json
from tests.analysis.test_report import COMPARISON_KEYS, definition, small_frame

SOURCE = "Ministry of Justice (2026) Ineffective trials, table 3"
COSTED = {
    "sms_segment": 0.04,
    "cost_of_event": {"attended": {"amount": 250, "source": SOURCE}},
}


def test_an_outcome_with_a_cost_of_an_event_reports_the_net_saving_per_1000() -> None:
    frame = small_frame({"control": (100, 40), "sms": (100, 70), "letter": (100, 45)})
    frame["cost"] = np.where(frame["arm"] == "control", 0.0, 0.12)
    data = report_json(build_report(frame, definition(costs=COSTED)))
    sms = data["outcomes"][0]["comparisons"][0]
    saving = sms["net_saving"]
    assert saving["label"] == "estimate" and saving["per"] == 1000
    assert saving["source"] == SOURCE
    # from the pre-registered estimate: each point of attendance is 10 non-attendances avoided
    # per 1,000, at 250 each; the texts cost 0.12 a person more than control
    rd, low, high = (
        sms[k] for k in ("adjusted_risk_difference", "adjusted_ci_low", "adjusted_ci_high")
    )
    assert saving["events_avoided"] == pytest.approx(1000 * rd)
    assert saving["message_cost"] == pytest.approx(120)
    assert saving["estimate"] == pytest.approx(1000 * rd * 250 - 120)
    assert (saving["ci_low"], saving["ci_high"]) == pytest.approx(
        (1000 * low * 250 - 120, 1000 * high * 250 - 120)
    )


def test_a_withdrawal_avoided_counts_as_a_saving() -> None:
    frame = small_frame({"control": (100, 40), "sms": (100, 20), "letter": (100, 38)})
    frame = frame.rename(columns={"attended": "withdrew"})
    frame["cost"] = np.where(frame["arm"] == "control", 0.0, 0.12)
    costs = {"cost_of_event": {"withdrew": {"amount": 1000, "source": SOURCE}}}
    outcomes = [{"id": "withdrew", "primary": True, "better": "lower"}]
    data = report_json(build_report(frame, definition(costs=costs, outcomes=outcomes)))
    sms = data["outcomes"][0]["comparisons"][0]
    assert sms["adjusted_risk_difference"] < 0
    assert sms["net_saving"]["events_avoided"] == pytest.approx(
        -1000 * sms["adjusted_risk_difference"]
    )
    assert sms["net_saving"]["estimate"] > 0


def test_without_a_cost_of_an_event_the_comparison_keys_are_as_before() -> None:
    frame = small_frame({"control": (100, 40), "sms": (100, 70), "letter": (100, 45)})
    frame["cost"] = np.where(frame["arm"] == "control", 0.0, 0.12)
    data = report_json(build_report(frame, definition(costs={"sms_segment": 0.04})))
    assert [set(c) for c in data["outcomes"][0]["comparisons"]] == [COMPARISON_KEYS] * 2


def test_without_message_costs_there_is_no_net_saving() -> None:
    frame = small_frame({"control": (100, 40), "sms": (100, 70), "letter": (100, 45)})
    data = report_json(build_report(frame, definition(costs=COSTED)))
    assert "net_saving" not in data["outcomes"][0]["comparisons"][0]


def test_an_estimate_without_an_interval_gives_a_saving_without_one_and_a_note() -> None:
    frame = small_frame({"control": (20, 8), "sms": (20, 12), "letter": (20, 9)})
    frame["unit"] = frame["arm"].astype(str)
    frame["cost"] = np.where(frame["arm"] == "control", 0.0, 0.12)
    trial = definition(population={"unit": "court"}, costs=COSTED)
    data = report_json(build_report(frame, trial))
    saving = data["outcomes"][0]["comparisons"][0]["net_saving"]
    assert saving["estimate"] == pytest.approx(1000 * 0.2 * 250 - 120)
    assert saving["ci_low"] is None and saving["ci_high"] is None
    assert (
        "SMS reminder: the effect has no interval, so neither has the net saving"
        in (data["outcomes"][0]["notes"])
    )
