"""The `nudge` command: parses arguments, calls services, prints results. No logic lives here."""

from __future__ import annotations

import click

from nudge.cli.analysis import analyse, outcomes_group
from nudge.cli.demo import demo
from nudge.cli.dispatching import dispatch, worker
from nudge.cli.enrolment import assignments_group, balance, enrol, hearings
from nudge.cli.letters import letters_group
from nudge.cli.messages import messages_group
from nudge.cli.milestones import milestones_group
from nudge.cli.purge import purge
from nudge.cli.runtime import NudgeGroup, Runtime, pass_runtime
from nudge.cli.trials import trial
from nudge.cli.users import users
from nudge.db import make_engine, upgrade


@click.group(cls=NudgeGroup)
@click.version_option(package_name="nudge")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Nudge: randomised trials of court-date reminders for victims and witnesses."""
    runtime = ctx.ensure_object(Runtime)
    ctx.call_on_close(runtime.close)


@main.group(cls=NudgeGroup)
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_runtime
def db_upgrade(runtime: Runtime) -> None:
    """Apply every pending migration.

    In production this is each release's own step, run before anything else; in development
    every other command, and the web app, also upgrade the database by themselves.
    """
    changed = upgrade(make_engine(runtime.settings.database_url))
    click.echo("database upgraded" if changed else "database already up to date")


for command in (
    trial,
    enrol,
    hearings,
    milestones_group,
    assignments_group,
    balance,
    users,
    messages_group,
    letters_group,
    dispatch,
    worker,
    outcomes_group,
    analyse,
    demo,
    purge,
):
    main.add_command(command)

__all__ = ["main"]
