"""The report: keys exactly as specified, values from the validated statistics, no NaN, edges."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session

from analysis.frame import frame_from_csv, frame_from_db
from analysis.outcomes import import_outcomes
from analysis.report import build_report, report_json
from analysis.stats import (
    adjust_p_values,
    bayes_comparison,
    compare_two_arms,
    lm_robust,
    sample_size_two_proportions,
    wilson_interval,
)
from experiments.definition import TrialDefinition
from experiments.enrol import enrol_file
from nudge.clock import FixedClock
from tests.analysis.test_frame import add_message
from tests.analysis.test_outcomes import write_outcomes
from tests.conftest import EXAMPLE
from tests.factories import launch, person, write_people

REFERENCE = Path(__file__).parent / "reference"
COMPARISON_KEYS = {
    "arm",
    "versus",
    "risk_difference",
    "rd_ci_low",
    "rd_ci_high",
    "risk_ratio",
    "rr_ci_low",
    "rr_ci_high",
    "chi2_p_value",
    "fisher_p_value",
    "adjusted_risk_difference",
    "adjusted_std_error",
    "adjusted_ci_low",
    "adjusted_ci_high",
    "adjusted_p_value",
    "p_value_corrected",
    "odds_ratio",
    "or_ci_low",
    "or_ci_high",
    "or_p_value",
    "cace",
    "cace_std_error",
    "prob_better",
    "expected_loss",
    "cost_per_extra_event",
    "cost_ci_low",
    "cost_ci_high",
    "incremental_cost",
    "cost_status",
    "rd_bound_worst",
    "rd_bound_best",
    "primary_reason",
}
ARM_KEYS = {"arm", "n", "events", "rate", "ci_low", "ci_high", "units", "design_effect"}
ARM_KEYS |= {"effective_n"}


def definition(**overrides: Any) -> TrialDefinition:
    data: dict[str, Any] = {
        "id": "small-trial",
        "title": "A small trial",
        "timezone": "Europe/London",
        "arms": [
            {"id": "control", "title": "Business as usual", "control": True},
            {"id": "sms", "title": "SMS reminder"},
            {"id": "letter", "title": "Letter"},
        ],
        "outcomes": [{"id": "attended", "primary": True}],
    }
    data.update(overrides)
    return TrialDefinition.model_validate(data)


def small_frame(counts: dict[str, tuple[int, int]], **columns: Any) -> pd.DataFrame:
    """Participants per arm: (n, events); the unit is the participant."""
    arms, outcome = [], []
    for arm, (n, events) in counts.items():
        arms += [arm] * n
        outcome += [1.0] * events + [0.0] * (n - events)
    frame = pd.DataFrame(
        {
            "participant_ref": [f"P{i}" for i in range(len(arms))],
            "arm": pd.Categorical(arms, categories=list(counts)),
            "unit": [f"P{i}" for i in range(len(arms))],
            "stratum": "all",
            "attended": outcome,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in walk(v)]
    if isinstance(value, list):
        return [x for v in value for x in walk(v)]
    return [value]


def assert_clean_json(data: dict[str, Any]) -> None:
    json.dumps(data, allow_nan=False)
    for leaf in walk(data):
        assert leaf is None or isinstance(leaf, str | bool | int | float)
        assert not (isinstance(leaf, float) and not math.isfinite(leaf))


def test_the_json_has_exactly_the_specified_keys() -> None:
    frame = small_frame({"control": (40, 20), "sms": (40, 28), "letter": (40, 22)})
    data = report_json(build_report(frame, definition()))
    assert set(data) == {"trial", "randomisation", "outcomes", "balance", "power", "notes"}
    assert set(data["randomisation"]) == {"unit", "units", "srm_p_value", "srm_flagged"}
    (outcome,) = data["outcomes"]
    assert set(outcome) == {
        "id",
        "primary",
        "covariates_used",
        "arms",
        "comparisons",
        "subgroups",
        "notes",
        "missing",
        "methods",
        "clustered",
        "icc",
        "cluster_size",
        "primary_available",
        "model_units",
        "too_few_units",
        "below_min_clusters",
        "aliased",
    }
    assert outcome["primary_available"] is True
    assert all(set(a) == ARM_KEYS for a in outcome["arms"])
    assert [set(c) for c in outcome["comparisons"]] == [COMPARISON_KEYS, COMPARISON_KEYS]
    assert [(c["arm"], c["versus"]) for c in outcome["comparisons"]] == [
        ("sms", "control"),
        ("letter", "control"),
    ]
    assert_clean_json(data)


def test_values_come_from_the_validated_statistics() -> None:
    frame = small_frame({"control": (50, 20), "sms": (48, 31), "letter": (52, 25)})
    plan = {"alpha": 0.1, "correction": "holm", "continuity": "yates"}
    data = report_json(build_report(frame, definition(analysis=plan)))
    outcome = data["outcomes"][0]
    control = wilson_interval(20, 50, 0.1)
    assert outcome["arms"][0] == {
        "arm": "control",
        "n": 50,
        "events": 20,
        "rate": control.proportion,
        "ci_low": control.ci_low,
        "ci_high": control.ci_high,
        "units": None,
        "design_effect": None,
        "effective_n": None,
    }
    sms = outcome["comparisons"][0]
    two = compare_two_arms(31, 48, 20, 50, 0.1, yates=True)
    assert (sms["risk_difference"], sms["rd_ci_low"], sms["rd_ci_high"]) == (
        two.risk_difference.estimate,
        two.risk_difference.ci_low,
        two.risk_difference.ci_high,
    )
    assert (sms["risk_ratio"], sms["chi2_p_value"], sms["fisher_p_value"]) == (
        two.risk_ratio.estimate,
        two.chi_square_p,
        two.fisher_p,
    )
    x = np.column_stack([np.ones(150), frame["arm"] == "sms", frame["arm"] == "letter"]).astype(
        float
    )
    fit = lm_robust(
        frame["attended"], x, terms=["(Intercept)", "arm[sms]", "arm[letter]"], alpha=0.1
    )
    coef = fit.coefficient("arm[sms]")
    assert sms["adjusted_risk_difference"] == pytest.approx(coef.estimate, rel=1e-12)
    assert sms["adjusted_std_error"] == pytest.approx(coef.std_error, rel=1e-12)
    assert sms["adjusted_ci_low"] == pytest.approx(coef.ci_low, rel=1e-12)
    # Without covariates the adjusted difference is the plain one.
    assert sms["adjusted_risk_difference"] == pytest.approx(sms["risk_difference"], rel=1e-12)
    raw = [c["adjusted_p_value"] for c in outcome["comparisons"]]
    assert [c["p_value_corrected"] for c in outcome["comparisons"]] == list(adjust_p_values(raw))
    bayes = bayes_comparison(31, 48, 20, 50)
    assert (sms["prob_better"], sms["expected_loss"]) == (bayes.prob_better, bayes.expected_loss)
    assert sms["cace"] is None and outcome["notes"] == [
        "delivery is not recorded: no complier average causal effect"
    ]


def reference_definition(tmp_path: Path) -> Path:
    path = tmp_path / "reference.yaml"
    path.write_text(
        """
