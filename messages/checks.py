"""Checks on a definition's messages: every template renders, fits, and reveals nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from experiments.loader import LoadedTrial
from experiments.validation import check_design
from messages.letter_layout import unprintable
from messages.sample import longest_context, sample_context
from messages.segments import LOOKALIKES, count_segments
from messages.templates import TemplateProblem, render
from nudge.errors import Problem

# What the provider accepts in one text (Twilio: 10 segments, 1,600 characters).
MAX_SMS_SEGMENTS = 10
MAX_SMS_CHARACTERS = 1600
# Words that would tell anyone glancing at the phone what the message is about (safeguarding).
REVEALING = re.compile(
    r"\b(victims?|witness(es)?|offen[cs]es?|defendants?|accused|suspects?|crimes?|assault(ed)?|"
    r"rape|sexual|abuse|domestic|burglary|robbery|theft|murder|manslaughter|stalking|"
    r"harassment|violen(ce|t)|weapons?|knife|drugs?|fraud|"
    r"dioddefwr|dioddefwyr|tyst|tystion|trosedd|troseddau|diffynnydd)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SmsReport:
    """One SMS template in one language, as rendered for the sample participant."""

    template: str
    language: str
    encoding: str
    characters: int
    segments: int


@dataclass(frozen=True)
class ArmCost:
    """What every participant of an arm costs: its timed messages. Event texts (`on:`) go
    only to those whose hearing moves or is vacated, or whose milestone is recorded, so they
    are not in it: `event_segments` is what they cost in segments when they go, one each."""

    arm: str
    sms_segments: int
    letters: int
    cost: float
    event_segments: int = 0


@dataclass(frozen=True)
class MessageReport:
    problems: list[Problem]
    sms: list[SmsReport]
    costs: list[ArmCost]
    currency: str


def check_messages(loaded: LoadedTrial) -> MessageReport:
    """Render every template in every language; report SMS sizes and each arm's cost."""
    channels = _channels_by_template(loaded)
    problems: list[Problem] = []
    sms: list[SmsReport] = []
    for name, languages in loaded.texts.items():
        for language, text in languages.items():
            for channel in sorted(channels.get(name, {"sms"})):
                where = ("templates", name, language)
                try:
                    rendered = render(
                        text, sample_context(loaded.definition, language=language), channel=channel
                    )
                except TemplateProblem as exc:
                    problems.append(loaded.problem(where, f"templates.{name}.{language}: {exc}"))
                    continue
                if channel == "letter":
                    problems.extend(_letter_characters(loaded, where, text))
                if channel == "sms":
                    sms.append(_sms_report(name, language, rendered))
                    problems.extend(_sms_warnings(loaded, where, rendered))
                    problems.extend(_sms_too_long(loaded, where, text))
    for place, text in _survey_texts(loaded):
        language = str(place[-1])
        label = ".".join(str(step) for step in place[2:])
        survey = loaded.definition.surveys[int(place[1])]
        try:
            rendered = render(
                text, sample_context(loaded.definition, language=language), channel="sms"
            )
        except TemplateProblem as exc:
            problems.append(loaded.problem(place, f"surveys[{place[1]}].{label}: {exc}"))
            continue
        sms.append(_sms_report(f"survey:{survey.id}", language, rendered))
    for name in loaded.texts:
        if name not in channels:
            problems.append(
                loaded.problem(
                    ("templates", name),
                    f"templates.{name}: no arm sends this template",
                    key=True,
                    severity="warning",
                )
            )
    return MessageReport(
        sorted(problems, key=lambda p: (p.line or 0, p.column or 0)),
        sms,
        _arm_costs(loaded, sms),
        loaded.definition.costs.currency,
    )


