"""The words of a reproduction bundle's README: what each column is, and the primary model."""

from __future__ import annotations

from textwrap import wrap
from typing import Any

from analysis.pseudonymise import AnalysisColumn, AnalysisFile
from experiments.definition import Scale, TrialDefinition
from experiments.outcome_values import Wording, in_words

# Levels listed in the README before "and N more" (all of them are in model.json).
SHOWN_LEVELS = 12
WIDTH = 96


def column_descriptions(definition: TrialDefinition, analysis_file: AnalysisFile) -> str:
    """One paragraph per column of the analysis file: its name, what it holds, its type."""
    roles = _roles(definition)
    paragraphs = []
    for column in analysis_file.columns:
        text = f"{column.name}: {roles.get(column.name, 'a column the plan names')}; "
        text += _type(column)
        paragraphs.append("\n".join(wrap(text, WIDTH, subsequent_indent="    ")))
    return "\n".join(paragraphs)


def _stratum_words(definition: TrialDefinition) -> str:
    strata = definition.population.strata
    if definition.sites:
        within = f", {', '.join(strata)}" if strata else ""
        return f"the randomisation stratum (site{within})"
    return f"the randomisation stratum ({', '.join(strata)})" if strata else "no strata (one)"


def _roles(definition: TrialDefinition) -> dict[str, str]:
    unit = definition.population.unit
    strata = definition.population.strata
    plan = definition.analysis
    roles = {
        "participant_ref": "a random id standing for the participant's reference",
        "case_ref": "a random id standing for the case reference",
        "unit": f"the randomisation unit ({unit}), as the same random ids",
        "arm": "the arm the participant was randomised to",
        "stratum": _stratum_words(definition),
        "site": (
            "the participant's site (its organisation's short name): randomisation is "
            "stratified by site, and the primary outcome is also shown by site"
        ),
        "delivered": (
            "1 when at least one of their arm's messages reached them (a text delivered or a "
            "letter posted; survey questions, asked in every arm, do not count), else 0"
        ),
        "open_arms": (
            "the arms open to new participants when the participant was allocated (their ids, "
            "separated by commas), empty when every arm was open: an arm was excluded from "
            "enrolment while paused, so each arm is compared with control using only the "
            "people allocated while both were open"
        ),
        "cost": (
            f"what their arm's messages cost, in {definition.costs.currency} (survey questions "
            "not included)"
        ),
    }
    if unit not in ("participant", "case"):
        roles[unit] = f"the randomisation unit ({unit}) as random ids, the same as `unit`"
    for outcome in definition.outcomes:
        kind = "primary outcome" if outcome.id == definition.primary_outcome.id else "outcome"
        about = f" ({outcome.description})" if outcome.description else ""
        values = in_words(outcome, VALUES)
        roles[outcome.id] = f"the {kind}{about}: {values}, empty when not observed"
    named: dict[str, list[str]] = {}
    for role, names in (("stratum", strata), ("covariate", plan.covariates)):
        for name in names:
            named.setdefault(name, []).append(role)
    for name in plan.subgroups:
        named.setdefault(name, []).append("subgroup")
    for outcome in definition.outcomes:
        if outcome.population is not None:
            named.setdefault(outcome.population.field, []).append(
                f"the population of {outcome.id} ({outcome.population.describe()})"
            )
    for name, uses in named.items():
        roles.setdefault(name, ", ".join(dict.fromkeys(uses)))
    return roles


def _scale_values(scale: Scale) -> str:
    words = "".join(f", {p} {label}" for p, label in sorted(scale.labels.items()))
    return f"a scale, a whole number from {scale.min} to {scale.max}{words}"


# What an outcome's cells hold: '1 yes, 0 no', or its numbers (a scale's with its words).
VALUES = Wording(
    binary="1 yes, 0 no",
    count="a count, a whole number 0 or more",
    continuous="a number",
    scale=_scale_values,
)


def _type(column: AnalysisColumn) -> str:
    if column.kind in ("id", "text"):
        return "text."
    if column.kind == "numeric":
        return "numeric (an empty cell is missing)."
    shown = ", ".join(column.levels[:SHOWN_LEVELS])
    more = len(column.levels) - SHOWN_LEVELS
    if more > 0:
        shown += f" and {more} more (all in model.json)"
    return f"categorical; levels in order, the first the reference: {shown}."


def model_description(definition: TrialDefinition, model: dict[str, Any]) -> str:
    """The primary model in words and as the estimatr call reproduce.R makes."""
    terms = ["arm", *(["stratum"] if model["stratified"] else []), *model["covariates"]]
    call = f"lm_robust({model['outcome']} ~ {' + '.join(terms)}"
    call += ", clusters = unit" if model["clustered"] else ""
    call += f', se_type = "{model["se_type"]}", alpha = {model["alpha"]:g})'
    rule = definition.primary_outcome.population
    who = f"randomised participants with {rule.describe()}" if rule else "randomised participants"
    missing = {
        "drop": "participants with a missing covariate are left out (complete cases)",
        "indicator": (
            "a numeric covariate's missing values are filled with its mean among the analysed "
            "participants, with a 0/1 `name[missing]` term; a categorical covariate gets its "
            "own level (missing)"
        ),
    }[model["missing"]]
    errors = (
        f"CR2, clustered on the {definition.population.unit}, with Bell-McCaffrey degrees of "
        "freedom"
        if model["clustered"]
        else "HC2, with n - k degrees of freedom"
    )
    sentences = [
        f"Outcome {model['outcome']} (the primary outcome), among {who} whose outcome is "
        f"observed (complete cases): {model['analysed']:,} in Nudge's analysis.",
        f"The arm {model['arm']['control']} is the reference; each other arm is compared with "
        "it (a difference in proportions from a linear probability model).",
        f"Missing covariates (the plan's missing: {model['missing']}): {missing}.",
        f"Standard errors: {errors} (estimatr's defaults).",
        "A term constant among the analysed participants is left out. The terms are in this "
        "order so that an exactly redundant (aliased) column is dropped from the covariates "
        "first, then from the strata, never an arm.",
    ]
    if model["concurrent"]:
        sentences.insert(
            1,
            "An arm was excluded from enrolment while paused, so each arm is compared with "
            f"{model['arm']['control']} in a model of its own, among the people of the two arms "
            "allocated while both were open to new participants (the column open_arms); "
            "everything below applies within those people (the number above counts everyone "
            "analysed in any arm; nudge_primary.json gives each comparison's own).",
        )
    paragraphs = ["\n".join(wrap(s, WIDTH)) for s in sentences]
    return "\n\n".join(["    " + call, *paragraphs])
