"""Every message of an arm, rendered for the sample participant, with its size and cost."""

from __future__ import annotations

from dataclasses import dataclass

from experiments.definition import HEARING, MessageSpec, TrialDefinition
from messages.journey import offset_words
from messages.sample import sample_context
from messages.segments import count_segments
from messages.templates import choose_language, render
from nudge.errors import NotFound


@dataclass(frozen=True)
class PreviewedMessage:
    position: int
    channel: str
    template: str
    language: str
    days_before: int | None  # before the hearing, for a message timed so; else None
    at: str | None
    when: str  # when it goes, in words: "7 days before the hearing at 18:00"
    text: str
    encoding: str | None
    characters: int
    segments: int
    cost: float
    event: bool = False  # sent on an event (`on:`), only to those it happens to


def preview_arm(
    definition: TrialDefinition, arm_id: str, language: str = "en"
) -> list[PreviewedMessage]:
    """Render an arm's messages as a participant who reads `language` would get them."""
    arm = next((a for a in definition.arms if a.id == arm_id), None)
    if arm is None:
        raise NotFound(
            f"trial '{definition.id}' has no arm '{arm_id}' (arms: "
            f"{', '.join(a.id for a in definition.arms)})"
        )
    costs = definition.costs
    previews = []
    for position, spec in enumerate(arm.messages, start=1):
        texts = definition.templates[spec.template]
        chosen = choose_language(texts, language)
        days_before = spec.send.days_before if spec.send and spec.send.of == HEARING else None
        context = sample_context(definition, days_before=days_before or 0, language=chosen)
        text = render(str(texts[chosen]), context, channel=spec.channel)
        sizes: tuple[str | None, int, int, float]
        if spec.channel == "sms":
            count = count_segments(text)
            sizes = (
                count.encoding,
                count.characters,
                count.segments,
                count.segments * costs.sms_segment,
            )
        else:
            sizes = (None, len(text), 0, costs.letter)
        encoding, characters, segments, cost = sizes
        previews.append(
            PreviewedMessage(
                position,
                spec.channel,
                spec.template,
                chosen,
                days_before,
                spec.send.at if spec.send else None,
                when_sent(spec),
                text,
                encoding,
                characters,
                segments,
                cost,
                spec.on is not None,
            )
        )
    return previews


def when_sent(spec: MessageSpec) -> str:
    """When a message goes, in words: "7 days before the hearing at 18:00", "2 hours after
    the verdict milestone", "when the hearing moves"."""
    at = f" at {spec.send.at}" if spec.send and spec.send.at else ""
    return offset_words(spec) + at