def _survey_texts(loaded: LoadedTrial) -> list[tuple[tuple[str | int, ...], str]]:
    """Each survey's question and reminder texts, by where they are written: rendered as
    every text is, so a placeholder that does not exist is refused before launch."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for i, survey in enumerate(loaded.definition.surveys):
        reminder = survey.reminder.text if survey.reminder and survey.reminder.text else {}
        for key, texts in (("text", survey.text), ("reminder", reminder)):
            path: tuple[str | int, ...] = ("surveys", i, key)
            if key == "reminder":
                path = (*path, "text")
            found += [((*path, language), text) for language, text in texts.items()]
    return found


def _channels_by_template(loaded: LoadedTrial) -> dict[str, set[str]]:
    channels: dict[str, set[str]] = {}
    for arm in loaded.definition.arms:
        for message in arm.messages:
            channels.setdefault(message.template, set()).add(message.channel)
    return channels


def _sms_report(name: str, language: str, rendered: str) -> SmsReport:
    count = count_segments(rendered)
    return SmsReport(name, language, count.encoding, count.characters, count.segments)


def _sms_warnings(loaded: LoadedTrial, where: tuple[str, ...], rendered: str) -> Iterator[Problem]:
    label = f"templates.{where[1]}.{where[2]}"
    count = count_segments(rendered)
    if count.fixable:
        chars = ", ".join(
            f"'{c}' (use '{LOOKALIKES[c]}')" for c in sorted({c for _, c in count.stray})
        )
        yield loaded.problem(
            where,
            f"{label}: {chars} makes this SMS UCS-2: {count.segments} segment(s) of 70 "
            "characters instead of 160",
            severity="warning",
        )
    words = sorted({m.group(0).lower() for m in REVEALING.finditer(rendered)})
    if words:
        yield loaded.problem(
            where,
            f"{label}: the text says {', '.join(repr(w) for w in words)}; a reminder must not "
            "reveal the case or the person's part in it to someone who sees their phone",
            severity="warning",
        )


def _letter_characters(loaded: LoadedTrial, where: tuple[str, ...], text: str) -> Iterator[Problem]:
    """A letter prints only what its font has: an emoji would be a box or a stray glyph."""
    found = unprintable(text)
    if found is not None:
        index, what = found
        yield loaded.problem(
            where,
            f"templates.{where[1]}.{where[2]}: line {text.count(chr(10), 0, index) + 1} of the "
            f"letter has {what}; letters print in DejaVu Sans, so write it in words instead",
        )


def _sms_too_long(loaded: LoadedTrial, where: tuple[str, ...], text: str) -> Iterator[Problem]:
    """An SMS the provider would refuse once names and other values are at their longest."""
    language = where[2]
    longest = render(text, longest_context(loaded.definition, language=language), channel="sms")
    count = count_segments(longest)
    if count.segments > MAX_SMS_SEGMENTS or count.characters > MAX_SMS_CHARACTERS:
        yield loaded.problem(
            where,
            f"templates.{where[1]}.{language}: with names and other values at their longest "
            f"this SMS is {count.characters:,} characters in {count.segments} segments "
            f"({count.encoding}); the provider refuses more than {MAX_SMS_SEGMENTS} segments "
            f"or {MAX_SMS_CHARACTERS:,} characters, so shorten it",
        )


def _arm_costs(loaded: LoadedTrial, sms: list[SmsReport]) -> list[ArmCost]:
    segments = {r.template: r.segments for r in sms if r.language == "en"}
    costs = loaded.definition.costs
    result = []
    for arm in loaded.definition.arms:
        timed = [m for m in arm.messages if m.on is None]
        n_segments = sum(segments.get(m.template, 0) for m in timed if m.channel == "sms")
        letters = sum(1 for m in timed if m.channel == "letter")
        events = sum(segments.get(m.template, 0) for m in arm.messages if m.on is not None)
        cost = round(n_segments * costs.sms_segment + letters * costs.letter, 4)
        result.append(ArmCost(arm.id, n_segments, letters, cost, events))
    return result


@dataclass(frozen=True)
class CheckedDefinition:
    """A definition with every problem the schema, the design and the messages checks found."""

    loaded: LoadedTrial | None
    problems: list[Problem]
    report: MessageReport | None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return self.loaded is not None and not self.errors


def check_definition(result: LoadedTrial | list[Problem]) -> CheckedDefinition:
    """Run the design and message checks on what the loader returned."""
    if isinstance(result, list):
        return CheckedDefinition(None, result, None)
    problems = check_design(result)
    report = check_messages(result)
    everything = sorted([*problems, *report.problems], key=lambda p: (p.line or 0, p.column or 0))
    return CheckedDefinition(result, everything, report)
