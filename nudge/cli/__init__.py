"""The `nudge` command: parses arguments, calls services, prints results. No logic lives here.

Each subcommand's module is imported only when that subcommand is used (`Lazy`), so a command
loads what it needs and no more: `nudge dispatch` never waits for pandas or SciPy.
"""

from __future__ import annotations

import click

from nudge.cli.runtime import Lazy, LazyGroup, NudgeGroup, Runtime, pass_runtime

# One entry per subcommand: its name, where it lives, and the summary `nudge --help` shows.
COMMANDS = {
    "analyse": Lazy(
        "nudge.cli.analysis:analyse",
        "Analyse TRIAL in the database, or a flat file with --data FILE.csv --trial FILE.yaml.",
    ),
    "assignments": Lazy(
        "nudge.cli.enrolment:assignments_group",
        "The allocation record (personal data: researchers only).",
    ),
    "balance": Lazy(
        "nudge.cli.enrolment:balance",
        "Units and participants per arm and stratum, and the sample-ratio check.",
    ),
    "demo": Lazy(
        "nudge.cli.demo:demo",
        "Run the example trial end to end on a simulated clock, with fictional people.",
    ),
    "dispatch": Lazy(
        "nudge.cli.dispatching:dispatch", "Send every text that is due now, then exit."
    ),
    "enrol": Lazy(
        "nudge.cli.enrolment:enrol",
        "Import the people due at court from FILE into a live trial and randomise them.",
    ),
    "hearings": Lazy(
        "nudge.cli.enrolment:hearings", "Hearing dates and outcomes from court lists."
    ),
    "guardrails": Lazy(
        "nudge.cli.guardrails:guardrails_group",
        "Safety guardrails: opt-outs, failed texts, distress, outcomes, against their limits.",
    ),
    "interim": Lazy(
        "nudge.cli.interim:interim_group",
        "Interim looks the analysis plan schedules, with their alpha-spending boundaries.",
    ),
    "letters": Lazy("nudge.cli.letters:letters_group", "Printed letters."),
    "messages": Lazy("nudge.cli.messages:messages_group", "The messages a trial sends."),
    "milestones": Lazy(
        "nudge.cli.milestones:milestones_group",
        "Case milestones beside the hearing: charged, verdict and the others a trial declares.",
    ),
    "orgs": Lazy(
        "nudge.cli.orgs:orgs", "Organisations: each owns its trials, and its staff see only those."
    ),
    "outcomes": Lazy(
        "nudge.cli.outcomes:outcomes_group",
        "Observed outcomes (attendance, withdrawal) from court records.",
    ),
    "purge": Lazy(
        "nudge.cli.purge:purge",
        "Delete names, phone numbers, addresses and reply texts of a closed trial.",
    ),
    "replies": Lazy(
        "nudge.cli.replies:replies",
        "Replies sent to a number no trial sends from: list, read and place them.",
    ),
    "trial": Lazy(
        "nudge.cli.trials:trial",
        "Trial definitions: validate, create, launch, amend, close, list, show.",
    ),
    "users": Lazy(
        "nudge.cli.users:users",
        "Accounts for the web app: organisation staff (admin, researcher, lead) or national.",
    ),
    "worker": Lazy(
        "nudge.cli.dispatching:worker",
        "Keep sending: dispatch and housekeeping every few seconds, and each live trial's "
        "guardrails once a day, until stopped.",
    ),
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
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
    from nudge.db import make_engine, upgrade  # Alembic and SQLAlchemy: only for this command

    changed = upgrade(make_engine(runtime.settings.database_url))
    click.echo("database upgraded" if changed else "database already up to date")


__all__ = ["main"]
