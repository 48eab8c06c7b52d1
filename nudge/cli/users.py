"""`nudge users add`: accounts for the web app."""

from __future__ import annotations

import sys

import click

from nudge.accounts import add_user
from nudge.cli.runtime import TEXT, NudgeGroup, Runtime, pass_runtime
from nudge.models import ROLES


@click.group(cls=NudgeGroup)
def users() -> None:
    """Accounts for the web app (admin, researcher, lead)."""


@users.command("add")
@click.argument("email", type=TEXT)
@click.option(
    "--role",
    required=True,
    type=click.Choice(ROLES),
    help="admin: users; researcher: trials and participant data; lead: results only.",
)
@pass_runtime
def users_add(runtime: Runtime, email: str, role: str) -> None:
    """Create an account; asks for the password (or reads one line when piped)."""
    if sys.stdin.isatty():
        password = click.prompt(
            "Password (12 characters or more)", hide_input=True, confirmation_prompt=True
        )
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with runtime.session() as session:
        user = add_user(session, runtime.clock, email, role, password, runtime.actor)
    click.echo(f"added {user.email} as {user.role}")
