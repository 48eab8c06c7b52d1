"""The top of the results page, as a programme lead reads it: the verdict first, the trial's
status and progress, health checks that show whether they pass, numbers in the GOV.UK style,
zeros by design shown as such, and a "No results yet" panel instead of empty tables."""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from analysis import numbers
from analysis.disclosure import FEWER, disclose
from analysis.verdict import HARMS, HELPS, TOO_EARLY, UNCLEAR, verdicts
from experiments import trials
from experiments.definition import TrialDefinition
from nudge.clock import FixedClock
from tests.conftest import EXAMPLE
from tests.factories import load_trial_file
from tests.trial_factories import TRIAL, seed_trial
from tests.web_helpers import logged_in


def words(page: str) -> str:
    """The page's main content as a reader hears it: tags stripped, spaces collapsed."""
    main = page[page.index("<main") : page.index("</main>")]
    main = re.sub(r"<svg.*?</svg>", " ", main, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)))


@pytest.fixture
def example() -> TrialDefinition:
    loaded = load_trial_file(EXAMPLE)
    return loaded.definition  # type: ignore[union-attr]


# --- numbers in the GOV.UK style -----------------------------------------------------------


def test_numbers_follow_the_govuk_style() -> None:
    assert numbers.percent(0.8) == "80%" and numbers.percent(0.8185) == "82%"
    assert numbers.percent(0.8186, 1) == "81.9%" and numbers.percent(0.80, 1) == "80%"
    assert numbers.percent(0.003) == "less than 1%" and numbers.percent(0.9996) == "more than 99%"
    assert numbers.points(-0.032) == "\u22123.2" and numbers.points(0.109) == "+10.9"
    assert numbers.points(0.0001) == "0" and numbers.points(-0.0001) == "0"
    assert numbers.money(1.096) == "£1.10" and numbers.money(0.7783) == "78p"
    assert numbers.money(12.0) == "£12" and numbers.money(1234.56) == "£1,235"
    assert numbers.money(1.5, "EUR") == "€1.50" and numbers.money(2.0, "NZD") == "NZD 2"
    assert numbers.p_value(0.0004) == "<0.001" and numbers.p_value(0.0123) == "0.012"
    assert numbers.count(2345) == "2,345" and numbers.count(FEWER) == FEWER


# --- the verdict rule, on results made for each case ---------------------------------------


def comparison(
    estimate: float | None, low: float | None, high: float | None, p: float | None, **extra: Any
) -> dict[str, Any]:
    return {
        "arm": "practical",
        "versus": "control",
        "adjusted_risk_difference": estimate,
        "adjusted_ci_low": low,
        "adjusted_ci_high": high,
        "p_value_corrected": p,
        "risk_ratio": None if estimate is None else 1 + estimate / 0.7,
        "cost_per_extra_event": 1.096,
        "cost_ci_low": 0.778,
        "cost_ci_high": 1.852,
        "cost_status": "estimated",
        "primary_reason": None,
        **extra,
    }


def shown_with(c: dict[str, Any], *, n: int = 800, better: str = "higher") -> dict[str, Any]:
    arms = [
        {"arm": "control", "n": n, "rate": 0.71},
        {"arm": "practical", "n": n, "rate": 0.71 + (c["adjusted_risk_difference"] or 0)},
    ]
    outcome = {"id": "attended", "primary": True, "arms": arms, "comparisons": [c]}
    power = {"design_n_by_arm": {"control": 700, "practical": 700, "social_norm": 700}}
    return {"report": {"outcomes": [outcome], "power": power}}


def one_verdict(shown: dict[str, Any], definition: TrialDefinition, closed: bool = False):
    (made,) = verdicts(shown, two_arms(definition), closed=closed)
    return made


def two_arms(definition: TrialDefinition, better: str = "higher") -> TrialDefinition:
    data = definition.model_dump(by_alias=True, exclude_none=True)
    data["arms"] = [a for a in data["arms"] if a["id"] in ("control", "practical")]
    data["outcomes"][0]["better"] = better
    return TrialDefinition.model_validate(data)


