"""Evidence across trials: which closed trials' arms are pooled, from which figures, and the
pooled figures against R's metafor (tests/analysis/reference/meta, via analysis/stats/meta.py)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analysis.disclosure import disclose
from analysis.numbers import points
from analysis.pooled import HIDDEN, NO_ESTIMATE, ClosedTrial, pool_closed_trials
from analysis.pooled_view import evidence_view
from analysis.report import build_report, report_json
from analysis.verdict import HELPS, UNCLEAR
from experiments.definition import TrialDefinition
from tests.analysis.test_report import small_frame

REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "meta" / "reference.json").read_text("utf-8")
)["scenarios"]
RELATIVE = 1e-6


def tagged(
    trial_id: str, tags: list[str], *, better: str = "higher", **extra: Any
) -> TrialDefinition:
    return TrialDefinition.model_validate(
        {
            "id": trial_id,
            "title": f"Trial {trial_id}",
            "timezone": "Europe/London",
            "arms": [
                {"id": "control", "title": "Business as usual", "control": True},
                {"id": "sms", "title": "SMS reminder", "tags": tags},
            ],
            "outcomes": [
                {"id": "attended", "primary": True, "label": "attendance", "better": better}
            ],
            **extra,
        }
    )


def shown_with(estimate: float | None, se: float | None, **comparison: Any) -> dict[str, Any]:
    """A results JSON cut down to what the pooling reads: one outcome, one comparison."""
    return {
        "report": {
            "outcomes": [
                {
                    "id": "attended",
                    "arms": [{"arm": "control", "n": 400}, {"arm": "sms", "n": 410}],
                    "comparisons": [
                        {
                            "arm": "sms",
                            "versus": "control",
                            "adjusted_risk_difference": estimate,
                            "adjusted_std_error": se,
                            "adjusted_ci_low": None if estimate is None else estimate - 0.05,
                            "adjusted_ci_high": None if estimate is None else estimate + 0.05,
                            **comparison,
                        }
                    ],
                }
            ]
        }
    }


def closed(
    n: int, estimate: float | None, se: float | None, tags: list[str], **kw: Any
) -> ClosedTrial:
    trial_id = f"t{n}"
    return ClosedTrial(
        trial_id,
        f"Trial {n}",
        date(2027, 1, n),
        tagged(trial_id, tags),
        shown_with(estimate, se, **kw),
    )


@pytest.mark.parametrize(
    "scenario", ["two_heterogeneous", "three_heterogeneous", "five_heterogeneous"]
)
def test_the_pooled_effect_of_a_shared_tag_is_metafors_on_the_trials_own_estimates(
    scenario: str,
) -> None:
    case = REFERENCE[scenario]
    trials = [
        closed(i + 1, y, se, ["practical_information"])
        for i, (y, se) in enumerate(zip(case["estimate"], case["se"], strict=True))
    ]
    evidence = pool_closed_trials(trials)
    [group] = evidence.groups
    assert (group.outcome, group.tag, group.trials) == (
        "attended",
        "practical_information",
        tuple(t.trial_id for t in trials),
    )
    assert [(c.estimate, c.se) for c in group.contributions] == list(
        zip(case["estimate"], case["se"], strict=True)
    )
    meta = group.meta
    assert meta is not None and meta.k == case["k"]
    for ours, theirs in (
        (meta.reml.tau2, case["reml"]["tau2"]),
        (meta.reml.estimate, case["reml"]["estimate"]),
        (meta.reml.ci_low, case["reml"]["ci_low"]),
        (meta.reml.ci_high, case["reml"]["ci_high"]),
        (meta.reml.i2, case["reml"]["i2"]),
        (meta.prediction.low, case["reml"]["pi_low"]),
        (meta.prediction.high, case["reml"]["pi_high"]),
        (meta.dl.estimate, case["dl"]["estimate"]),
        (meta.dl.tau2, case["dl"]["tau2"]),
        (meta.heterogeneity.q, case["q"]),
    ):
        assert ours == pytest.approx(theirs, rel=RELATIVE, abs=1e-12)
    # Each trial's share of the REML weight, 1 / (SE^2 + tau^2), adds up to the whole.
    weights = np.array([c.weight for c in group.contributions], dtype=float)
    expected = 1 / (np.array(case["se"]) ** 2 + case["reml"]["tau2"])
    assert weights == pytest.approx(expected / expected.sum(), rel=RELATIVE)


def test_only_tags_two_closed_trials_share_are_pooled_and_the_rest_are_listed() -> None:
    evidence = pool_closed_trials(
        [
            closed(1, 0.05, 0.02, ["practical_information", "sms"]),
            closed(2, 0.03, 0.02, ["practical_information", "letter"]),
        ]
    )
    assert [g.tag for g in evidence.groups] == ["practical_information"]
    assert sorted(g.tag for g in evidence.single) == ["letter", "sms"]
    view = evidence_view(evidence)
    assert {item["tag"] for item in view["single"]} == {"letter", "sms"}


def test_a_comparison_hidden_from_the_viewer_or_without_an_estimate_is_left_out_and_said() -> None:
    evidence = pool_closed_trials(
        [
            closed(1, 0.05, 0.02, ["sms"]),
            closed(2, None, None, ["sms"], suppressed=True),
            closed(3, None, None, ["sms"], primary_reason="the model did not converge"),
            closed(4, 0.04, 0.03, ["sms"]),
        ]
    )
    [group] = evidence.groups
    assert [c.trial_id for c in group.contributions] == ["t1", "t4"]
    assert [(left.trial_id, left.reason) for left in group.left_out] == [
        ("t2", HIDDEN),
        ("t3", NO_ESTIMATE),
    ]
    assert group.meta is not None and group.meta.k == 2
    assert len(group.trials) == 4 and group.pooled_trials == 2


def test_outcomes_that_are_better_lower_are_not_pooled_with_the_same_id_better_higher() -> None:
    lower = ClosedTrial(
        "t9",
        "Trial 9",
        date(2027, 2, 1),
        tagged("t9", ["sms"], better="lower"),
        shown_with(0.02, 0.02),
    )
    evidence = pool_closed_trials([closed(1, 0.05, 0.02, ["sms"]), lower])
    assert evidence.groups == ()
    assert sorted(g.better for g in evidence.single) == ["higher", "lower"]


def test_a_trial_with_two_arms_sharing_a_tag_gives_two_estimates_and_a_warning() -> None:
    definition = TrialDefinition.model_validate(
        {
            "id": "two-arms",
            "title": "Two arms",
            "timezone": "Europe/London",
            "arms": [
                {"id": "control", "title": "Business as usual", "control": True},
                {"id": "sms", "title": "SMS reminder", "tags": ["sms"]},
                {"id": "letter", "title": "Letter and SMS", "tags": ["sms"]},
            ],
            "outcomes": [{"id": "attended", "primary": True}],
        }
    )
    frame = small_frame({"control": (300, 200), "sms": (300, 230), "letter": (300, 220)})
    report = report_json(build_report(frame, definition))
    both = ClosedTrial("two-arms", "Two arms", date(2027, 3, 1), definition, {"report": report})
    evidence = pool_closed_trials([closed(1, 0.05, 0.02, ["sms"]), both])
    [group] = evidence.groups
    assert [c.arm for c in group.contributions] == ["sms", "sms", "letter"]
    assert group.shared_control == ("two-arms",)  # by id; the note names its title
    view = evidence_view(evidence)["groups"][0]
    assert any(note.startswith("Two arms gave more than one") for note in view["notes"])
    assert any("not independent" in note for note in view["notes"])
    assert view["sentences"][0].startswith("Across 2 closed trials (3 arms), ")


def test_the_pooled_figures_are_the_trials_results_as_the_viewer_may_see_them() -> None:
    """From real reports: each trial's pre-registered estimate and SE; a lead does not get a
    trial whose arm has fewer than 5 people without the outcome, a researcher does."""
    definition = tagged("real", ["sms"])
    bodies = []
    for counts in (
        {"control": (200, 120), "sms": (200, 150)},
        {"control": (60, 56), "sms": (60, 58)},
    ):
        bodies.append({"report": report_json(build_report(small_frame(counts), definition))})
    for exact, pooled in ((True, 2), (False, 1)):
        trials = [
            ClosedTrial(f"r{i}", f"Real {i}", date(2027, 4, i + 1), definition, shown)
            for i, shown in enumerate(
                disclose({**body, "flow": _flow(), "enrolment": []}, exact=exact) for body in bodies
            )
        ]
        [group] = pool_closed_trials(trials).groups
        assert len(group.contributions) == pooled
        first = bodies[0]["report"]["outcomes"][0]["comparisons"][0]
        assert group.contributions[0].estimate == first["adjusted_risk_difference"]
        assert group.contributions[0].se == first["adjusted_std_error"]
        if not exact:
            assert group.left_out[0].reason == HIDDEN


def _flow() -> dict[str, Any]:
    return {"assessed": 0, "ineligible": 0, "randomised": 0, "ineligible_by_rule": {}, "arms": []}


@pytest.mark.parametrize("scenario", ["three_homogeneous", "three_heterogeneous"])
def test_the_words_say_what_the_pooled_interval_says(scenario: str) -> None:
    case = REFERENCE[scenario]
    trials = [
        closed(i + 1, y, se, ["practical_information"])
        for i, (y, se) in enumerate(zip(case["estimate"], case["se"], strict=True))
    ]
    view = evidence_view(pool_closed_trials(trials))["groups"][0]
    reml = case["reml"]
    clear = reml["p"] < 0.05
    assert view["label"] == (HELPS if clear else UNCLEAR)
    first = view["sentences"][0]
    assert first.startswith("Across 3 closed trials, arms tagged “practical information” ")
    low, high = (points(reml[k]) for k in ("ci_low", "ci_high"))
    assert f"likely between {low} and {high}" in first
    if clear:
        assert (
            f"raised attendance by about {round(100 * reml['estimate'])} percentage points" in first
        )
    else:
        assert "made no clear difference to attendance" in first
    pi_low, pi_high = (points(reml[k]) for k in ("pi_low", "pi_high"))
    assert (
        f"would likely find between {pi_low} and {pi_high} percentage points"
        in view["sentences"][1]
    )
    assert f"I² = {reml['i2']:.0f}%" in view["sentences"][2]
    assert [m["name"] for m in view["methods"]] == ["REML, Hartung–Knapp", "DerSimonian–Laird"]
    assert "<svg" in str(view["chart"]) and "<polygon" in str(view["chart"])  # the diamond


def test_two_closed_trials_with_the_same_title_are_two_studies_each_with_its_own_figures() -> None:
    """Trials are told apart by id, never by title: two closed trials both called "Reminder
    pilot" are two rows with their own counts and estimates, neither is said to give two
    estimates against one control, and the pool is metafor's for two separate studies."""
    case = REFERENCE["two_heterogeneous"]
    trials = []
    for n, (y, se, sizes) in enumerate(
        zip(case["estimate"], case["se"], ((400, 410), (150, 160)), strict=True), 1
    ):
        shown = shown_with(y, se)
        shown["report"]["outcomes"][0]["arms"] = [
            {"arm": "control", "n": sizes[0]},
            {"arm": "sms", "n": sizes[1]},
        ]
        trials.append(
            ClosedTrial(
                f"pilot-{n}",
                "Reminder pilot",
                date(2027, 5, 1),
                tagged(f"pilot-{n}", ["sms"]),
                shown,
            )
        )
    [group] = pool_closed_trials(trials).groups
    assert group.trials == ("pilot-1", "pilot-2")
    assert [(c.trial_id, c.n_arm, c.n_control, c.estimate, c.se) for c in group.contributions] == [
        ("pilot-1", 410, 400, case["estimate"][0], case["se"][0]),
        ("pilot-2", 160, 150, case["estimate"][1], case["se"][1]),
    ]
    assert group.pooled_trials == 2
    assert group.shared_control == ()
    meta = group.meta
    assert meta is not None and meta.k == 2
    for ours, theirs in (
        (meta.reml.tau2, case["reml"]["tau2"]),
        (meta.reml.estimate, case["reml"]["estimate"]),
        (meta.reml.ci_low, case["reml"]["ci_low"]),
        (meta.reml.ci_high, case["reml"]["ci_high"]),
        (meta.dl.estimate, case["dl"]["estimate"]),
    ):
        assert ours == pytest.approx(theirs, rel=RELATIVE, abs=1e-12)
    view = evidence_view(pool_closed_trials(trials))["groups"][0]
    # The shared title is followed by each trial's id, so the rows and the chart tell them apart.
    assert [
        (row["trial_id"], row["trial"], row["n_arm"], row["n_control"]) for row in view["rows"]
    ] == [
        ("pilot-1", "Reminder pilot (pilot-1)", 410, 400),
        ("pilot-2", "Reminder pilot (pilot-2)", 160, 150),
    ]
    assert "Reminder pilot (pilot-2): SMS reminder" in str(view["chart"])
    assert not any("not independent" in note for note in view["notes"])
    assert view["sentences"][0].startswith("Across 2 closed trials, ")