id: reference-trial
title: The simulated reference trial
timezone: Europe/London
population: {unit: household, strata: [court]}
arms:
  - {id: control, title: Business as usual, control: true}
  - {id: sms, title: SMS reminder}
  - {id: letter, title: Letter}
outcomes: [{id: attended, primary: true}]
analysis:
  covariates: [age, prior_fta, role]
  correction: none
  columns: {age: numeric, prior_fta: flag}
costs: {sms_segment: 0.04, letter: 0.85}
"""
    )
    return path


def reference_csv(tmp_path: Path) -> Path:
    data = pd.read_csv(REFERENCE / "trial.csv")
    data.insert(0, "participant_ref", [f"R{i:05d}" for i in range(len(data))])
    path = tmp_path / "reference.csv"
    data.to_csv(path, index=False)
    return path


def r_term(estimates: dict[str, Any], term: str, field: str) -> float:
    return float(estimates[field][estimates["term"].index(term)])


def test_a_flat_file_reproduces_the_r_reference(
    tmp_path: Path, stats_reference: dict[str, Any]
) -> None:
    from analysis.analyse import analyse_file

    result = analyse_file(reference_csv(tmp_path), reference_definition(tmp_path))
    data = report_json(result.report)
    comparisons = {c["arm"]: c for c in data["outcomes"][0]["comparisons"]}
    lm, logit, iv = (stats_reference[k] for k in ("lm_cr2", "logit_cluster_hc1", "iv_cr2"))
    unadjusted = stats_reference["lm_cr2_arm_only"]
    for arm in ("sms", "letter"):
        ours, term = comparisons[arm], f"arm{arm}"
        assert ours["adjusted_risk_difference"] == pytest.approx(
            r_term(lm, term, "estimate"), rel=1e-6
        )
        assert ours["adjusted_std_error"] == pytest.approx(r_term(lm, term, "std_error"), rel=1e-6)
        assert ours["adjusted_ci_low"] == pytest.approx(r_term(lm, term, "ci_low"), rel=1e-6)
        assert ours["adjusted_p_value"] == pytest.approx(r_term(lm, term, "p_value"), abs=1e-4)
        assert ours["odds_ratio"] == pytest.approx(
            math.exp(r_term(logit, term, "estimate")), rel=1e-6
        )
        assert ours["or_ci_low"] == pytest.approx(math.exp(r_term(logit, term, "ci_low")), rel=1e-6)
        assert ours["or_p_value"] == pytest.approx(r_term(logit, term, "p_value"), abs=1e-4)
        received = f"recv_{arm}"
        assert ours["cace"] == pytest.approx(r_term(iv, received, "estimate"), rel=1e-6)
        assert ours["cace_std_error"] == pytest.approx(r_term(iv, received, "std_error"), rel=1e-6)
        # Households were randomised: the unadjusted difference is the CR2 model without
        # covariates (it was Newcombe's interval, which treats housemates as independent),
        # and Fisher's exact test, which assumes independence, is not reported.
        assert ours["risk_difference"] == pytest.approx(
            r_term(unadjusted, term, "estimate"), rel=1e-6
        )
        assert ours["rd_ci_low"] == pytest.approx(r_term(unadjusted, term, "ci_low"), rel=1e-6)
        assert ours["rd_ci_high"] == pytest.approx(r_term(unadjusted, term, "ci_high"), rel=1e-6)
        assert ours["fisher_p_value"] is None
        assert ours["p_value_corrected"] == ours["adjusted_p_value"]
    assert data["randomisation"]["units"] == {"control": 235, "sms": 233, "letter": 232}
    assert data["outcomes"][0]["covariates_used"] == ["age", "prior_fta", "role"]
    # No cost column: the planned cost of every message (none in this definition) is used.
    assert any("planned cost" in note for note in data["notes"])
    assert_clean_json(data)


@pytest.fixture
def db_trial(session: Session, clock: FixedClock, tmp_path: Path) -> str:
    """Ninety people in the example trial, outcomes for most, messages for some."""
    launch(session, clock, EXAMPLE)
    chance = random.Random(20270110)
    people = [
        person(
            i,
            role="victim" if i % 3 else "witness",
            age_band=chance.choice(["18-34", "35-54", "55+"]),
            prior_fta=chance.choice(["yes", "no", "no"]),
            court=chance.choice(["BRS", "CDF"]),
        )
        for i in range(1, 91)
    ]
    enrol_file(
        session, clock, "witness-reminders-2027", write_people(tmp_path / "p.csv", people), "t"
    )
    rows = [
        [
            f"P{i:05d}",
            f"C{i:05d}",
            "" if i % 17 == 0 else chance.choice(["yes", "yes", "no"]),
            chance.choice(["yes", "no", "no", ""]),
        ]
        for i in range(1, 91)
    ]
    import_outcomes(
        session, clock, "witness-reminders-2027", write_outcomes(tmp_path / "o.csv", rows), "t"
    )
    session.commit()
    for i in range(1, 91, 2):
        add_message(
            session, clock, f"P{i:05d}", 1, "sms", chance.choice(["delivered", "sent"]), 0.04
        )
    session.commit()
    return "witness-reminders-2027"


def flat_copy(frame: pd.DataFrame, path: Path) -> Path:
    """The database frame written as an analyst's flat file (yes/no outcomes, blank missing)."""
    out = frame.copy()
    for name in ("attended", "withdrew", "delivered"):
        out[name] = out[name].map({1.0: "yes", 0.0: "no"}).fillna("")
    out.to_csv(path, index=False)
    return path


