"""Eligibility rules: declarative, stored as written, and strict about missing values."""

from __future__ import annotations

import pytest

from experiments.definition import Rule
from experiments.eligibility import first_failed_rule, holds, parse_flag


@pytest.mark.parametrize(
    "written",
    [
        {"field": "role", "in": ["victim", "witness"]},
        {"field": "age", "min": 18.0},
        {"field": "age", "max": 110.0},
        {"field": "contact_sms", "equals": True},
        {"field": "phone", "present": True},
    ],
)
def test_a_rule_is_stored_as_its_field_and_its_one_operator(written: dict[str, object]) -> None:
    rule = Rule.model_validate(written)
    assert rule.model_dump(mode="json", by_alias=True) == written
    assert Rule.model_validate(rule.model_dump(mode="json", by_alias=True)) == rule


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ({"field": "role", "in": ["victim", "witness"]}, "Witness", True),
        ({"field": "role", "in": ["victim", "witness"]}, "expert", False),
        ({"field": "age", "min": 18}, "18", True),
        ({"field": "age", "min": 18}, "17", False),
        ({"field": "age", "min": 18}, "", False),  # missing fails
        ({"field": "age", "max": 90}, "91", False),
        ({"field": "contact_sms", "equals": True}, True, True),
        ({"field": "contact_sms", "equals": True}, "yes", True),
        ({"field": "safeguarding_flag", "equals": False}, None, False),  # unknown is not safe
        ({"field": "phone", "present": True}, "", False),
        ({"field": "phone", "present": False}, "", True),
        ({"field": "court", "equals": "BRS"}, "brs", True),
    ],
)
def test_rules_hold_as_documented(rule: dict[str, object], value: object, expected: bool) -> None:
    assert holds(Rule.model_validate(rule), value) is expected


def test_the_first_failing_rule_is_the_reason_recorded() -> None:
    rules = [
        Rule.model_validate(r)
        for r in ({"field": "role", "in": ["victim", "witness"]}, {"field": "age", "min": 18})
    ]
    failed = first_failed_rule(rules, {"role": "witness", "age": "16"})
    assert failed is not None and failed.describe() == "age min 18.0"
    assert first_failed_rule(rules, {"role": "victim", "age": "40"}) is None


@pytest.mark.parametrize(
    ("text", "flag"), [("Yes", True), ("n", False), ("1", True), ("FALSE", False), ("", None)]
)
def test_flags_accept_the_usual_spellings(text: str, flag: bool | None) -> None:
    assert parse_flag(text) is flag


def test_a_flag_that_is_neither_yes_nor_no_is_refused() -> None:
    with pytest.raises(ValueError, match="'maybe' is not yes or no"):
        parse_flag("maybe")
