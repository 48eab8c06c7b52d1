"""Human labels for what the results name: arms, outcomes, columns and exclusion reasons. Pure.

Pages, sentences and downloads name things by their labels, never by their ids: "attendance",
not "attended"; "Business as usual", not "control". Each label comes from the trial's YAML where
the researcher gave one (`title:` for arms, `label:` elsewhere) and otherwise from a readable
default made from the id: "prior_fta" reads "prior fta", and an eligibility rule is said in
words from its column's label ("age under 18 or not recorded", "role not victim or witness").
See docs/trial-definition.md, "Labels".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from experiments.definition import Rule, Scalar, TrialDefinition


def humanise(identifier: str) -> str:
    """`prior_fta` → "prior fta": an id read aloud, for when no label was given."""
    return " ".join(identifier.replace("_", " ").replace("-", " ").split())


def listed(words: Iterable[str], conjunction: str = "and") -> str:
    """ "a", "a and b", "a, b and c"."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _value(value: Scalar) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Labels:
    """The labels of one trial definition."""

    definition: TrialDefinition

    @classmethod
    def of(cls, definition: TrialDefinition) -> Labels:
        return cls(definition)

    def arm(self, arm_id: str) -> str:
        """The arm's title, as the researcher wrote it: "Practical information"."""
        return next((a.title for a in self.definition.arms if a.id == arm_id), humanise(arm_id))

    def outcome(self, outcome_id: str) -> str:
        """The outcome as a noun for sentences: "attendance" (as written, else the id read
        aloud: "attended")."""
        spec = next((o for o in self.definition.outcomes if o.id == outcome_id), None)
        return spec.label if spec is not None and spec.label else humanise(outcome_id)

    def column(self, name: str) -> str:
        """A participant column (covariate, stratum, subgroup, rule field) by its label."""
        column = self.definition.analysis.columns.get(name)
        return column.label if column is not None and column.label else humanise(name)

    def columns(self, names: Iterable[str]) -> str:
        """Several columns in a sentence: "age band, vulnerable and previous failure to attend"."""
        return listed(self.column(name) for name in names)

    def exclusion(self, rule: Rule) -> str:
        """Why someone fails an eligibility rule, in words: the rule's label, or one made from
        the rule and its column's label. A missing value fails the rule too, and says so."""
        if rule.label:
            return rule.label
        column, operator = self.column(rule.field), rule.operator
        if operator == "in":
            return f"{column} not {listed((_value(v) for v in rule.in_ or []), 'or')}"
        if operator == "min":
            return f"{column} under {_value(rule.min or 0.0)} or not recorded"
        if operator == "max":
            return f"{column} over {_value(rule.max or 0.0)} or not recorded"
        if operator == "present":
            return f"{column} not recorded" if rule.present else f"{column} recorded"
        if rule.equals is False:
            return f"{column} set or not recorded"
        return f"{column} not {_value(rule.equals if rule.equals is not None else '')}"

    def inclusion(self, rule: Rule) -> str:
        """Who a rule keeps, in words, for an outcome's population: "role victim"."""
        if rule.label:
            return rule.label
        column, operator = self.column(rule.field), rule.operator
        if operator == "in":
            return f"{column} {listed((_value(v) for v in rule.in_ or []), 'or')}"
        if operator == "min":
            return f"{column} {_value(rule.min or 0.0)} or over"
        if operator == "max":
            return f"{column} {_value(rule.max or 0.0)} or under"
        if operator == "present":
            return f"{column} recorded" if rule.present else f"{column} not recorded"
        return f"{column} {_value(rule.equals if rule.equals is not None else '')}"

    def exclusion_reason(self, stored: str) -> str:
        """The reason in words for a failed rule as each participant stores it (`age min 18.0`,
        Rule.describe); a rule no longer in the definition is read aloud as stored."""
        rule = next(
            (r for r in self.definition.population.eligibility if r.describe() == stored), None
        )
        return self.exclusion(rule) if rule is not None else humanise(stored)

    def exclusion_order(self, stored: str) -> int:
        """Where a stored rule stands among the eligibility rules (the order they are checked)."""
        keys = [r.describe() for r in self.definition.population.eligibility]
        return keys.index(stored) if stored in keys else len(keys)