def test_a_database_trial_and_its_flat_file_give_the_same_report(
    session: Session, db_trial: str, tmp_path: Path
) -> None:
    from experiments import trials

    definition = trials.current_definition(session, trials.get_trial(session, db_trial))
    from_db = frame_from_db(session, db_trial)
    from_csv = frame_from_csv(flat_copy(from_db, tmp_path / "flat.csv"), definition)
    ours = report_json(build_report(from_db, definition))
    assert ours == report_json(build_report(from_csv, definition))
    assert_clean_json(ours)
    withdrew = ours["outcomes"][1]
    assert withdrew["id"] == "withdrew" and withdrew["primary"] is False
    assert sum(a["n"] for a in withdrew["arms"]) <= sum(1 for i in range(1, 91) if i % 3)
    assert withdrew["notes"][0].startswith("population: randomised participants with role victim (")
    assert ours["randomisation"]["unit"] == "case"
    assert ours["power"]["design_n_per_arm"] == sample_size_two_proportions(0.75, 0.05).n_per_arm
    (role,) = ours["outcomes"][0]["subgroups"]
    assert role["variable"] == "role" and [lv["level"] for lv in role["levels"]] == [
        "victim",
        "witness",
    ]
    assert role["interaction_df"] == 2


@pytest.mark.parametrize(
    ("counts", "expected_note"),
    [
        ({"control": (30, 10), "sms": (30, 0), "letter": (30, 12)}, "perfect separation"),
        ({"control": (30, 10), "sms": (30, 30), "letter": (30, 12)}, "perfect separation"),
        ({"control": (30, 0), "sms": (30, 0), "letter": (30, 0)}, "had the same outcome"),
        ({"control": (30, 10), "sms": (0, 0), "letter": (30, 12)}, "no observed outcomes in arm"),
    ],
)
def test_extreme_arms_give_results_with_notes_not_crashes(
    counts: dict[str, tuple[int, int]], expected_note: str
) -> None:
    data = report_json(build_report(small_frame(counts), definition()))
    assert_clean_json(data)
    notes = " ".join(data["outcomes"][0]["notes"])
    assert expected_note in notes


