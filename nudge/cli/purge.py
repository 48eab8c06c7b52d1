"""`nudge purge TRIAL`: delete a closed trial's personal data, keep its analysis data."""

from __future__ import annotations

import click

from experiments.purge import purge_trial
from nudge.cli.runtime import TEXT, Runtime, pass_runtime


@click.command("purge")
@click.argument("trial_id", type=TEXT)
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@pass_runtime
def purge(runtime: Runtime, trial_id: str, dry_run: bool) -> None:
    """Delete names, phone numbers, addresses and reply texts of a closed trial.

    Keeps references, arms, strata, covariates, outcomes and message statuses, so
    `nudge analyse` gives the same results afterwards. Audited; running it again is harmless.
    """
    with runtime.session() as session:
        summary = purge_trial(session, runtime.clock, trial_id, runtime.actor)
        if dry_run:
            session.rollback()
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{trial_id}: {verb} the contact details of {summary.participants} participant(s), "
        f"the text of {summary.replies} repl(ies) and {summary.provider_errors} provider "
        f"error text(s); {summary.already_purged} participant(s) were already purged"
    )
    if not summary.changed:
        click.echo("nothing left to purge")
    if runtime.settings.sms_provider == "console" and not dry_run:
        click.echo(
            f"note: files outside the database are not touched: delete the console "
            f"provider's texts in {runtime.settings.outbox_dir}/ and any printed letters yourself"
        )
