"""Eligibility: declarative rules applied to a participant's values, no evaluation of user text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # annotations only: an import's reader process does without pydantic
    from experiments.definition import Rule

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})


def parse_flag(value: Any) -> bool | None:
    """yes/no/true/false/1/0 (any case) as a boolean; blank as None; anything else raises."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "":
        return None
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"'{value}' is not yes or no")


def first_failed_rule(rules: Sequence[Rule], values: Mapping[str, Any]) -> Rule | None:
    """The first rule the participant does not meet, or None when every rule holds."""
    for rule in rules:
        if not holds(rule, values.get(rule.field)):
            return rule
    return None


def holds(rule: Rule | RuleParts, value: Any, operator: str | None = None) -> bool:
    """Whether one value meets one rule. A missing value meets only `present: false`."""
    missing = value is None or (isinstance(value, str) and value.strip() == "")
    operator = operator or rule.operator
    if operator == "present":
        return (not missing) == rule.present
    if missing:
        return False
    if operator == "equals":
        return _equal(rule.equals, value)
    if operator == "in":
        return any(_equal(option, value) for option in rule.in_ or [])
    number = _number(value)
    if number is None:
        return False
    bound = rule.min if operator == "min" else rule.max
    assert bound is not None
    return number >= bound if operator == "min" else number <= bound


def _equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool):
        try:
            return parse_flag(value) is expected
        except ValueError:
            return False
    if isinstance(expected, int | float):
        return _number(value) == expected
    return str(value).strip().casefold() == str(expected).strip().casefold()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def numeric_fields(rules: Sequence[Rule]) -> set[str]:
    """Columns that rules compare as numbers, so imports can reject non-numbers in them."""
    return {rule.field for rule in rules if rule.operator in ("min", "max")}


class RuleParts(NamedTuple):
    """What checking a rule reads of it, without pydantic: the form an import's reader process
    is sent (its start-up would otherwise import the definition's models, BENCHMARKS.md)."""

    field: str
    operator: str
    described: str  # Rule.describe(): the key a failed rule is stored under
    equals: Any
    in_: list[Any] | None
    min: float | None
    max: float | None
    present: bool | None

    @classmethod
    def of(cls, rule: Rule | RuleParts) -> RuleParts:
        if isinstance(rule, RuleParts):
            return rule
        parts = (rule.equals, rule.in_, rule.min, rule.max, rule.present)
        return cls(rule.field, rule.operator, rule.describe(), *parts)

    def describe(self) -> str:
        return self.described


class CompiledRules:
    """A definition's rules, with each rule's operator and label worked out once, not per row.

    Rules name few fields, and those take few values (a role, an age, a flag), so the outcome
    for each combination of values is remembered: a million rows cost a million look-ups, not
    four million rule checks. `holds` is pure, so a remembered outcome is the same outcome.
    """

    _MEMO_LIMIT = 1 << 16  # a rule on a field with very many values: stop remembering

    def __init__(self, rules: Sequence[Rule | RuleParts]) -> None:
        self._rules = [(rule, rule.operator, rule.describe()) for rule in rules]
        self.fields: tuple[str, ...] = tuple(dict.fromkeys(rule.field for rule in rules))
        # Keyed by the values and their types: True == 1, but `min` and `max` tell them apart.
        self._memo: dict[tuple[tuple[Any, ...], tuple[type, ...]], str | None] = {}

    def first_failure(self, values: Mapping[str, Any]) -> str | None:
        """The label of the first rule not met (`age min 18.0`), or None when all hold."""
        return self.failure_of(tuple(values.get(name) for name in self.fields))

    def failure_of(self, key: tuple[Any, ...]) -> str | None:
        """`first_failure` given the values of `fields`, in that order."""
        typed = (key, tuple(map(type, key)))
        try:
            return self._memo[typed]
        except KeyError:
            pass
        except TypeError:  # a value that cannot be a key (a list): check it every time
            return self._check(key)
        failure = self._check(key)
        if len(self._memo) < self._MEMO_LIMIT:
            self._memo[typed] = failure
        return failure

    def _check(self, key: tuple[Any, ...]) -> str | None:
        values = dict(zip(self.fields, key, strict=True))
        for rule, operator, label in self._rules:
            if not holds(rule, values.get(rule.field), operator):
                return label
        return None
