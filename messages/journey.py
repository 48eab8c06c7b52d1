"""An arm's whole journey: its messages in the order a case meets them, anchor by anchor.

Pure: a definition and an arm in, a tuple of stages out. `nudge messages preview` prints it and
the overview page draws it as a timeline, so both say the same thing.

The order of the anchors. The trial declares its milestones in the order a case reaches them
(`milestones:`), but not where the hearing falls among them. A case is decided at its hearing,
so the hearing goes just before the first milestone that ends a case (`verdict`,
messages/endings.py): `[charged, trial_listed, verdict, sentence]` reads charged, trial_listed,
the hearing, verdict, sentence. A trial that declares no ending milestone has its hearing last.

The order within an anchor: texts about the hearing moving or being vacated first (they can
come at any time before it), then the messages timed before it, furthest first, then the text
sent when a milestone is recorded, then the messages timed after it, nearest first. A day counts
as 24 hours when days and hours are compared; the local time `at` breaks ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from experiments.definition import HEARING, HEARING_EVENTS, Arm, MessageSpec, TrialDefinition
from messages.endings import ENDING_MILESTONES
from messages.schedule import DEFAULT_SMS_TIME

EVENT_WORDS = {
    "hearing_moved": "when the hearing moves",
    "hearing_vacated": "when the hearing is vacated, withdrawn or discontinued",
}


@dataclass(frozen=True)
class JourneyStep:
    """One message of the journey: when it goes, in words, and what it is."""

    position: int  # its place in the arm's `messages:` list, from 1, as the preview numbers it
    before: bool  # whether it comes before its anchor (a hearing's move or vacating does)
    when: str  # "7 days before the hearing, 18:00", "when the hearing moves"
    channel: str
    template: str
    languages: tuple[str, ...]  # the template's languages, English first


@dataclass(frozen=True)
class JourneyStage:
    """The messages timed from, or sent on, one anchor."""

    anchor: str  # "hearing" or a milestone's name
    title: str  # "The hearing", "Trial listed"
    steps: tuple[JourneyStep, ...]

    @property
    def before(self) -> tuple[JourneyStep, ...]:
        return tuple(step for step in self.steps if step.before)

    @property
    def after(self) -> tuple[JourneyStep, ...]:
        """The messages sent when the anchor is reached, or after it."""
        return tuple(step for step in self.steps if not step.before)


def anchor_order(milestones: Sequence[str]) -> list[str]:
    """The hearing and the declared milestones in the order a case meets them (module doc)."""
    endings = [i for i, name in enumerate(milestones) if name in ENDING_MILESTONES]
    place = min(endings) if endings else len(milestones)
    return [*milestones[:place], HEARING, *milestones[place:]]


def arm_journey(definition: TrialDefinition, arm: Arm) -> tuple[JourneyStage, ...]:
    """The arm's messages grouped by anchor, in the journey's order; anchors it sends nothing
    about are left out."""
    order = anchor_order(definition.milestone_names)
    numbered = list(enumerate(arm.messages, start=1))
    stages = []
    for anchor in order:
        mine = sorted(
            ((position, spec) for position, spec in numbered if spec.anchor == anchor),
            key=lambda item: _place(item[1]),
        )
        if mine:
            steps = tuple(_step(definition, position, spec) for position, spec in mine)
            stages.append(JourneyStage(anchor, _title(anchor), steps))
    return tuple(stages)


def step_words(spec: MessageSpec) -> str:
    """When a message goes, in words: "7 days before the hearing, 18:00", "2 hours after the
    verdict milestone", "when the hearing moves"."""
    words = offset_words(spec)
    if spec.send is None or spec.send.in_hours:
        return words
    if spec.channel == "letter":
        posted = "posted on the first working day from then" if spec.send.after else None
        return f"{words}, {posted or 'to arrive by then'}"
    return f"{words}, {spec.send.at or DEFAULT_SMS_TIME}"


def offset_words(spec: MessageSpec) -> str:
    """A message's offset from its anchor, or its event, without the time of day: "7 days
    before the hearing", "when the verdict milestone is recorded"."""
    anchor = anchor_words(spec.anchor)
    if spec.send is None:
        assert spec.on is not None
        return EVENT_WORDS.get(spec.on, f"when {anchor} is recorded")
    count, unit = spec.send.offset, "hour" if spec.send.in_hours else "day"
    side = "after" if spec.send.after else "before"
    return f"{count} {unit}{'' if count == 1 else 's'} {side} {anchor}"


def anchor_words(anchor: str) -> str:
    """An anchor inside a sentence: "the hearing", "the trial listed milestone"."""
    return "the hearing" if anchor == HEARING else f"the {anchor.replace('_', ' ')} milestone"


def _title(anchor: str) -> str:
    return "The hearing" if anchor == HEARING else anchor.replace("_", " ").capitalize()


def _step(definition: TrialDefinition, position: int, spec: MessageSpec) -> JourneyStep:
    written = definition.templates.get(spec.template, {})
    languages = tuple(sorted(written, key=lambda code: (code != "en", code)))
    before = spec.on in HEARING_EVENTS or (spec.send is not None and not spec.send.after)
    return JourneyStep(position, before, step_words(spec), spec.channel, spec.template, languages)


def _place(spec: MessageSpec) -> tuple[int, int, str]:
    """Where a message falls among its anchor's (module doc): a group, then a signed offset in
    hours, then the local time."""
    if spec.send is None:
        assert spec.on is not None
        return (0, HEARING_EVENTS.index(spec.on), "") if spec.on in HEARING_EVENTS else (2, 0, "")
    hours = spec.send.offset * (1 if spec.send.in_hours else 24)
    at = spec.send.at or ("" if spec.channel == "letter" else DEFAULT_SMS_TIME)
    return (3, hours, at) if spec.send.after else (1, -hours, at)
