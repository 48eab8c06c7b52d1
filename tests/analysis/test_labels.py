"""Labels: what the researcher wrote, else readable words made from the ids and rules."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.labels import Labels, humanise
from analysis.report import build_report, report_json
from analysis.text import render_text
from experiments.definition import Rule, TrialDefinition
from tests.analysis.test_report import definition, small_frame


def test_ids_read_aloud_when_no_label_is_given() -> None:
    labels = Labels.of(definition(analysis={"columns": {"prior_fta": "flag"}}))
    assert humanise("prior_fta") == "prior fta"
    assert humanise("social-norm__texts") == "social norm texts"
    assert labels.outcome("attended") == "attended"
    assert labels.column("prior_fta") == "prior fta"
    assert labels.column("age_band") == "age band"  # not declared at all
    assert labels.arm("sms") == "SMS reminder"  # arms have their title


def test_labels_come_from_the_definition() -> None:
    labels = Labels.of(
        definition(
            outcomes=[{"id": "attended", "primary": True, "label": "attendance"}],
            analysis={
                "covariates": ["prior_fta", "age_band", "role"],
                "columns": {
                    "prior_fta": {"type": "flag", "label": "previous failure to attend"},
                    "age_band": {"type": "categorical", "label": "age band"},
                },
            },
        )
    )
    assert labels.outcome("attended") == "attendance"
    assert labels.columns(["prior_fta", "age_band", "role"]) == (
        "previous failure to attend, age band and role"
    )


RULES: dict[str, tuple[dict[str, Any], str, str]] = {
    "min": ({"field": "age", "min": 18}, "age under 18 or not recorded", "age 18 or over"),
    "max": ({"field": "age", "max": 110.5}, "age over 110.5 or not recorded", "age 110.5 or under"),
    "in": (
        {"field": "role", "in": ["victim", "witness"]},
        "role not victim or witness",
        "role victim or witness",
    ),
    "equals true": (
        {"field": "contact_sms", "equals": True},
        "contact sms not yes",
        "contact sms yes",
    ),
    "equals false": (
        {"field": "safeguarding_flag", "equals": False},
        "safeguarding flag set or not recorded",
        "safeguarding flag no",
    ),
    "equals text": ({"field": "role", "equals": "victim"}, "role not victim", "role victim"),
    "present": ({"field": "phone", "present": True}, "phone not recorded", "phone recorded"),
    "absent": ({"field": "phone", "present": False}, "phone recorded", "phone not recorded"),
}


@pytest.mark.parametrize("case", RULES, ids=list(RULES))
def test_an_exclusion_reason_is_said_in_words_never_as_the_rule(case: str) -> None:
    rule_data, excluded, included = RULES[case]
    labels = Labels.of(definition())
    rule = Rule.model_validate(rule_data)
    assert labels.exclusion(rule) == excluded
    assert labels.inclusion(rule) == included
    assert " min " not in excluded and ".0" not in excluded


def test_an_exclusion_reason_uses_the_rules_label_or_its_columns() -> None:
    plan = definition(
        population={
            "eligibility": [
                {"field": "contact_sms", "equals": True, "label": "did not agree to texts"},
                {"field": "age", "min": 18},
            ]
        },
        analysis={"columns": {"age": {"type": "numeric", "label": "age in years"}}},
    )
    labels = Labels.of(plan)
    assert labels.exclusion_reason("contact_sms equals True") == "did not agree to texts"
    assert labels.exclusion_reason("age min 18.0") == "age in years under 18 or not recorded"
    # A reason stored under a rule the definition no longer has is read aloud, not dropped.
    assert labels.exclusion_reason("court in ['X']") == "court in ['X']"
    assert [labels.exclusion_order(k) for k in ("age min 18.0", "contact_sms equals True")] == [
        1,
        0,
    ]


def test_the_terminal_report_names_outcomes_covariates_and_arms_by_their_labels() -> None:
    plan: TrialDefinition = definition(
        outcomes=[{"id": "attended", "primary": True, "label": "attendance"}],
        analysis={
            "covariates": ["prior_fta"],
            "columns": {"prior_fta": {"type": "flag", "label": "previous failure to attend"}},
        },
    )
    frame = small_frame(
        {"control": (200, 140), "sms": (200, 170), "letter": (200, 142)},
        prior_fta=[float(i % 4 == 0) for i in range(600)],
    )
    text = render_text(report_json(build_report(frame, plan)), plan)
    assert "Outcome: attendance (primary outcome)" in text
    assert "SMS reminder raised attendance by " in text
    assert (
        "Letter against Business as usual: no clear evidence of a difference in attendance" in text
    )
    assert "Adjusted for: previous failure to attend." in text
    assert (
        "Randomised participants per arm: Business as usual 200, SMS reminder 200, Letter 200."
        in text
    )
    assert "rate of" not in text and "prior_fta" not in text and "attended" not in text


def test_report_notes_name_subgroups_and_arms_by_their_labels() -> None:
    plan = definition(
        analysis={
            "subgroups": ["age_band"],
            "columns": {"age_band": {"type": "categorical", "label": "age group"}},
        },
        outcomes=[
            {"id": "attended", "primary": True, "population": {"field": "role", "in": ["victim"]}}
        ],
    )
    frame = small_frame(
        {"control": (60, 30), "sms": (60, 40), "letter": (60, 33)},
        age_band=[None if i % 10 == 0 else ("18-34" if i % 2 else "35+") for i in range(180)],
        role="victim",
    )
    (outcome,) = report_json(build_report(frame, plan))["outcomes"]
    (subgroup,) = outcome["subgroups"]
    assert "18 participant(s) with no age group: in no level" in subgroup["notes"]
    assert "population: randomised participants with role victim (180)" in outcome["notes"]
