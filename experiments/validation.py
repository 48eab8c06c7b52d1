"""Checks on a trial definition beyond its schema: the rules a sound design must keep."""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from experiments.characters import bidi_control
from experiments.columns import analysed_columns, column_types, described, modelled_columns
from experiments.definition import MAX_TOTAL_WEIGHT, Column, Rule, anchor_names
from experiments.loader import LoadedTrial
from experiments.phones import is_sender_number
from experiments.randomise import MAX_BLOCK_SIZE
from experiments.rows import ADDRESS_COLUMNS, CANONICAL_COLUMNS
from experiments.survey_checks import check_surveys
from nudge.errors import Problem
from nudge.limits import TEMPLATE_NAME

# A UK alphanumeric sender id: up to 11 letters, digits or spaces, at least one a letter.
SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}", re.ASCII)
NOTIFY_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
MAX_HELP_TEXT = 320  # two GSM-7 segments and a little: an answer, not a leaflet
CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def check_design(loaded: LoadedTrial) -> list[Problem]:
    """Every design problem in a schema-valid definition, in the order they appear in the file."""
    checks = (
        _timezone,
        _arms,
        _blocks,
        _unit_and_strata,
        _rule_bounds,
        _unique_names,
        _outcomes,
        _template_references,
        _send_times,
        _anchors,
        _quiet_hours,
        _sender,
        _bidi_controls,
        _declared_columns,
        _undeclared_columns,
        _milestones,
        _interim,
        _design_effect_size,
        check_surveys,
        _guardrails,
        _event_costs,
    )
    problems = [problem for check in checks for problem in check(loaded)]
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


def _timezone(loaded: LoadedTrial) -> Iterator[Problem]:
    name = loaded.definition.timezone
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        yield loaded.problem(
            ("timezone",),
            f"timezone: unknown timezone '{name}' (use an IANA name such as Europe/London)",
        )


def _arms(loaded: LoadedTrial) -> Iterator[Problem]:
    arms = loaded.definition.arms
    controls = [i for i, arm in enumerate(arms) if arm.control]
    if len(controls) != 1:
        where = ("arms", controls[1]) if len(controls) > 1 else ("arms",)
        yield loaded.problem(
            where,
            f"arms: exactly one arm must have control: true (found {len(controls)})",
        )
    for i, arm in enumerate(arms):
        if arm.weight <= 0:
            yield loaded.problem(
                ("arms", i, "weight"),
                f"arms[{i}].weight: must be greater than 0 (got {arm.weight})",
            )
    total = loaded.definition.total_weight
    if total > MAX_TOTAL_WEIGHT:
        heaviest = max(range(len(arms)), key=lambda i: arms[i].weight)
        yield loaded.problem(
            ("arms", heaviest, "weight"),
            f"arms[{heaviest}].weight: the arm weights add up to {total}, more than "
            f"{MAX_TOTAL_WEIGHT}; write the ratio in its smallest whole numbers (2 and 1, not "
            "200 and 100)",
        )


def _blocks(loaded: LoadedTrial) -> Iterator[Problem]:
    definition = loaded.definition
    seed = definition.randomisation.seed
    if seed is not None and not 0 <= seed < 2**64:
        yield loaded.problem(
            ("randomisation", "seed"),
            f"randomisation.seed: {seed} is not a whole number from 0 to 2^64 - 1; choose "
            "one in that range, or leave seed out and one is drawn at launch",
        )
    sizes = definition.randomisation.block_sizes
    if sizes is None:
        return
    if definition.randomisation.method == "simple":
        yield loaded.problem(
            ("randomisation", "block_sizes"),
            "randomisation.block_sizes: simple randomisation has no blocks; remove block_sizes "
            "or use method: permuted_blocks",
        )
        return
    total = definition.total_weight
    if not sizes:
        yield loaded.problem(
            ("randomisation", "block_sizes"),
            "randomisation.block_sizes: list at least one block size",
        )
    for i, size in enumerate(sizes):
        where = ("randomisation", "block_sizes", i)
        if total > 0 and (size <= 0 or size % total):
            yield loaded.problem(
                where,
                f"randomisation.block_sizes[{i}]: {size} is not a multiple of the total arm "
                f"weight {total}",
            )
        elif size > MAX_BLOCK_SIZE:
            yield loaded.problem(
                where,
                f"randomisation.block_sizes[{i}]: {size} is larger than {MAX_BLOCK_SIZE}; a "
                "block that size is never balanced in practice (use a few small multiples of "
                "the total weight)",
            )
        elif size in sizes[:i]:
            yield loaded.problem(
                where,
                f"randomisation.block_sizes[{i}]: {size} is listed twice; list each size once",
            )


