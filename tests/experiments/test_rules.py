"""Eligibility rules: declarative, stored as written, and strict about missing values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.definition import Rule
from experiments.eligibility import CompiledRules, first_failed_rule, holds, parse_flag


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


_FIELDS = ("role", "age", "contact_sms", "safeguarding_flag", "phone")
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 120),
    st.sampled_from(["", " ", "yes", "No", "17", "18", "40.5", "victim", "Witness", "expert", "x"]),
)
_RULES = st.sampled_from(
    [
        {"field": "role", "in": ["victim", "witness"]},
        {"field": "age", "min": 18},
        {"field": "age", "max": 90},
        {"field": "contact_sms", "equals": True},
        {"field": "safeguarding_flag", "equals": False},
        {"field": "role", "equals": "victim"},
        {"field": "age", "equals": 18},
        {"field": "phone", "present": True},
        {"field": "phone", "present": False},
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_RULES, min_size=1, max_size=5),
    st.lists(
        st.fixed_dictionaries({}, optional={f: _VALUES for f in _FIELDS}), min_size=1, max_size=30
    ),
)
def test_compiled_rules_remember_outcomes_without_ever_changing_one(
    written: list[dict[str, object]], people: list[dict[str, object]]
) -> None:
    rules = [Rule.model_validate(r) for r in written]
    compiled = CompiledRules(rules)
    for values in people + people:  # the second pass is answered from what was remembered
        failed = first_failed_rule(rules, values)
        assert compiled.first_failure(values) == (None if failed is None else failed.describe())


def test_compiled_rules_tell_true_from_one_although_they_are_equal_keys() -> None:
    compiled = CompiledRules([Rule.model_validate({"field": "age", "max": 90})])
    assert compiled.first_failure({"age": 1}) is None
    assert compiled.first_failure({"age": True}) == "age max 90.0"  # a flag is not a number
