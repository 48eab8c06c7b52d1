"""`nudge guardrails check`: a trial's safety guardrails now (analysis/guardrails.py)."""

from __future__ import annotations

import click

from analysis.guardrails import run_guardrails
from experiments import trials
from nudge.cli.runtime import TEXT, NudgeGroup, Runtime, pass_runtime


@click.group("guardrails", cls=NudgeGroup)
def guardrails_group() -> None:
    """Safety guardrails: opt-outs, failed texts, distress, outcomes, against their limits."""


@guardrails_group.command("check")
@click.argument("trial_id", type=TEXT)
@pass_runtime
def guardrails_check(runtime: Runtime, trial_id: str) -> None:
    """Check TRIAL's guardrails now: every arm against every limit; a new breach is recorded,
    audited and mailed to the trial's contacts (the worker does this once a day)."""
    with runtime.session() as session:
        result = run_guardrails(session, runtime.clock, trial_id, runtime.settings, runtime.actor)
        definition = trials.current_definition(session, trials.get_trial(session, trial_id))
    titles = {arm.id: arm.title for arm in definition.arms}
    labels = {f"outcome:{o.id}": o.label or o.id for o in definition.outcomes}
    for finding in result.findings:
        click.echo(finding.words(titles, labels))
    if result.new:
        click.echo(f"{len(result.new)} new breach(es) recorded; mail: {result.mail}")
    else:
        click.echo("no new breach")