def _unit_and_strata(loaded: LoadedTrial) -> Iterator[Problem]:
    """A unit or stratum is one value per row: an address line is part of a list, not one."""
    population = loaded.definition.population
    if population.unit in ADDRESS_COLUMNS:
        yield loaded.problem(
            ("population", "unit"),
            f"population.unit: '{population.unit}' is part of the address, which is not a "
            "unit; use participant, case, or a column such as court or postcode",
        )
    for i, name in enumerate(population.strata):
        if name in ADDRESS_COLUMNS:
            yield loaded.problem(
                ("population", "strata", i),
                f"population.strata[{i}]: '{name}' is part of the address; stratify by a "
                "column such as court or postcode",
            )


def _rule_bounds(loaded: LoadedTrial) -> Iterator[Problem]:
    """A bound that is not a finite number (.nan, .inf) silently passes or fails everyone."""
    definition = loaded.definition
    rules: list[tuple[tuple[str | int, ...], str, Rule]] = [
        (("population", "eligibility", i), f"population.eligibility[{i}]", rule)
        for i, rule in enumerate(definition.population.eligibility)
    ]
    rules += [
        (("outcomes", i, "population"), f"outcomes[{i}].population", o.population)
        for i, o in enumerate(definition.outcomes)
        if o.population is not None
    ]
    for path, label, rule in rules:
        operator = rule.operator
        values: list[object] = (
            list(rule.in_ or []) if operator == "in" else [getattr(rule, operator)]
        )
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            key = "in" if operator == "in" else operator
            yield loaded.problem(
                (*path, key),
                f"{label}.{key}: {values[0] if len(values) == 1 else values} is not a finite "
                "number; give a real bound such as 18",
            )


def _unique_names(loaded: LoadedTrial) -> Iterator[Problem]:
    d = loaded.definition
    yield from _duplicates(loaded, ("arms",), [a.id for a in d.arms], "id", "arm id")
    yield from _duplicates(loaded, ("outcomes",), [o.id for o in d.outcomes], "id", "outcome id")
    yield from _duplicates(
        loaded, ("analysis", "covariates"), d.analysis.covariates, None, "covariate"
    )
    yield from _duplicates(loaded, ("population", "strata"), d.population.strata, None, "stratum")
    yield from _duplicates(
        loaded, ("analysis", "subgroups"), d.analysis.subgroups, None, "subgroup"
    )


def _duplicates(
    loaded: LoadedTrial, where: tuple[str, ...], names: Iterable[str], key: str | None, what: str
) -> Iterator[Problem]:
    seen: Counter[str] = Counter()
    for i, name in enumerate(names):
        seen[name] += 1
        if seen[name] == 2:
            path: tuple[str | int, ...] = (*where, i, key) if key else (*where, i)
            label = ".".join(where) + f"[{i}]" + (f".{key}" if key else "")
            yield loaded.problem(path, f"{label}: {what} '{name}' is used more than once")


def _outcomes(loaded: LoadedTrial) -> Iterator[Problem]:
    outcomes = loaded.definition.outcomes
    primary = [i for i, outcome in enumerate(outcomes) if outcome.primary]
    if len(primary) > 1:
        yield loaded.problem(
            ("outcomes", primary[1], "primary"),
            f"outcomes[{primary[1]}].primary: only one outcome can be primary "
            f"('{outcomes[primary[0]].id}' already is)",
        )
    if not primary and len(outcomes) > 1:
        yield loaded.problem(
            ("outcomes",),
            "outcomes: mark the pre-registered primary outcome with primary: true",
        )