def test_a_clear_gain_likely_helps_and_says_so_with_its_range_and_cost(example) -> None:
    made = one_verdict(shown_with(comparison(0.109, 0.067, 0.152, 0.0001)), example)
    assert made["label"] == HELPS and made["colour"] == "green"
    assert made["sentence"].startswith("Practical information raised ")
    assert (
        "from 71% to 82% (+11 percentage points, 16% higher; likely between +7 and +15)"
        in (made["sentence"])
    )
    assert made["sentence"].endswith("(likely between 78p and £1.85).")
    assert "£1.10 per extra " in made["sentence"]


def test_a_clear_loss_likely_harms_and_a_lower_is_better_outcome_turns_it_round(example) -> None:
    loss = shown_with(comparison(-0.08, -0.12, -0.04, 0.001))
    assert one_verdict(loss, example)["label"] == HARMS
    (fewer_withdrawals,) = verdicts(loss, two_arms(example, better="lower"), closed=False)
    assert fewer_withdrawals["label"] == HELPS
    assert "reduced" in fewer_withdrawals["sentence"]
    (more,) = verdicts(
        shown_with(comparison(0.08, 0.04, 0.12, 0.001)),
        two_arms(example, better="lower"),
        closed=False,
    )
    assert more["label"] == HARMS


def test_an_interval_across_zero_is_too_early_while_short_of_the_design_then_no_clear_effect(
    example,
) -> None:
    c = comparison(0.02, -0.03, 0.07, 0.4)
    early = one_verdict(shown_with(c, n=300), example)
    assert early["label"] == TOO_EARLY
    assert "The design needs 700 outcomes in each arm; this arm has 300." in early["sentence"]
    assert one_verdict(shown_with(c, n=800), example)["label"] == UNCLEAR
    assert one_verdict(shown_with(c, n=300), example, closed=True)["label"] == UNCLEAR
    assert "no clear effect" in one_verdict(shown_with(c, n=800), example)["sentence"]


def test_no_pre_registered_estimate_is_never_given_a_verdict(example) -> None:
    missing = comparison(None, None, None, None, primary_reason="no variation in the outcome")
    made = one_verdict(shown_with(missing), example)
    assert made["label"] == TOO_EARLY
    assert "could not be computed (no variation in the outcome)" in made["sentence"]
    hidden = one_verdict(shown_with(comparison(0.1, 0.05, 0.15, 0.001, suppressed=True)), example)
    assert hidden["label"] == TOO_EARLY and "not shown yet" in hidden["sentence"]


def test_a_significant_but_uncorrected_p_is_not_enough(example) -> None:
    """The rule uses the corrected p-value: 0.04 raw is 0.08 after Holm for two arms."""
    made = one_verdict(shown_with(comparison(0.05, 0.001, 0.099, 0.08), n=800), example)
    assert made["label"] == UNCLEAR


# --- the page ------------------------------------------------------------------------------


@pytest.fixture
def live_trial(staff: None, session: Session, clock: FixedClock, tmp_path: Path) -> None:
    """The example trial, live, with 240 people enrolled and their outcomes so far."""
    seed_trial(session, clock, tmp_path, people=240)


def results_page(app: Flask) -> str:
    """The results page as a programme lead gets it."""
    return logged_in(app, "lead").get(f"/trials/{TRIAL}/results").get_data(as_text=True)


@pytest.mark.usefixtures("live_trial")
def test_the_verdict_comes_before_every_table_and_the_status_says_interim(app: Flask) -> None:
    text = words(results_page(app))
    found = text.index("What the trial has found so far")
    assert text.index("Live (interim)") < found
    assert "Interim results: they will change" in text and "Do not stop the trial" in text
    for later in ("Participant flow", "Primary outcome:", "Health checks", "Progress to"):
        assert found < text.index(later), later
    for label in ("Likely helps", "No clear effect", "Likely harms", "Not enough data yet"):
        if label in text[found : text.index("How the labels are decided")]:
            break
    else:
        raise AssertionError("no verdict label in the panel")
    assert "\u2212" in text or "+" in text  # signed differences
    assert ".0%" not in text and " 80.0" not in text


