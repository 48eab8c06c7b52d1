"""`nudge users`: accounts for the web app, as the admin pages manage them (nudge.staff)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import click
from sqlmodel import Session

from nudge import staff
from nudge.accounts import add_user
from nudge.cli.runtime import TEXT, NudgeGroup, Runtime, pass_runtime
from nudge.clock import Clock
from nudge.models import NATIONAL, ROLES, User
from nudge.organisations import all_organisations, organisation_by_slug

T = TypeVar("T")


@click.group(cls=NudgeGroup)
def users() -> None:
    """Accounts for the web app: organisation staff (admin, researcher, lead) or national."""


ORG = click.option(
    "--org",
    type=TEXT,
    help="The organisation (its short name); needed when there are several.",
)


@users.command("add")
@click.argument("email", type=TEXT)
@click.option(
    "--role",
    required=True,
    type=click.Choice((*ROLES, NATIONAL)),
    help="In the organisation: admin: its users; researcher: its trials and participant data; "
    "lead: its results only. national: every organisation's results, no personal data, no --org.",
)
@ORG
@pass_runtime
def users_add(runtime: Runtime, email: str, role: str, org: str | None) -> None:
    """Create an account; asks for the password (or reads one line when piped)."""
    if sys.stdin.isatty():
        password = click.prompt(
            "Password (12 characters or more)", hide_input=True, confirmation_prompt=True
        )
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with runtime.session() as session:
        user = add_user(session, runtime.clock, email, role, password, runtime.actor, org)
    where = f" in {org.strip()}" if org else ""
    click.echo(f"added {user.email} as {role}{where}")


@users.command("list")
@click.option("--org", type=TEXT, help="Only this organisation's accounts (its short name).")
@pass_runtime
def users_list(runtime: Runtime, org: str | None) -> None:
    """Every account: email, role in each organisation, state (active, invited, locked,
    disabled) and last login."""
    with runtime.session() as session:
        only = None
        if org:  # an unknown one is refused as every NudgeError is (NudgeGroup)
            found = organisation_by_slug(session, org)
            only = {found.id} if found.id is not None else set()
        rows = staff.accounts(session, runtime.clock, only)
        several = len(all_organisations(session)) > 1
    table = [("EMAIL", "ROLE", "STATE", "LAST LOGIN")]
    for row in rows:
        last = row.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if row.last_login_at else "never"
        roles = "national" if row.role == NATIONAL else _roles(row.memberships, several)
        table.append((row.email, roles, row.state.value, last))
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    for line in table:
        padded = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        click.echo("  ".join([*padded, line[3]]))


def _roles(memberships: tuple[tuple[str, str], ...], several: bool) -> str:
    """`researcher in avon, lead in wilts`: each organisation's role (with only one
    organisation on the platform, just the role)."""
    if not several and len(memberships) == 1:
        return memberships[0][1]
    return ", ".join(f"{role} in {slug}" for slug, role in memberships) or "no organisation"


@users.command("role")
@click.argument("email", type=TEXT)
@click.argument("role", type=TEXT)
@ORG
@pass_runtime
def users_role(runtime: Runtime, email: str, role: str, org: str | None) -> None:
    """Give an account another role (admin, researcher or lead) in an organisation, joining it
    if it was not a member; it applies at once."""
    done = _change(runtime, email, lambda s, c, u, a: staff.change_role(s, c, u, role, a, org))
    where = f" in {org.strip()}" if org else ""
    click.echo(f"{email.strip().lower()} is {'now' if done else 'already'} {role}{where}")


def _switch(name: str, change: Callable[[Session, Clock, User, str], bool], help: str) -> None:
    """`nudge users disable|enable EMAIL`: one command that turns an account off or on."""

    @users.command(name, help=help)
    @click.argument("email", type=TEXT)
    @pass_runtime
    def command(runtime: Runtime, email: str) -> None:
        done = _change(runtime, email, change)
        state = f"{name}d"
        click.echo(f"{email.strip().lower()} {'is now' if done else 'was already'} {state}")


_switch("disable", staff.disable, "Stop an account logging in and end its sessions at once.")
_switch("enable", staff.enable, "Let a disabled account log in again.")


@users.command("remove")
@click.argument("email", type=TEXT)
@click.option("--org", required=True, type=TEXT, help="The organisation (its short name).")
@pass_runtime
def users_remove(runtime: Runtime, email: str, org: str) -> None:
    """Take an account out of one organisation and end its sessions; it keeps any others."""
    with runtime.session() as session:
        user = staff.user_by_email(session, email)
        where = organisation_by_slug(session, org)
        staff.remove_from(session, runtime.clock, user, where, runtime.actor)
    click.echo(f"removed {user.email} from {where.slug}: its sessions have ended")


@users.command("unlock")
@click.argument("email", type=TEXT)
@pass_runtime
def users_unlock(runtime: Runtime, email: str) -> None:
    """End a lockout after too many failed logins, now rather than in 15 minutes."""
    cleared = _change(runtime, email, staff.unlock)
    click.echo(f"unlocked {email.strip().lower()} ({cleared} failed logins forgotten)")


@users.command("reset")
@click.argument("email", type=TEXT)
@pass_runtime
def users_reset(runtime: Runtime, email: str) -> None:
    """Print a one-time link (24 hours) for the account to set a new password with."""
    with runtime.session() as session:
        user = staff.user_by_email(session, email)
        link = staff.issue_link(session, runtime.clock, user, runtime.actor)
    base = runtime.settings.public_url
    expires = link.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    click.echo(f"set-password link for {link.email}, works once until {expires}:")
    click.echo(link.url(base or ""))
    if not base:
        click.echo("NUDGE_PUBLIC_URL is not set: put the site's address before the path", err=True)


def _change(runtime: Runtime, email: str, change: Callable[[Session, Clock, User, str], T]) -> T:
    """Apply one change to the account with this email, in one transaction."""
    with runtime.session() as session:
        user = staff.user_by_email(session, email)
        return change(session, runtime.clock, user, runtime.actor)