def _template_references(loaded: LoadedTrial) -> Iterator[Problem]:
    templates = loaded.definition.templates
    for i, arm in enumerate(loaded.definition.arms):
        for j, message in enumerate(arm.messages):
            if message.template not in templates:
                known = ", ".join(sorted(templates)) or "none defined"
                yield loaded.problem(
                    ("arms", i, "messages", j, "template"),
                    f"arms[{i}].messages[{j}].template: unknown template '{message.template}' "
                    f"(templates: {known})",
                )
    longest = TEMPLATE_NAME
    for name, languages in templates.items():
        if len(name) > longest:
            yield loaded.problem(
                ("templates", name),
                f"templates.{name[:20]}...: a template name is at most {longest} characters",
                key=True,
            )
        if "en" not in languages:
            yield loaded.problem(
                ("templates", name),
                f"templates.{name}: an English text (en) is required; it is the fallback for "
                "every other language",
            )
        for language in languages:
            if not LANGUAGE.match(language):
                yield loaded.problem(
                    ("templates", name, language),
                    f"templates.{name}.{language}: '{language}' is not a language code such "
                    "as en or cy",
                    key=True,
                )


def _send_times(loaded: LoadedTrial) -> Iterator[Problem]:
    for i, arm in enumerate(loaded.definition.arms):
        for j, message in enumerate(arm.messages):
            if message.send is None:
                continue
            at = message.send.at
            path = ("arms", i, "messages", j, "send", "at")
            label = f"arms[{i}].messages[{j}].send.at"
            if message.channel == "letter" and at is not None:
                yield loaded.problem(
                    path,
                    f"{label}: a letter has no send time (it is posted to arrive in time); "
                    "remove 'at'",
                )
            elif at is not None and message.send.in_hours:
                yield loaded.problem(
                    path,
                    f"{label}: {message.send.offset_key} counts hours from the moment itself; "
                    "remove 'at', or count in days (days_before, days_after) to send at a time",
                )
            elif at is not None and not CLOCK_TIME.match(at):
                yield loaded.problem(path, f"{label}: '{at}' is not a 24-hour time like \"18:00\"")


def _anchors(loaded: LoadedTrial) -> Iterator[Problem]:
    """`of:` and `on: milestone NAME` name the hearing or a declared milestone; a letter is
    posted days before or after one (events and hours are for texts)."""
    names = anchor_names(loaded.definition)
    for i, arm in enumerate(loaded.definition.arms):
        for j, message in enumerate(arm.messages):
            where = ("arms", i, "messages", j)
            label = f"arms[{i}].messages[{j}]"
            key = "send" if message.send is not None else "on"
            if message.anchor not in names:
                path = (*where, "send", "of") if message.send is not None else (*where, "on")
                what = f"send.of: '{message.anchor}'" if key == "send" else f"on: '{message.on}'"
                yield loaded.problem(
                    path,
                    f"{label}.{what} is not the hearing or a milestone the trial declares "
                    f"(it can use: {', '.join(names)}); declare it under milestones",
                )
            if message.channel != "letter":
                continue
            if message.on is not None:
                yield loaded.problem(
                    (*where, "on"),
                    f"{label}.on: a letter takes days to arrive, so it is not sent on an event; "
                    "use channel: sms, or time it with send: {days_after: ..., of: ...}",
                )
            elif message.send is not None and message.send.in_hours:
                yield loaded.problem(
                    (*where, "send", message.send.offset_key),
                    f"{label}.send.{message.send.offset_key}: a letter is posted on a working "
                    "day, not at an hour; count in days (days_before, days_after)",
                )


def _quiet_hours(loaded: LoadedTrial) -> Iterator[Problem]:
    quiet = loaded.definition.sending.quiet_hours
    if quiet is None:
        return
    for end in ("start", "end"):
        value = getattr(quiet, end)
        if not CLOCK_TIME.match(value):
            yield loaded.problem(
                ("sending", "quiet_hours", end),
                f"sending.quiet_hours.{end}: '{value}' is not a 24-hour time like \"20:00\"",
            )
    if quiet.start == quiet.end:
        yield loaded.problem(
            ("sending", "quiet_hours"),
            "sending.quiet_hours: start and end are the same; remove quiet_hours for none",
        )


