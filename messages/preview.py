"""Every message of an arm, rendered for the sample participant, with its size and cost."""

from __future__ import annotations

from dataclasses import dataclass

from experiments.definition import TrialDefinition
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
    days_before: int
    at: str | None
    text: str
    encoding: str | None
    characters: int
    segments: int
    cost: float


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
        context = sample_context(definition, days_before=spec.send.days_before, language=chosen)
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
        previews.append(
            PreviewedMessage(
                position,
                spec.channel,
                spec.template,
                chosen,
                spec.send.days_before,
                spec.send.at,
                text,
                *sizes,
            )
        )
    return previews
