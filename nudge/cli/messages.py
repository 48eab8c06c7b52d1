"""`nudge messages preview`: what an arm's participants will receive."""

from __future__ import annotations

import textwrap

import click

from experiments import trials
from messages.journey import JourneyStage, JourneyStep, arm_journey
from messages.preview import preview_arm
from nudge.cli.runtime import TEXT, NudgeGroup, Runtime, pass_runtime


@click.group("messages", cls=NudgeGroup)
def messages_group() -> None:
    """The messages a trial sends."""


@messages_group.command("preview")
@click.argument("trial_id", type=TEXT)
@click.option("--arm", "arm_id", type=TEXT, required=True, help="The arm whose messages to show.")
@click.option(
    "--language",
    default="en",
    show_default=True,
    help="The participant's language (a template without it falls back to en).",
)
@pass_runtime
def preview(runtime: Runtime, trial_id: str, arm_id: str, language: str) -> None:
    """Render every message of an arm for a sample participant, with size and cost."""
    with runtime.session() as session:
        definition = trials.current_definition(session, trials.get_trial(session, trial_id))
    previews = preview_arm(definition, arm_id, language)
    currency = definition.costs.currency
    if not previews:
        click.echo(f"arm '{arm_id}' sends no messages")
        return
    arm = next(a for a in definition.arms if a.id == arm_id)
    _echo_journey(arm_journey(definition, arm))
    for item in previews:
        click.echo(
            f"{item.position}. {item.channel.upper()} {item.when}: template {item.template} "
            f"({item.language})"
        )
        if item.channel == "sms":
            click.echo(
                f"   {item.encoding}, {item.characters} characters, "
                f"{item.segments} segment(s), {currency} {item.cost:.2f}"
            )
        else:
            click.echo(f"   letter, {currency} {item.cost:.2f}")
        for line in item.text.splitlines() or [""]:
            click.echo(textwrap.indent(line, "   | ") if line else "   |")
        click.echo()
    total = sum(item.cost for item in previews if not item.event)
    events = [item for item in previews if item.event]
    click.echo(f"cost per participant: {currency} {total:.2f}")
    if events:
        each = ", ".join(f"{item.template} {currency} {item.cost:.2f}" for item in events)
        click.echo(f"and for those it happens to, each event text: {each}")


def _echo_journey(stages: tuple[JourneyStage, ...]) -> None:
    """The arm's messages in the order a case meets them, each anchor marked where it falls."""
    click.echo("journey (messages in the order a case meets them):")
    for stage in stages:
        for step in stage.before:
            click.echo(_step_line(step))
        click.echo(f"   -- {stage.title} --")
        for step in stage.after:
            click.echo(_step_line(step))
    click.echo()


def _step_line(step: JourneyStep) -> str:
    channel = "SMS" if step.channel == "sms" else "letter"
    return (
        f"   {step.when}: {channel} {step.template} ({', '.join(step.languages)}), "
        f"message {step.position}"
    )