def _sender(loaded: LoadedTrial) -> Iterator[Problem]:
    """Texts come from a phone number or an alphanumeric sender id; HELP gets a short answer."""
    sending = loaded.definition.sending
    sender = sending.sms_from
    if sender is not None and not (SENDER_ID.fullmatch(sender) or is_sender_number(sender)):
        yield loaded.problem(
            ("sending", "sms_from"),
            f"sending.sms_from: '{sender}' is neither a phone number (such as +447700900123) "
            "nor a sender id (up to 11 letters, digits or spaces, at least one a letter)",
        )
    notify_sender = sending.notify_sms_sender_id
    if notify_sender is not None and not NOTIFY_ID.fullmatch(notify_sender):
        yield loaded.problem(
            ("sending", "notify_sms_sender_id"),
            f"sending.notify_sms_sender_id: '{notify_sender}' is not a Notify id; copy it from "
            "the text message sender's page in GOV.UK Notify (it looks like "
            "8b3aa916-ec82-434e-b0c5-d5d9b371d6a3)",
        )
    if len(sending.help_text) > MAX_HELP_TEXT:
        yield loaded.problem(
            ("sending", "help_text"),
            f"sending.help_text: {len(sending.help_text):,} characters; the reply to HELP is "
            f"one text, at most {MAX_HELP_TEXT} characters",
        )


def _bidi_controls(loaded: LoadedTrial) -> Iterator[Problem]:
    """No text, name or template of a definition may hold a bidirectional control character."""
    data = loaded.definition.model_dump(by_alias=True, exclude_defaults=True)
    data["templates"] = loaded.texts  # the letters' own files, not their {file: ...} references
    for path, text, key in _strings(data, ()):
        found = bidi_control(text)
        if found is not None:
            label = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)[1:]
            yield loaded.problem(
                path,
                f"{label}: contains the bidirectional control character {found[1]}, which can "
                "make a text or letter display differently from what is sent; remove it",
                key=key,
            )


