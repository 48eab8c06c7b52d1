"""`nudge orgs`: the organisations (areas, services) that own trials and employ staff."""

from __future__ import annotations

import click
from sqlalchemy import func
from sqlmodel import col, select

from nudge.cli.runtime import TEXT, NudgeGroup, Runtime, pass_runtime
from nudge.models import Membership, Trial
from nudge.organisations import add_organisation, all_organisations, rename_organisation


@click.group(cls=NudgeGroup)
def orgs() -> None:
    """Organisations: each owns its trials, and its staff see only those."""


@orgs.command("add")
@click.argument("slug", type=TEXT)
@click.option("--name", required=True, type=TEXT, help="Its full name, as pages show it.")
@pass_runtime
def orgs_add(runtime: Runtime, slug: str, name: str) -> None:
    """Add an organisation with a short name (avon-somerset) and a full name."""
    with runtime.session() as session:
        made = add_organisation(session, runtime.clock, slug, name, runtime.actor)
    click.echo(f"added organisation {made.slug} ({made.name})")
    click.echo(f"next: nudge users add EMAIL --role admin --org {made.slug}")


@orgs.command("rename")
@click.argument("slug", type=TEXT)
@click.option("--name", required=True, type=TEXT, help="Its new full name.")
@pass_runtime
def orgs_rename(runtime: Runtime, slug: str, name: str) -> None:
    """Give an organisation a new full name (its short name stays)."""
    with runtime.session() as session:
        renamed = rename_organisation(session, runtime.clock, slug, name, runtime.actor)
    click.echo(f"{renamed.slug} is now called {renamed.name}")


@orgs.command("list")
@pass_runtime
def orgs_list(runtime: Runtime) -> None:
    """Every organisation: short name, trials, staff and full name."""
    with runtime.session() as session:
        found = all_organisations(session)
        trials: dict[int | None, int] = dict(
            session.exec(
                select(Trial.organisation_id, func.count()).group_by(col(Trial.organisation_id))
            ).all()
        )
        staff: dict[int | None, int] = dict(
            session.exec(
                select(Membership.organisation_id, func.count()).group_by(
                    col(Membership.organisation_id)
                )
            ).all()
        )
    if not found:
        click.echo("no organisations yet: add one with nudge orgs add SLUG --name NAME")
        return
    width = max(len("ORGANISATION"), *(len(o.slug) for o in found))
    click.echo(f"{'ORGANISATION':<{width}}  {'TRIALS':>6}  {'STAFF':>5}  NAME")
    for organisation in found:
        count, people = trials.get(organisation.id, 0), staff.get(organisation.id, 0)
        click.echo(f"{organisation.slug:<{width}}  {count:>6}  {people:>5}  {organisation.name}")
