"""Checks on a definition's `surveys:` beyond the schema: each question collects the answers
of one declared outcome, in words a reply can be read by, on a schedule every arm shares."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from experiments.definition import Outcome, Survey, anchor_names
from experiments.loader import LoadedTrial
from nudge.errors import Problem

CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
# Replies that keep their own meaning, mid-survey too (messages/replies.py): never an answer.
KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "start", "unstop", "help"}
    | {"confirm"}
)
SURVEY_TEMPLATES = "survey:"
ANSWER_TYPES = ("scale", "binary")


def check_surveys(loaded: LoadedTrial) -> Iterator[Problem]:
    """Every problem of the surveys, and of a template whose name a survey's texts would take."""
    definition = loaded.definition
    for name in definition.templates:
        if name.startswith(SURVEY_TEMPLATES):
            yield loaded.problem(
                ("templates", name),
                f"templates.{name}: names beginning '{SURVEY_TEMPLATES}' belong to the "
                "surveys' own texts; rename this template",
                key=True,
            )
    seen: Counter[str] = Counter()
    outcomes = {outcome.id: outcome for outcome in definition.outcomes}
    for i, survey in enumerate(definition.surveys):
        seen[survey.id] += 1
        if seen[survey.id] == 2:
            yield loaded.problem(
                ("surveys", i, "id"),
                f"surveys[{i}].id: survey '{survey.id}' is used more than once",
            )
        yield from _outcome(loaded, i, survey, outcomes)
        yield from _texts(loaded, i, survey)
        yield from _send(loaded, i, survey)
        yield from _timing(loaded, i, survey)


def _outcome(
    loaded: LoadedTrial, i: int, survey: Survey, outcomes: dict[str, Outcome]
) -> Iterator[Problem]:
    label = f"surveys[{i}]"
    outcome = outcomes.get(survey.outcome)
    if outcome is None:
        known = ", ".join(outcomes) or "none"
        yield loaded.problem(
            ("surveys", i, "outcome"),
            f"{label}.outcome: '{survey.outcome}' is not an outcome of the trial (outcomes: "
            f"{known}); declare the outcome its answers are, e.g. "
            "{id: confidence, type: scale, scale: {min: 1, max: 5}}",
        )
        return
    if outcome.type not in ANSWER_TYPES:
        yield loaded.problem(
            ("surveys", i, "outcome"),
            f"{label}.outcome: '{outcome.id}' is a {outcome.type} outcome; a survey's answers "
            "are a scale (type: scale) or yes/no words (a binary outcome)",
        )
        return
    if outcome.type == "binary" and not survey.words:
        yield loaded.problem(
            ("surveys", i),
            f"{label}: '{outcome.id}' is yes/no: list the words accepted and what each means, "
            "e.g. words: {en: {yes: true, no: false}, cy: {ie: true, na: false}}",
        )
    for language, words in survey.words.items():
        where = ("surveys", i, "words", language)
        if not LANGUAGE.match(language):
            yield loaded.problem(
                where, f"{label}.words.{language}: not a language code such as en or cy", key=True
            )
        for word, value in words.items():
            yield from _word(loaded, (*where, word), f"{label}.words.{language}", word)
            problem = _value_problem(outcome, value)
            if problem:
                yield loaded.problem((*where, word), f"{label}.words.{language}.{word}: {problem}")
        if outcome.type == "binary" and set(words.values()) != {True, False}:
            yield loaded.problem(
                where, f"{label}.words.{language}: give at least one word for yes and one for no"
            )


def _word(
    loaded: LoadedTrial, where: tuple[str | int, ...], label: str, word: str
) -> Iterator[Problem]:
    plain = " ".join(word.lower().split())
    if not plain or not any(c.isalpha() for c in plain):
        yield loaded.problem(
            where, f"{label}: '{word}' is not a word (a scale's numbers are read anyway)", key=True
        )
    elif plain.split()[0] in KEYWORDS:
        yield loaded.problem(
            where,
            f"{label}: '{word}' begins with a reply keyword, which keeps its meaning during a "
            "survey (STOP opts out at once); choose another word",
            key=True,
        )


def _value_problem(outcome: Outcome, value: bool | int) -> str | None:
    if outcome.type == "binary":
        return None if isinstance(value, bool) else "a yes/no outcome's words mean true or false"
    assert outcome.scale is not None
    if isinstance(value, bool) or not outcome.scale.min <= value <= outcome.scale.max:
        return f"a word means a point of the scale, {outcome.scale.min} to {outcome.scale.max}"
    return None


def _texts(loaded: LoadedTrial, i: int, survey: Survey) -> Iterator[Problem]:
    """The question, and the reminder's and the clarifying text if given: English required
    (every other language falls back to it), language codes only."""
    named = [("text", survey.text), ("clarify", survey.clarify)]
    if survey.reminder is not None:
        named.append(("reminder.text", survey.reminder.text))
    for key, texts in named:
        if texts is None:
            continue
        where: tuple[str | int, ...] = ("surveys", i, *key.split("."))
        if "en" not in texts:
            yield loaded.problem(
                where,
                f"surveys[{i}].{key}: an English text (en) is required; it is the fallback "
                "for every other language",
            )
        for language, text in texts.items():
            if not LANGUAGE.match(language):
                yield loaded.problem(
                    (*where, language),
                    f"surveys[{i}].{key}.{language}: not a language code such as en or cy",
                    key=True,
                )
            elif not text.strip():
                yield loaded.problem(
                    (*where, language), f"surveys[{i}].{key}.{language}: the text is blank"
                )


def _send(loaded: LoadedTrial, i: int, survey: Survey) -> Iterator[Problem]:
    send, label = survey.send, f"surveys[{i}].send"
    names = anchor_names(loaded.definition)
    if send.of not in names:
        yield loaded.problem(
            ("surveys", i, "send", "of"),
            f"{label}.of: '{send.of}' is not the hearing or a milestone the trial declares "
            f"(it can use: {', '.join(names)})",
        )
    if send.at is not None and send.in_hours:
        yield loaded.problem(
            ("surveys", i, "send", "at"),
            f"{label}.at: {send.offset_key} counts hours from the moment itself; remove 'at', "
            "or count in days",
        )
    elif send.at is not None and not CLOCK_TIME.match(send.at):
        yield loaded.problem(
            ("surveys", i, "send", "at"), f"{label}.at: '{send.at}' is not a 24-hour time"
        )


def _timing(loaded: LoadedTrial, i: int, survey: Survey) -> Iterator[Problem]:
    if survey.reminder is None:
        return
    open_hours = survey.closes.days_after_sent * 24
    if survey.reminder.after_hours >= open_hours:
        yield loaded.problem(
            ("surveys", i, "reminder", "after_hours"),
            f"surveys[{i}].reminder.after_hours: {survey.reminder.after_hours} hours is not "
            f"before the survey closes ({survey.closes.days_after_sent} days after it is sent); "
            "remind sooner or close later",
        )