def test_an_arm_with_zero_events_has_a_risk_difference_but_no_risk_ratio_interval() -> None:
    data = report_json(
        build_report(
            small_frame({"control": (30, 10), "sms": (30, 0), "letter": (30, 12)}), definition()
        )
    )
    sms = data["outcomes"][0]["comparisons"][0]
    assert sms["risk_difference"] == pytest.approx(-1 / 3)
    assert sms["risk_ratio"] == 0.0 and sms["rr_ci_low"] is None and sms["odds_ratio"] is None


def test_an_outcome_observed_for_nobody_is_reported_empty() -> None:
    frame = small_frame({"control": (5, 0), "sms": (5, 0), "letter": (5, 0)})
    frame["attended"] = np.nan
    data = report_json(build_report(frame, definition()))
    outcome = data["outcomes"][0]
    assert [a["n"] for a in outcome["arms"]] == [0, 0, 0]
    assert "the outcome is observed for nobody: nothing to estimate" in outcome["notes"]
    assert all(c["risk_difference"] is None for c in outcome["comparisons"])
    assert_clean_json(data)


def test_one_cluster_per_arm_gives_no_adjusted_interval() -> None:
    frame = small_frame({"control": (20, 8), "sms": (20, 12), "letter": (20, 9)})
    frame["unit"] = frame["arm"].astype(str)
    data = report_json(build_report(frame, definition(population={"unit": "court"})))
    sms = data["outcomes"][0]["comparisons"][0]
    assert sms["adjusted_risk_difference"] == pytest.approx(0.2)
    assert sms["adjusted_ci_low"] is None and sms["adjusted_p_value"] is None
    assert any("degenerate" in note for note in data["outcomes"][0]["notes"])
    assert_clean_json(data)