def _strings(
    value: object, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str, bool]]:
    """Every string in a dumped definition with its path; True for a mapping's key."""
    if isinstance(value, str):
        yield path, value, False
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*path, key), key, True
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def _declared_columns(loaded: LoadedTrial) -> Iterator[Problem]:
    """Each entry of analysis.columns names a column the trial uses, with sound cut points."""
    definition = loaded.definition
    used = [*analysed_columns(definition), *(r.field for r in definition.population.eligibility)]
    for name, column in definition.analysis.columns.items():
        where = ("analysis", "columns", name)
        if name not in used:
            close = difflib.get_close_matches(name, used, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            yield loaded.problem(
                where,
                f"analysis.columns.{name}: '{name}' is not a covariate, stratum, subgroup or "
                f"rule field of this trial{hint}",
                key=True,
            )
        yield from _cut_points(loaded, name, column)


def _cut_points(loaded: LoadedTrial, name: str, column: Column) -> Iterator[Problem]:
    """Bins are the ascending, finite cut points of a numeric subgroup."""
    bins = column.bins
    path = ("analysis", "columns", name, "bins")
    label = f"analysis.columns.{name}.bins"
    if bins is None:
        if column.type == "numeric" and name in loaded.definition.analysis.subgroups:
            yield loaded.problem(
                path[:-1], f"analysis.columns.{name}: " + _needs_bins(name, "declared numeric")
            )
        return
    if column.type != "numeric":
        yield loaded.problem(
            path, f"{label}: only a numeric column is cut into levels ('{name}' is {column.type})"
        )
        return
    if not bins:
        yield loaded.problem(path, f"{label}: list at least one cut point, e.g. [25, 40]")
    for i, cut in enumerate(bins):
        if not math.isfinite(cut):
            yield loaded.problem((*path, i), f"{label}[{i}]: {cut} is not a finite number")
        elif i and math.isfinite(bins[i - 1]) and cut <= bins[i - 1]:
            yield loaded.problem(
                (*path, i),
                f"{label}[{i}]: cut points must be strictly ascending ({bins[i - 1]:g} then "
                f"{cut:g})",
            )
    if name not in loaded.definition.analysis.subgroups:
        yield loaded.problem(
            path,
            f"{label}: '{name}' is not a subgroup, so its cut points are not used",
            severity="warning",
        )


def _needs_bins(name: str, why: str) -> str:
    return (
        f"'{name}' is a numeric subgroup ({why}): give the cut points between its levels, "
        f"decided before the data are seen, e.g. {name}: {{type: numeric, bins: [25, 40]}} "
        "under analysis.columns (or declare it categorical)"
    )


def _undeclared_columns(loaded: LoadedTrial) -> Iterator[Problem]:
    """A covariate, stratum or subgroup without a declared type: say the type it gets and why."""
    definition = loaded.definition
    typed = column_types(definition)
    for name in modelled_columns(definition):
        typing = typed[name]
        if typing.declared:
            continue
        path, label = _first_mention(loaded, name)
        if typing.type == "numeric" and name in definition.analysis.subgroups:
            i = definition.analysis.subgroups.index(name)
            yield loaded.problem(
                ("analysis", "subgroups", i),
                f"analysis.subgroups[{i}]: " + _needs_bins(name, typing.reason),
            )
            continue
        yield loaded.problem(
            path,
            f"{label}: '{name}' has no declared type, so it is analysed as "
            f"{described(typing.type)} because {typing.reason}; declare it under "
            "analysis.columns, e.g. "
            f"{name}: {typing.type}",
            severity="warning",
        )


def _first_mention(loaded: LoadedTrial, name: str) -> tuple[tuple[str | int, ...], str]:
    """Where a column is first named as a covariate, stratum or subgroup, as a path and label."""
    definition = loaded.definition
    for where, names in (
        (("analysis", "covariates"), definition.analysis.covariates),
        (("population", "strata"), definition.population.strata),
        (("analysis", "subgroups"), definition.analysis.subgroups),
    ):
        if name in names:
            i = names.index(name)
            return (*where, i), ".".join(where) + f"[{i}]"
    return ("analysis",), "analysis"


def _milestones(loaded: LoadedTrial) -> Iterator[Problem]:
    """Each milestone once, each read from a column of its own that is not one of the export's."""
    milestones = loaded.definition.milestones
    yield from _duplicates(
        loaded, ("milestones",), [m.name for m in milestones], "name", "milestone"
    )
    columns: dict[str, str] = {}
    for i, milestone in enumerate(milestones):
        column = milestone.column
        if column is None:
            continue
        where, label = ("milestones", i, "column"), f"milestones[{i}].column"
        if column in CANONICAL_COLUMNS:
            yield loaded.problem(
                where,
                f"{label}: '{column}' is one of the export's own columns; name the column that "
                f"holds the date of {milestone.name}",
            )
        elif column in columns:
            yield loaded.problem(
                where,
                f"{label}: '{column}' already carries {columns[column]}; each milestone needs "
                "its own column",
            )
        columns.setdefault(column, milestone.name)


def _interim(loaded: LoadedTrial) -> Iterator[Problem]:
    interim = loaded.definition.analysis.interim
    if interim is None or interim.on == "primary":
        return
    known = [outcome.id for outcome in loaded.definition.outcomes]
    if interim.on not in known:
        yield loaded.problem(
            ("analysis", "interim", "on"),
            f"analysis.interim.on: '{interim.on}' is not an outcome of this trial; name one "
            f"of {', '.join(known)}, or write primary",
        )


def _design_effect_size(loaded: LoadedTrial) -> Iterator[Problem]:
    """The design's effect is stated in the primary outcome's terms: a rate for yes/no, a
    difference in means (with the SD) or a standardised one for the others."""
    plan, primary = loaded.definition.analysis, loaded.definition.primary_outcome
    means = {
        key: getattr(plan, key)
        for key in (
            "minimum_detectable_difference",
            "outcome_sd",
            "minimum_detectable_standardised",
        )
        if getattr(plan, key) is not None
    }
    rates = [k for k in ("baseline_rate", "minimum_detectable_effect") if getattr(plan, k)]
    instead = (
        "give minimum_detectable_difference (in the outcome's units) with outcome_sd, or "
        "minimum_detectable_standardised (in standard deviations)"
    )
    if primary.type == "binary":
        for key in means:
            yield loaded.problem(
                ("analysis", key),
                f"analysis.{key}: the primary outcome '{primary.id}' is yes/no; its design is "
                "a baseline_rate and a minimum_detectable_effect (proportions)",
            )
        return
    for key in rates:
        yield loaded.problem(
            ("analysis", key),
            f"analysis.{key}: the primary outcome '{primary.id}' is a {primary.type} outcome, "
            f"not yes/no, so its design is a difference in means: {instead}",
        )
    if "minimum_detectable_standardised" in means and len(means) > 1:
        yield loaded.problem(
            ("analysis", "minimum_detectable_standardised"),
            "analysis.minimum_detectable_standardised: give either it or "
            "minimum_detectable_difference with outcome_sd, not both",
        )
    elif len(means) == 1 and "minimum_detectable_standardised" not in means:
        (given,) = means
        missing = (
            "outcome_sd"
            if given == "minimum_detectable_difference"
            else ("minimum_detectable_difference")
        )
        yield loaded.problem(
            ("analysis", given),
            f"analysis.{given}: give {missing} too (a difference in means needs the outcome's "
            "standard deviation to size the trial)",
        )


def _guardrails(loaded: LoadedTrial) -> Iterator[Problem]:
    definition = loaded.definition
    if definition.guardrails is None:
        return
    outcomes = {o.id: o for o in definition.outcomes}
    control_texts = any(m.channel == "sms" for m in definition.control_arm.messages)
    control_letters = any(m.channel == "letter" for m in definition.control_arm.messages)
    seen: set[str] = set()
    for i, guardrail in enumerate(definition.guardrails.checks):
        where = ("guardrails", "checks", i)
        key = guardrail.metric if guardrail.outcome is None else f"outcome {guardrail.outcome}"
        if key in seen:
            yield loaded.problem(
                where,
                f"guardrails.checks[{i}]: a second guardrail on {key}; give each metric (and "
                "each outcome) one limit",
            )
        seen.add(key)
        if guardrail.outcome is not None:
            found = outcomes.get(guardrail.outcome)
            if found is None:
                yield loaded.problem(
                    (*where, "outcome"),
                    f"guardrails.checks[{i}].outcome: '{guardrail.outcome}' is not an outcome of "
                    f"this trial; name one of {', '.join(outcomes)}",
                )
            elif found.type != "binary":
                yield loaded.problem(
                    (*where, "outcome"),
                    f"guardrails.checks[{i}].outcome: '{guardrail.outcome}' is {found.type}; a "
                    "guardrail watches a yes/no outcome's rate",
                )
        texts = guardrail.metric in ("opt_out_rate", "failed_rate", "distress_rate")
        letters = guardrail.metric == "returned_letter_rate"
        if letters and guardrail.max_excess is not None and not control_letters:
            yield loaded.problem(
                (*where, "max_excess"),
                f"guardrails.checks[{i}]: control sends no letters, so its returned letters are "
                "nothing to compare with; give max (the rate no arm may exceed) instead",
            )
        if texts and guardrail.max_excess is not None and not control_texts:
            yield loaded.problem(
                (*where, "max_excess"),
                f"guardrails.checks[{i}]: control sends no texts, so its {guardrail.metric} is "
                "nothing to compare with; give max (the rate no arm may exceed) instead",
            )


def _event_costs(loaded: LoadedTrial) -> Iterator[Problem]:
    """A cost of an event belongs to a yes/no outcome of the trial: its events are counted."""
    outcomes = {o.id: o for o in loaded.definition.outcomes}
    for name in loaded.definition.costs.cost_of_event:
        where = ("costs", "cost_of_event", name)
        found = outcomes.get(name)
        if found is None:
            yield loaded.problem(
                where,
                key=True,
                message=f"costs.cost_of_event.{name}: '{name}' is not an outcome of this "
                f"trial; name one of {', '.join(outcomes)}",
            )
        elif found.type != "binary":
            yield loaded.problem(
                where,
                key=True,
                message=f"costs.cost_of_event.{name}: '{name}' is {found.type}; a cost of an event "
                "goes with a yes/no outcome, whose events can be counted",
            )