@pytest.mark.usefixtures("live_trial")
def test_progress_and_health_checks_are_shown_with_their_numbers(app: Flask) -> None:
    lead = logged_in(app, "lead")
    text = words(lead.get(f"/trials/{TRIAL}/results").get_data(as_text=True))
    power = lead.get(f"/trials/{TRIAL}/results.json").get_json()["report"]["power"]
    design = sum(power["design_n_by_arm"].values())
    assert re.search(rf"People randomised \d+ of {design:,} \(\d+%\)", text)
    assert re.search(rf"Outcomes observed \d+ of {design:,} \(\d+%\)", text)
    for check in (
        "Arm sizes match the plan",
        "Arms alike at the start",
        "Messages reach people",
        "Outcomes recorded alike in each arm",
    ):
        assert re.search(rf"{check} (Pass|Check|Not yet) ", text), check


@pytest.mark.usefixtures("live_trial")
def test_an_arm_that_gets_no_messages_says_none_not_fewer_than_5(app: Flask) -> None:
    lead = logged_in(app, "lead")
    text = words(lead.get(f"/trials/{TRIAL}/results").get_data(as_text=True))
    flow = text[text.index("Participant flow") :]
    control = flow[flow.index("Business as usual") : flow.index("Practical information")]
    assert "None: this arm gets no messages" in control and FEWER not in control
    data = lead.get(f"/trials/{TRIAL}/results.json").get_json()
    (control_flow,) = [a for a in data["flow"]["arms"] if a["arm"] == "control"]
    assert control_flow["gets_messages"] is False
    assert set(control_flow["messages"].values()) == {0}


def test_disclosure_still_hides_a_real_zero_in_an_arm_that_gets_messages() -> None:
    body: dict[str, Any] = {
        "report": {
            "randomisation": {"units": {}},
            "outcomes": [],
            "notes": [],
            "balance": {"differences": [], "notes": []},
            "power": {"achieved_n_per_arm": 100, "achieved_minimum_detectable_effect": 0.1},
        },
        "flow": {
            "assessed": 100,
            "ineligible": 0,
            "randomised": 100,
            "ineligible_by_rule": {},
            "arms": [
                {
                    "arm": a,
                    "randomised": 50,
                    "units": 50,
                    "outcome_observed": 50,
                    "gets_messages": gets,
                    "messages": {"failed": 0, "sent": 40},
                }
                for a, gets in (("control", False), ("practical", True))
            ],
        },
        "enrolment": [],
    }
    shown = disclose(copy.deepcopy(body), exact=False)
    control, practical = shown["flow"]["arms"]
    assert control["messages"] == {"failed": 0, "sent": 40}
    assert practical["messages"] == {"failed": FEWER, "sent": 40}


def test_a_draft_trial_shows_no_results_yet_and_no_empty_tables(
    app: Flask, staff: None, session: Session, clock: FixedClock
) -> None:
    loaded = load_trial_file(EXAMPLE)
    trials.create_trial(session, clock, loaded, trials.Actor("test"))  # type: ignore[arg-type]
    session.commit()
    page = results_page(app)
    text = words(page)
    assert "Draft" in text and "No results yet" in text and "This trial is a draft" in text
    assert "<table" not in page[page.index("<main") :]
    assert "interim" not in text


def test_a_live_trial_with_nobody_randomised_says_what_will_appear(
    app: Flask, staff: None, session: Session, clock: FixedClock
) -> None:
    from tests.factories import launch

    launch(session, clock, EXAMPLE)
    text = words(results_page(app))
    assert "No results yet" in text and "Nobody has been randomised yet" in text
    assert "What the trial has found" not in text and "Primary outcome:" not in text


@pytest.mark.usefixtures("live_trial")
def test_a_closed_trial_is_final_and_has_no_interim_warning(
    app: Flask, session: Session, clock: FixedClock
) -> None:
    trials.close_trial(session, clock, TRIAL, trials.Actor("test"), "follow-up complete")
    session.commit()
    text = words(results_page(app))
    assert "Final (closed)" in text and "These are its final results" in text
    assert "What the trial found" in text and "interim" not in text
    assert "Not enough data yet" not in text[: text.index("How the labels are decided")]


def test_the_methods_come_in_two_layers(
    app: Flask, staff: None, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    seed_trial(session, clock, tmp_path, people=120)
    page = results_page(app)
    methods = page[page.index('id="methods-heading"') :]
    brief = words("<main>" + methods[: methods.index("<details")] + "</main>")
    assert len(re.findall(r"[a-z)]\. ", brief + " ")) == 3, brief
    assert "Full methods, for statisticians" in methods
    assert "Bell–McCaffrey" in html.unescape(methods)