def test_missing_covariates_are_dropped_and_counted_or_indicated() -> None:
    age = [30.0, np.nan] * 45
    frame = small_frame({"control": (30, 10), "sms": (30, 15), "letter": (30, 12)}, age=age)
    dropped = report_json(build_report(frame, definition(analysis={"covariates": ["age"]})))
    assert (
        "45 participant(s) with a missing covariate were left out of the adjusted models "
        "(the plan says missing: drop)"
    ) in dropped["outcomes"][0]["notes"]
    plan = {"covariates": ["age"], "missing": "indicator"}
    indicated = report_json(build_report(frame, definition(analysis=plan)))
    assert "missing-value indicators used: age[missing]" in indicated["outcomes"][0]["notes"]
    assert indicated["outcomes"][0]["covariates_used"] == ["age"]


def test_a_constant_covariate_is_dropped_and_reported() -> None:
    frame = small_frame({"control": (30, 10), "sms": (30, 15), "letter": (30, 12)}, court="BRS")
    data = report_json(build_report(frame, definition(analysis={"covariates": ["court"]})))
    assert data["outcomes"][0]["covariates_used"] == []
    assert (
        "covariate(s) court constant in the analysed rows: dropped" in data["outcomes"][0]["notes"]
    )


def test_a_lopsided_allocation_is_flagged() -> None:
    frame = small_frame({"control": (300, 100), "sms": (150, 60), "letter": (300, 110)})
    randomisation = report_json(build_report(frame, definition()))["randomisation"]
    assert randomisation["units"] == {"control": 300, "sms": 150, "letter": 300}
    assert randomisation["srm_flagged"] is True and randomisation["srm_p_value"] < 0.001


def test_cost_per_extra_event_uses_each_participants_cost() -> None:
    frame = small_frame({"control": (100, 40), "sms": (100, 70), "letter": (100, 45)})
    frame["cost"] = np.where(frame["arm"] == "control", 0.0, 0.12)
    sms = report_json(build_report(frame, definition()))["outcomes"][0]["comparisons"][0]
    assert sms["cost_per_extra_event"] == pytest.approx(0.12 / 0.3)
    assert sms["cost_ci_low"] == pytest.approx(0.12 / sms["rd_ci_high"])


def test_without_costs_the_cost_is_null_with_a_note() -> None:
    frame = small_frame({"control": (100, 40), "sms": (100, 70), "letter": (100, 45)})
    data = report_json(build_report(frame, definition()))
    assert data["outcomes"][0]["comparisons"][0]["cost_per_extra_event"] is None
    assert "no cost per extra event" in data["notes"][0]


def test_balance_compares_every_covariate_with_control() -> None:
    role = ["victim", "witness"] * 45
    frame = small_frame({"control": (30, 10), "sms": (30, 15), "letter": (30, 12)}, role=role)
    balance = report_json(build_report(frame, definition(analysis={"covariates": ["role"]})))[
        "balance"
    ]
    assert {
        (d["arm"], d["versus"], d["covariate"], d["level"]) for d in balance["differences"]
    } == {
        (arm, "control", "role", level)
        for arm in ("sms", "letter")
        for level in ("victim", "witness")
    }


def test_an_outcome_where_lower_is_better_turns_probability_better_round() -> None:
    frame = small_frame({"control": (50, 20), "sms": (48, 12), "letter": (52, 25)})
    higher = report_json(build_report(frame, definition()))
    outcome = {"id": "attended", "primary": True, "better": "lower"}
    lower = report_json(build_report(frame, definition(outcomes=[outcome])))
    for up, down in zip(
        higher["outcomes"][0]["comparisons"], lower["outcomes"][0]["comparisons"], strict=True
    ):
        assert down["prob_better"] == pytest.approx(1.0 - up["prob_better"], abs=1e-12)
        assert down["risk_difference"] == up["risk_difference"]
        assert down["adjusted_p_value"] == up["adjusted_p_value"]
