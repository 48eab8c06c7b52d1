"""Checks on a trial definition beyond its schema: the rules a sound design must keep."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from experiments.loader import LoadedTrial
from nudge.errors import Problem

CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def check_design(loaded: LoadedTrial) -> list[Problem]:
    """Every design problem in a schema-valid definition, in the order they appear in the file."""
    checks = (
        _timezone,
        _arms,
        _blocks,
        _unique_names,
        _outcomes,
        _template_references,
        _send_times,
        _quiet_hours,
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


def _blocks(loaded: LoadedTrial) -> Iterator[Problem]:
    definition = loaded.definition
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
        if total > 0 and (size <= 0 or size % total):
            yield loaded.problem(
                ("randomisation", "block_sizes", i),
                f"randomisation.block_sizes[{i}]: {size} is not a multiple of the total arm "
                f"weight {total}",
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
    for name, languages in templates.items():
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
            at = message.send.at
            path = ("arms", i, "messages", j, "send", "at")
            label = f"arms[{i}].messages[{j}].send.at"
            if message.channel == "letter" and at is not None:
                yield loaded.problem(
                    path,
                    f"{label}: a letter has no send time (it is posted to arrive in time); "
                    "remove 'at'",
                )
            elif at is not None and not CLOCK_TIME.match(at):
                yield loaded.problem(path, f"{label}: '{at}' is not a 24-hour time like \"18:00\"")


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
