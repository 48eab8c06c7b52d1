"""The type of each column the analysis reads: as the plan declares it, or inferred without data.

A column's type decides how the analysis treats it (docs/trial-definition.md, "Column types"):
a number entering the model as a straight line, a set of levels entering as dummies, or a
yes/no flag. Guessing that from the data let one stray "NA" turn a number into 62 levels, so
the type comes from the definition alone. An undeclared column is typed by what the
definition itself says about it, in this order:

1. a participant field Nudge knows (`role`, `language`, `court` are categorical;
   `contact_sms`, `contact_letter`, `safeguarding_flag` are flags);
2. a rule (eligibility or an outcome's population) with `min` or `max` compares it as a
   number: numeric;
3. a rule `equals: true` or `equals: false` reads it as yes or no: flag;
4. otherwise categorical, the safe choice: it assumes neither an order nor a straight line.

`nudge trial validate` warns about every undeclared covariate, stratum and subgroup, and launch
writes the completed types into the frozen version, so the analysis never re-infers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.definition import Column, ColumnType, Rule, TrialDefinition

KNOWN_FIELDS: dict[str, ColumnType] = {
    "role": "categorical",
    "language": "categorical",
    "court": "categorical",
    "court_name": "categorical",
    "contact_sms": "flag",
    "contact_letter": "flag",
    "safeguarding_flag": "flag",
}
# Columns that identify rows rather than describe people: never typed.
REFERENCES = ("participant_ref", "case_ref")


@dataclass(frozen=True)
class ColumnTyping:
    """One analysed column's type, whether the plan declared it, and why it has that type."""

    name: str
    column: Column
    declared: bool
    reason: str

    @property
    def type(self) -> ColumnType:
        return self.column.type


def analysed_columns(definition: TrialDefinition) -> list[str]:
    """Participant columns the analysis reads: strata, covariates, subgroups, outcome rules."""
    plan = definition.analysis
    names = [*definition.population.strata, *plan.covariates, *plan.subgroups]
    names += [o.population.field for o in definition.outcomes if o.population]
    return list(dict.fromkeys(n for n in names if n not in REFERENCES))


def modelled_columns(definition: TrialDefinition) -> list[str]:
    """Columns whose type the plan should declare: covariates, strata and subgroups."""
    plan = definition.analysis
    names = [*plan.covariates, *definition.population.strata, *plan.subgroups]
    return list(dict.fromkeys(n for n in names if n not in REFERENCES))


def column_types(definition: TrialDefinition) -> dict[str, ColumnTyping]:
    """Every analysed column's type: the declared one, else the one inferred (module docstring)."""
    declared = definition.analysis.columns
    typed = {}
    for name in analysed_columns(definition):
        if name in declared:
            typed[name] = ColumnTyping(name, declared[name], True, "declared in analysis.columns")
        else:
            kind, reason = inferred_type(definition, name)
            typed[name] = ColumnTyping(name, Column(type=kind), False, reason)
    return typed


def completed_columns(definition: TrialDefinition) -> dict[str, Column]:
    """The declared columns plus an inferred type for every other analysed one (for freezing)."""
    completed = dict(definition.analysis.columns)
    for name, typing in column_types(definition).items():
        completed.setdefault(name, typing.column)
    return dict(sorted(completed.items()))


def inferred_type(definition: TrialDefinition, name: str) -> tuple[ColumnType, str]:
    """The type an undeclared column gets from the definition alone, and the reason in words."""
    if name in KNOWN_FIELDS:
        kind = KNOWN_FIELDS[name]
        return kind, f"'{name}' is a participant field Nudge knows as {described(kind)}"
    rules = [r for r in _rules(definition) if r.field == name]
    for rule in rules:
        if rule.operator in ("min", "max"):
            return "numeric", f"the rule '{rule.describe()}' compares it as a number"
    for rule in rules:
        if rule.operator == "equals" and isinstance(rule.equals, bool):
            return "flag", f"the rule '{rule.describe()}' reads it as yes or no"
    return "categorical", (
        "nothing in the definition says otherwise (categorical is the safe choice: it assumes "
        "no order and no straight line)"
    )


def _rules(definition: TrialDefinition) -> list[Rule]:
    outcome_rules = [o.population for o in definition.outcomes if o.population]
    return [*definition.population.eligibility, *outcome_rules]


def described(kind: ColumnType) -> str:
    """The type in words: `analysed as a number`."""
    return {"numeric": "a number", "categorical": "categorical", "flag": "a yes/no flag"}[kind]
