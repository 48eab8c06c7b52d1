"""`nudge interim look|list`: interim looks at a trial's comparison (analysis/interim.py)."""

from __future__ import annotations

import click

from analysis.analyse import analyse_trial
from analysis.interim import earlier_looks, look_words, record_look, take_look
from experiments import trials
from nudge.cli.runtime import TEXT, NudgeGroup, Runtime, pass_runtime


@click.group("interim", cls=NudgeGroup)
def interim_group() -> None:
    """Interim looks the analysis plan schedules, with their alpha-spending boundaries."""


@interim_group.command("look")
@click.argument("trial_id", type=TEXT)
@click.option("--dry-run", is_flag=True, help="Show the look without keeping it.")
@pass_runtime
def interim_look(runtime: Runtime, trial_id: str, dry_run: bool) -> None:
    """Look at TRIAL now: the boundary at the information reached and each arm's Z, kept as
    it was (a look spends alpha; --dry-run shows it without keeping it, and spends none)."""
    with runtime.session() as session:
        analysed = analyse_trial(session, trial_id)
        result = take_look(analysed.definition, analysed.report, earlier_looks(session, trial_id))
        if not dry_run:
            record_look(session, runtime.clock, trial_id, result, runtime.actor)
            session.commit()
        titles = {arm.id: arm.title for arm in analysed.definition.arms}
    lines = look_words(result, titles)
    if dry_run:
        lines.append("Dry run: this look was not kept and spent nothing.")
    click.echo("\n".join(lines))


@interim_group.command("list")
@click.argument("trial_id", type=TEXT)
@pass_runtime
def interim_list(runtime: Runtime, trial_id: str) -> None:
    """Every look kept for TRIAL, as it was when taken."""
    with runtime.session() as session:
        trial = trials.get_trial(session, trial_id)
        definition = trials.current_definition(session, trial)
        looks = earlier_looks(session, trial_id)
        titles = {arm.id: arm.title for arm in definition.arms}
        if not looks:
            click.echo(f"{trial_id}: no interim looks yet")
            return
        for look in looks:
            click.echo("\n".join(look_words(look, titles)) + "\n")
